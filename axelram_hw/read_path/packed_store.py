"""The packed, single-ported index store of the coordinate-serial read path (``lanes = 1``).

Organisation (``C = coords_per_word(cfg) = min(d, 16)``, ``W = words_per_key(cfg) = d / C``):

* **indices** — one :class:`~amaranth.lib.memory.Memory` named ``idx_noinit`` of ``t * W``
  words of ``C * b`` bits. Key ``slot`` occupies the words ``slot * W + w`` (address
  ``Cat(w, slot)``, no multiplier); word ``w`` holds coordinates ``w*C .. w*C + C - 1``, the
  index of coordinate ``w*C + p`` in bits ``p*b .. p*b + b - 1``. Sixteen coordinates make a
  word ``16 * b`` bits wide, exactly ``b`` iCE40 SPRAMs (16 bits each) for every ``b``; at
  d=128 a key is 8 words, so T = 2048 fills the 16K words of an SPRAM (b=3: 3 SPRAMs). A key
  of ``d < 16`` coordinates is one word of ``d * b`` bits.

  The memory is **single-ported**: its write port and its read port share one address
  signal, and the read enable is ``idx.en & ~we`` (never a read and a write in one clock) —
  the pattern Yosys ``synth_ice40 -spram`` maps to SB_SPRAM256KA. Its contents are **not
  initialised** (SPRAM powers up undefined, and the Verilog generator drops the initialiser of
  memories named ``*_noinit``): nothing may depend on the index words of a never-written slot.
* **norms** — a separate, zero-initialised memory of ``t`` norm words (block RAM; mantissa in
  the low ``norm_mant`` bits, exponent above), written with a key's last beat and read on its
  own port. A never-written slot has norm 0, and the scorer turns a zero norm into a zero
  score mantissa whatever that slot's index words hold.

**Reads come first.** The scorer reads a word (``idx.en``) or a norm (``norm.en``) in the
clock it needs it; a beat that would write (the last coordinate of a word; a key's last beat
also writes its norm) waits in such a clock: ``w.ready`` is ``~((idx.en | norm.en) &
word_end)``, a function of registers only. So a word or norm is never written and read in the
same clock (the norm memory is marked ``no_rw_check``: Yosys adds no collision logic), and the
scorer's timing does not depend on the writes. The scorer reads in at most two consecutive
clocks out of every ``C`` (a word; with a key's last word, its norm in the next clock), and a
word ends once in ``C >= 4`` beats, so a beat waits at most two clocks, only when the two line
up, and the write stream is never starved. Keys written on consecutive clocks are thereby seen
whole (see :class:`~axelram_hw.read_path.scorer_serial.SerialScorer`).

Writing: one beat, one coordinate, per clock. The store counts the beats of a key itself; the
first ``C - 1`` indices of a word wait in a shift register and the word is written in the
clock its last coordinate is accepted (that index straight from the payload, the address from
that beat's ``slot``), the norm with the key's last beat. Beats whose slot is ``>= t`` (only
when ``t`` is not a power of two) are counted, not written.

Reading: registered and not transparent: ``idx.word`` (``norm.word``) has the word read in
the previous clock and holds it until the clock after the next read, also across writes (the
SPRAM output does not change on a write); a word written in clock ``n`` is seen by reads from
``n + 1`` on.

``rst`` only returns the beat counter to 0 (a partly collected word is dropped); the memories
keep their contents.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from ..lib.checks import check_serial_config
from ..lib.interface import ReadPortSignature
from .interface import store_write_layout, stored_norm_layout

__all__ = ["PackedIndexStore", "coords_per_word", "words_per_key", "packed_word_layout"]

#: Coordinates per index word: one SPRAM (16 bits wide) per index bit.
_WORD_COORDS = 16


def coords_per_word(cfg):
    """Coordinates per packed index word: ``min(d, 16)``."""
    return min(cfg.d, _WORD_COORDS)


def words_per_key(cfg):
    """Packed index words per key: ``d / coords_per_word(cfg)`` (a power of two)."""
    return cfg.d // coords_per_word(cfg)


def packed_word_layout(cfg):
    """One packed index word: ``coords_per_word(cfg)`` indices of ``b`` bits, lowest first."""
    return data.ArrayLayout(unsigned(cfg.b), coords_per_word(cfg))


class PackedIndexStore(wiring.Component):
    """Index words in one single-ported (SPRAM-mappable) memory, norms in block RAM.

    Parameters
    ----------
    cfg : AxelramConfig
        ``lanes`` must be 1.

    Members
    -------
    w : In(stream.Signature(store_write_layout(cfg)))
        Key write beats, one coordinate each, ``d`` per key; ``slot`` on every beat, the norm
        used with the last one. Not ready only for a word's last beat in a clock with a read.
    idx : In(ReadPortSignature(range(t * words_per_key), packed_word_layout(cfg)))
        Index word read port: address ``slot * words_per_key + w``; ``en`` reads that word in
        this clock; ``word`` is the word read in the previous clock, held until the clock after
        the next read (Verilog ports ``idx_raddr``, ``idx_ren``, ``idx_rdata``).
    norm : In(ReadPortSignature(range(t), stored_norm_layout(cfg)))
        Norm word read port, likewise.

    Attributes
    ----------
    coords_per_word, words_per_key : int
        The packing (16 and ``d / 16`` for ``d >= 16``; ``d`` and 1 below).

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    ValueError
        If ``cfg.lanes`` is not 1.
    """

    def __init__(self, cfg):
        self.cfg = check_serial_config(self, cfg, "IndexStore")
        self.coords_per_word = coords_per_word(cfg)
        self.words_per_key = words_per_key(cfg)
        super().__init__({
            "w": In(stream.Signature(store_write_layout(cfg))),
            "idx": In(ReadPortSignature(range(cfg.t * self.words_per_key),
                                        packed_word_layout(cfg))),
            "norm": In(ReadPortSignature(range(cfg.t), stored_norm_layout(cfg))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        C = self.coords_per_word
        log2c = C.bit_length() - 1
        m = Module()

        m.submodules.idx_noinit = idx_mem = Memory(
            shape=packed_word_layout(cfg), depth=cfg.t * self.words_per_key, init=[])
        m.submodules.norm_mem = norm_mem = Memory(shape=stored_norm_layout(cfg), depth=cfg.t,
                                                  init=[], attrs={"no_rw_check": 1})

        # ---- write side: count coordinates, collect the first C - 1 indices of a word --------
        coord = Signal(range(cfg.d))  # coordinate of the next beat
        pack = Signal(data.ArrayLayout(unsigned(cfg.b), C - 1), reset_less=True)
        idx = self.w.p.idx[0]
        word_end = coord[:log2c] == C - 1
        key_end = coord == cfg.d - 1
        m.d.comb += self.w.ready.eq(~((self.idx.en | self.norm.en) & word_end))
        accept = self.w.valid & self.w.ready
        in_range = self.w.p.slot < cfg.t if (1 << cfg.addr_width) != cfg.t else 1
        with m.If(accept):
            m.d.sync += coord.eq(coord + 1)  # wraps at d (a power of two)
            m.d.sync += pack[C - 2].eq(idx)
            for k in range(C - 2):
                m.d.sync += pack[k].eq(pack[k + 1])
        we = Signal()
        m.d.comb += we.eq(accept & word_end & in_range)

        # ---- the single port: the word write, else the read (the write yields, see above) ----
        addr = Signal(range(cfg.t * self.words_per_key))
        m.d.comb += addr.eq(Mux(we, Cat(coord[log2c:], self.w.p.slot), self.idx.addr))
        wp = idx_mem.write_port()
        rp = idx_mem.read_port()
        m.d.comb += [
            wp.addr.eq(addr),
            wp.data.eq(Cat(pack, idx)),
            wp.en.eq(we),
            rp.addr.eq(addr),
            rp.en.eq(self.idx.en & ~we),
            self.idx.word.eq(rp.data),
        ]

        # ---- norms: block RAM, written with the last beat ------------------------------------
        nw = norm_mem.write_port()
        nr = norm_mem.read_port()
        m.d.comb += [
            nw.addr.eq(self.w.p.slot),
            nw.data.mant.eq(self.w.p.mant),
            nw.data.exp.eq(self.w.p.exp),
            nw.en.eq(accept & key_end & in_range),
            nr.addr.eq(self.norm.addr),
            nr.en.eq(self.norm.en),
            self.norm.word.eq(nr.data),
        ]
        return m
