"""The per-layer sign ROM."""

from amaranth import unsigned
from amaranth.lib.memory import Memory

from golden.signs import rom_words

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


def SignRom(cfg, signset):
    """A read-only ``Memory`` of ``layers*beats`` words of ``lanes`` bits (see
    :func:`sign_rom_words`). Read it through a registered read port: the address of beat ``c``
    of layer ``l`` is ``l*beats + c``. It maps to block RAM or LUT ROM."""
    return Memory(shape=unsigned(cfg.lanes), depth=cfg.layers * cfg.beats,
                  init=sign_rom_words(cfg, signset))
