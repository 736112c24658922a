"""The index store: b-bit coordinate indices and the norm word of every cached key.

Organisation (``P = cfg.lanes``, ``beats = cfg.beats = d / P``):

* **indices** — one :class:`~amaranth.lib.memory.Memory` of ``t * beats`` words of ``P * b``
  bits. Key ``slot`` occupies the ``beats`` consecutive words ``slot * beats + beat``
  (``beats`` is a power of two, so the address is ``Cat(beat, slot)``, no multiplier); word
  ``beat`` holds coordinates ``beat * P .. beat * P + P - 1``, the index of coordinate
  ``beat * P + p`` in bits ``p * b .. p * b + b - 1``. Fully parallel (``P = d``): one
  ``d * b``-bit word per key (384 bits at d=128, b=3: 4096 x 384 = 1.5 Mbit at t=4096, block
  RAM cascaded in width). Folded: a deeper, narrower memory (d=128, b=3, P=8: 65536 x 24),
  which is what iCE40 SPRAM / ECP5 DP16KD like.
* **norms** — one memory of ``t`` words of ``cfg.norm_width`` bits: mantissa in the low
  ``norm_mant`` bits, exponent above it (the top of :meth:`golden.fixed.StoredKeys.rows`).

Both memories start all zero, so a slot that was never written holds index 0 everywhere and
norm 0, and scores exactly 0. Memory contents are **not** cleared by ``rst`` (block RAM); reset
only returns the write-side beat counter to 0.

Read ports are registered (synchronous, data one clock after address and enable, held while
enable is low) and not transparent: a read in the same clock as a write of that word returns the
old word. Registered reads are what maps to block RAM.
"""

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In

from ..lib.checks import check_config
from ..lib.interface import ReadPortSignature
from .interface import store_write_layout, stored_norm_layout

__all__ = ["IndexStore"]


class IndexStore(wiring.Component):
    """Index and norm memories of ``t`` key slots, one stream write port, registered reads.

    Writing: a key is ``beats`` consecutive beats on ``w`` (beat ``c`` carries coordinates
    ``c*P .. c*P+P-1``); the store counts beats itself and writes the norm with the last one.
    ``slot`` should be the same on all beats of a key (each beat is written to its own slot's
    word). ``w`` is always ready: one beat per clock. Beats whose slot is ``>= t`` (possible only
    when ``t`` is not a power of two) are counted but not written.

    Parameters
    ----------
    cfg : AxelramConfig

    Members
    -------
    w : In(stream.Signature(store_write_layout(cfg)))
        Write beats.
    idx : In(ReadPortSignature(range(t * beats), ArrayLayout(unsigned(b), P)))
        Index word read port, address ``slot * beats + beat`` (``data`` holds while ``en`` is
        low).
    norm : In(ReadPortSignature(range(t), stored_norm_layout(cfg)))
        Norm word read port.

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        super().__init__({
            "w": In(stream.Signature(store_write_layout(cfg))),
            "idx": In(ReadPortSignature(range(cfg.t * cfg.beats),
                                        data.ArrayLayout(unsigned(cfg.b), cfg.lanes))),
            "norm": In(ReadPortSignature(range(cfg.t), stored_norm_layout(cfg))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()

        m.submodules.idx_mem = idx_mem = Memory(
            shape=data.ArrayLayout(unsigned(cfg.b), cfg.lanes), depth=cfg.t * cfg.beats, init=[])
        m.submodules.norm_mem = norm_mem = Memory(
            shape=stored_norm_layout(cfg), depth=cfg.t, init=[])

        # Write side: always ready, one beat per clock, beat counted here.
        beat = Signal(range(cfg.beats))
        last_beat = beat == cfg.beats - 1
        do_write = self.w.valid
        in_range = self.w.p.slot < cfg.t if (1 << cfg.addr_width) != cfg.t else 1
        m.d.comb += self.w.ready.eq(1)
        with m.If(do_write):
            m.d.sync += beat.eq(0 if cfg.beats == 1 else beat + 1)  # wraps at beats (power of 2)

        idx_w = idx_mem.write_port()
        norm_w = norm_mem.write_port()
        m.d.comb += [
            idx_w.addr.eq(Cat(beat, self.w.p.slot)),  # slot * beats + beat
            idx_w.data.eq(self.w.p.idx),
            idx_w.en.eq(do_write & in_range),
            norm_w.addr.eq(self.w.p.slot),
            norm_w.data.mant.eq(self.w.p.mant),
            norm_w.data.exp.eq(self.w.p.exp),
            norm_w.en.eq(do_write & in_range & last_beat),
        ]

        # Read side: registered, non-transparent ports (block RAM).
        idx_r = idx_mem.read_port()
        norm_r = norm_mem.read_port()
        m.d.comb += [
            idx_r.addr.eq(self.idx.addr),
            idx_r.en.eq(self.idx.en),
            self.idx.word.eq(idx_r.data),
            norm_r.addr.eq(self.norm.addr),
            norm_r.en.eq(self.norm.en),
            self.norm.word.eq(norm_r.data),
        ]
        return m
