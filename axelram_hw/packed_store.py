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
  signal, and the read enable is ``idx_req & ~we`` (never a read and a write in one clock) —
  the pattern Yosys ``synth_ice40 -spram`` maps to SB_SPRAM256KA. Its contents are **not
  initialised** (SPRAM powers up undefined, and the Verilog generator drops the initialiser of
  memories named ``*_noinit``): nothing may depend on the index words of a never-written slot.
* **norms** — a separate, zero-initialised memory of ``t`` norm words (block RAM; mantissa in
  the low ``norm_mant`` bits, exponent above), written with a key's last beat and read on its
  own port, but never in a clock with a norm write (``norm_req`` / ``norm_grant``), so a read
  never meets a write to the same word (the memory is marked ``no_rw_check``: Yosys adds no
  collision logic). A never-written slot has norm 0, and the scorer turns a zero norm into a
  zero score mantissa whatever that slot's index words hold.

Writing: ``w`` is always ready (one beat, one coordinate, per clock). The store counts the
beats of a key itself; the first ``C - 1`` indices of a word wait in a shift register and
the word is written in the clock its last coordinate is accepted (that index straight from
the payload, the address from that beat's ``slot``), the norm with the key's last beat. Beats
whose slot is ``>= t`` (only when ``t`` is not a power of two) are counted, not written.

Reading: the scorer holds ``idx_req`` high with ``idx_raddr``; the read happens in a clock
without a word write (``idx_grant`` high), so at most one clock later (writes come at most
once in ``C >= 4`` clocks). ``idx_rdata`` holds the word from the clock after the grant until
the clock after the next grant, also across writes (the SPRAM output does not change on a
write). Reads are not transparent; a word written in clock ``n`` is read by grants from
``n + 1`` on. Norms likewise: ``norm_req`` (with ``norm_raddr``) is granted in a clock without
a norm write (at most one clock late: norm writes come once in ``d`` clocks), ``norm_rdata``
has the word from the next clock and holds it until the clock after the next grant.

``rst`` only returns the beat counter to 0 (a partly collected word is dropped); the memories
keep their contents.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ._serial import check_serial_config
from .index_store import norm_layout, write_layout

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
    w : In(stream.Signature(write_layout(cfg)))
        Key write beats, one coordinate each, ``d`` per key; ``slot`` on every beat, the norm
        used with the last one. Always ready.
    idx_raddr : In(range(t * words_per_key))
        Index word address ``slot * words_per_key + w``.
    idx_req : In(1)
        Read request; hold it (and the address) until ``idx_grant``.
    idx_grant : Out(1)
        The requested word is read in this clock (``idx_req`` and no word write).
    idx_rdata : Out(packed_word_layout(cfg))
        The word granted in the previous clock; held until the clock after the next grant.
    norm_raddr : In(range(t))
    norm_req : In(1)
        Norm read request; hold it (and the address) until ``norm_grant``.
    norm_grant : Out(1)
        The norm is read in this clock (``norm_req`` and no norm write).
    norm_rdata : Out(norm_layout(cfg))
        The norm granted in the previous clock; held until the clock after the next grant.

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
        self.cfg = check_serial_config(self, cfg)
        self.coords_per_word = coords_per_word(cfg)
        self.words_per_key = words_per_key(cfg)
        super().__init__({
            "w": In(stream.Signature(write_layout(cfg))),
            "idx_raddr": In(range(cfg.t * self.words_per_key)),
            "idx_req": In(1),
            "idx_grant": Out(1),
            "idx_rdata": Out(packed_word_layout(cfg)),
            "norm_raddr": In(range(cfg.t)),
            "norm_req": In(1),
            "norm_grant": Out(1),
            "norm_rdata": Out(norm_layout(cfg)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        C = self.coords_per_word
        log2c = C.bit_length() - 1
        m = Module()

        m.submodules.idx_noinit = idx_mem = Memory(
            shape=packed_word_layout(cfg), depth=cfg.t * self.words_per_key, init=[])
        m.submodules.norm_mem = norm_mem = Memory(shape=norm_layout(cfg), depth=cfg.t, init=[],
                                                  attrs={"no_rw_check": 1})

        # ---- write side: count coordinates, collect the first C - 1 indices of a word --------
        coord = Signal(range(cfg.d))  # coordinate of the next beat
        pack = Signal(data.ArrayLayout(unsigned(cfg.b), C - 1), reset_less=True)
        idx = self.w.p.idx[0]
        accept = self.w.valid
        in_range = self.w.p.slot < cfg.t if (1 << cfg.addr_width) != cfg.t else 1
        m.d.comb += self.w.ready.eq(1)
        with m.If(accept):
            m.d.sync += coord.eq(coord + 1)  # wraps at d (a power of two)
            m.d.sync += pack[C - 2].eq(idx)
            for k in range(C - 2):
                m.d.sync += pack[k].eq(pack[k + 1])
        word_end = coord[:log2c] == C - 1
        key_end = coord == cfg.d - 1
        we = Signal()
        m.d.comb += we.eq(accept & word_end & in_range)

        # ---- the single port: the word write, else the requested read -----------------------
        addr = Signal(range(cfg.t * self.words_per_key))
        m.d.comb += addr.eq(Mux(we, Cat(coord[log2c:], self.w.p.slot), self.idx_raddr))
        wp = idx_mem.write_port()
        rp = idx_mem.read_port()
        m.d.comb += [
            wp.addr.eq(addr),
            wp.data.eq(Cat(pack, idx)),
            wp.en.eq(we),
            rp.addr.eq(addr),
            rp.en.eq(self.idx_req & ~we),
            self.idx_grant.eq(self.idx_req & ~we),
            self.idx_rdata.eq(rp.data),
        ]

        # ---- norms: block RAM, written with the last beat, read in the other clocks ---------
        nw = norm_mem.write_port()
        nr = norm_mem.read_port()
        norm_we = Signal()
        m.d.comb += [
            norm_we.eq(accept & key_end & in_range),
            nw.addr.eq(self.w.p.slot),
            nw.data.mant.eq(self.w.p.mant),
            nw.data.exp.eq(self.w.p.exp),
            nw.en.eq(norm_we),
            nr.addr.eq(self.norm_raddr),
            nr.en.eq(self.norm_req & ~norm_we),
            self.norm_grant.eq(self.norm_req & ~norm_we),
            self.norm_rdata.eq(nr.data),
        ]
        return m
