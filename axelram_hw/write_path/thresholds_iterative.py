"""Iterative norm-scaled thresholds ``floor(m * G_j * 2**(z - thr_frac))``: bit-serial products.

Bit-exact with :func:`golden.fixed.scaled_thresholds`.
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import wiring

from ..lib.checks import check_config
from .interface import ThresholdSignature

__all__ = ["IterativeThresholdUnit"]


class IterativeThresholdUnit(wiring.Component):
    """Scale the positive threshold ROM words ``G_j`` by the root of one key, bit-serially.

    Computes ``lo_j = floor(m * G_j * 2**(z - thr_frac))`` for ``j = 1 .. 2**(b-1) - 1``,
    bit-exact with ``golden.fixed.scaled_thresholds``, in ``steps`` clocks per key, and
    carries side data (the key's stored norm word in the key encoder) along with it.

    Each threshold has one accumulator ``A_j`` of ``threshold_rom_width + pre`` bits, which is
    also its result register, and one adder; all share the shift register holding ``m``.
    With the right shift ``n = thr_frac - z`` and ``G'_j = G_j * 2**pre``
    (``pre = max(0, sqrt_mant - (thr_frac - sqrt_z_max))`` keeps every bit the smallest
    shift needs; 0 at the defaults), a key takes ``n + pre`` *active* steps
    ``A_j <- (A_j + m_i * G'_j) >> 1``, the bits ``m_i`` of ``m`` taken from the least
    significant one (then zeros). After them ``A_j = floor(m * G'_j / 2**(n + pre))
    = floor(x_j)``: each step drops one bit, and dropping them one at a time is the same
    floor as dropping them at once (rounding point *threshold*). ``A_j`` never exceeds
    ``G'_j``, so it needs no more bits than ``G'_j``. A zero key (``m = 0``) gives zeros.

    For a fixed latency every key takes ``steps = thr_frac - sqrt_z_min + pre`` clocks (the
    most active steps, at the smallest root exponent): ``z - sqrt_z_min`` idle steps (a down
    counter from ``z``), then the active ones. Between registers: one adder per step.

    ``b = 1`` has no thresholds: the unit refuses to be built.

    Parameters
    ----------
    cfg : AxelramConfig
    side_shape : ShapeLike
        Shape of the side data, taken with the root and given back with the thresholds.

    Attributes
    ----------
    steps : int
        Clocks per key in the accumulators (39 at the defaults).
    latency : int
        Clocks from a transfer on ``i`` to ``o.valid``: ``steps + 1``.
    interval : int
        Clocks between two keys when ``o`` takes each result at once: ``steps + 2`` (a root
        is taken the clock after the previous result has gone: ``i.ready`` depends on
        registers only).

    Members
    -------
    i : ``In(stream.Signature(StructLayout({"data": root_layout(cfg), "side": side_shape})))``
        One root ``{m, z}`` per key and its side data.
    o : ``Out(stream.Signature(StructLayout({"data": threshold_layout(cfg),
        "side": side_shape})))``
        ``{lo}`` per key and the side data, held until taken.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    ValueError
        If ``cfg.b`` is 1.
    """

    def __init__(self, cfg, side_shape):
        self.cfg = check_config(self, cfg)
        if cfg.b < 2:
            self._MustUse__silence = True
            raise ValueError(f"IterativeThresholdUnit needs b of at least 2 (b=1 has no "
                             f"thresholds), not {cfg.b}")
        self._pre = self._pre_shift(cfg)
        self.steps = self.interval_of(cfg) - 2
        self.latency = self.steps + 1
        self.interval = self.steps + 2
        super().__init__(ThresholdSignature(cfg, side_shape))

    @staticmethod
    def _pre_shift(cfg):
        return max(0, cfg.sqrt_mant - (cfg.thr_frac - cfg.sqrt_z_max))

    @staticmethod
    def interval_of(cfg):
        """``interval`` of the unit for ``cfg`` (without building it)."""
        return cfg.thr_frac - cfg.sqrt_z_min + IterativeThresholdUnit._pre_shift(cfg) + 2

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        acc_width = cfg.threshold_rom_width + self._pre

        busy = Signal()
        count = Signal(range(self.steps), name="count", reset_less=True)
        bits = Signal(cfg.sqrt_mant, name="m_bits", reset_less=True)
        idle = Signal(signed(cfg.sqrt_z_width), name="idle_z", reset_less=True)
        side = Signal.like(self.o.payload.side, name="side", reset_less=True)
        accs = [Signal(acc_width, name=f"acc{j}", reset_less=True)
                for j in range(cfg.half_levels - 1)]

        # Only registers decide: no combinational path from o.ready to i.ready.
        m.d.comb += self.i.ready.eq(~busy & ~self.o.valid)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [
                bits.eq(self.i.payload.data.m),
                idle.eq(self.i.payload.data.z),
                side.eq(self.i.payload.side),
                busy.eq(1),
                count.eq(self.steps - 1),
            ]
            m.d.sync += [acc.eq(0) for acc in accs]
        with m.Elif(busy):
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += [busy.eq(0), self.o.valid.eq(1)]
            with m.If(idle != cfg.sqrt_z_min):
                m.d.sync += idle.eq(idle - 1)
            with m.Else():
                m.d.sync += bits.eq(bits >> 1)
                for acc, g in zip(accs, cfg.threshold_rom, strict=True):
                    m.d.sync += acc.eq((acc + Mux(bits[0], g << self._pre, 0))[1:])

        m.d.comb += self.o.payload.side.eq(side)
        m.d.comb += [self.o.payload.data.lo[j].eq(acc) for j, acc in enumerate(accs)]
        return m
