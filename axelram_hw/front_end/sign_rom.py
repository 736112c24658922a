"""The per-layer sign ROM (or, with the macro's sign port, the sign register file)."""

from amaranth import unsigned
from amaranth.lib.memory import Memory

from golden.signs import rom_words

from ..lib.fifo import collision_free_memory

__all__ = ["sign_rom_words", "SignRom"]


def sign_rom_words(cfg, signset):
    """ROM contents: word ``layer*beats + c`` holds the ``lanes`` negate bits of beat ``c``
    (bit p set where coordinate ``c*lanes + p`` has sign -1)."""
    signset.check(cfg.d, cfg.layers)
    mask = (1 << cfg.lanes) - 1
    words = []
    for word in rom_words(signset):
        words += [(word >> (c * cfg.lanes)) & mask for c in range(cfg.beats)]
    return words


def SignRom(cfg, signset, *, writable=False):
    """A ``Memory`` of ``layers*beats`` words of ``lanes`` bits (see :func:`sign_rom_words`).

    Read it through a registered read port: the address of beat ``c`` of layer ``l`` is
    ``l*beats + c``. Read-only (the default) it maps to block RAM or LUT ROM. ``writable``: the
    same words are the initial contents of a memory the caller adds a write port to; it is a
    :func:`~axelram_hw.lib.fifo.collision_free_memory`, so the caller must never use read data
    from a clock in which the address read is being written (the macro's proof is in
    :meth:`~axelram_hw.macro.AxelramMacro._sign_writes`).
    """
    words = sign_rom_words(cfg, signset)
    if writable:
        return collision_free_memory(shape=unsigned(cfg.lanes), depth=cfg.layers * cfg.beats,
                                     init=words)
    return Memory(shape=unsigned(cfg.lanes), depth=cfg.layers * cfg.beats, init=words)
