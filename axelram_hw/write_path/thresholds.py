"""Norm-scaled quantiser thresholds ``floor(m * G_j * 2**(z - thr_frac))``.

Bit-exact with :func:`golden.fixed.scaled_thresholds`.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.checks import check_config
from ..lib.multiply import pipelined_product, product_latency
from ..lib.pipeline import stage_reg
from ..lib.sideband import Sideband
from .interface import ThresholdSignature, root_layout, threshold_layout

__all__ = ["ThresholdUnit", "sideband_threshold_unit"]


class ThresholdUnit(wiring.Component):
    """Scale the positive threshold ROM words ``G_j`` by the root of one key.

    Computes ``x_j = m * G_j * 2**(z - thr_frac)`` exactly and emits ``lo_j = floor(x_j)``,
    bit-exact with ``golden.fixed.scaled_thresholds``. A pure pipeline with
    one global enable (``en = ~o.valid | o.ready``, ``i.ready = en``), one key per clock.

    Stages (each one register):

    1. input register: ``m``, and the right-shift amount ``t = sqrt_z_max - z`` (one adder);
    2. ``2**(b-1) - 1`` constant multiplies ``m * G_j`` (register before; DSP-sized partial
       products and their registered sums after:
       :func:`~axelram_hw.lib.multiply.pipelined_product`);
    3. a barrel shift right by ``t``, one mux level per stage, largest step first (the bits
       shifted out are dropped: floor). The product is first taken to the largest scale
       ``2**(sqrt_z_max - thr_frac)`` by a constant shift (free).
       ``ceil(log2(sqrt_z_max - sqrt_z_min + 1))`` stages, the last one into the output
       register.

    A zero key (``m = 0``, ``z = 0``, possibly outside the shifter's range) gives all zeros,
    since the product is zero whatever the shift.

    ``b = 1`` has no thresholds (the index is the sign of ``u`` alone): the unit is not needed
    and refuses to be built; :class:`~axelram_hw.write_path.key_encoder.KeyEncoder` leaves it out.

    Parameters
    ----------
    cfg : AxelramConfig

    Attributes
    ----------
    latency : int
        Clocks from a transfer on ``i`` to ``o.valid`` (no stalls):
        ``1 + product latency + bitlen(sqrt_z_max - sqrt_z_min)``; 9 at the defaults.

    Members
    -------
    i : ``In(stream.Signature(root_layout(cfg)))``
        One root ``{m, z}`` per key (from :class:`~axelram_hw.write_path.norm.NormUnit`).
    o : ``Out(stream.Signature(threshold_layout(cfg)))``
        ``{lo}`` per key.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    ValueError
        If ``cfg.b`` is 1.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        if cfg.b < 2:
            self._MustUse__silence = True
            raise ValueError(f"ThresholdUnit needs b of at least 2 (b=1 has no thresholds), "
                             f"not {cfg.b}")
        self._shift_max = cfg.sqrt_z_max - cfg.sqrt_z_min
        self._shift_steps = max(1, self._shift_max.bit_length())
        self._mul_latency = max(product_latency(Signal(cfg.sqrt_mant), g)
                                for g in cfg.threshold_rom)
        self.latency = 1 + self._mul_latency + self._shift_steps
        super().__init__({
            "i": In(stream.Signature(root_layout(cfg))),
            "o": Out(stream.Signature(threshold_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(en),
        ]

        with m.If(en):
            valid, products, shift = self._products(m)
            self._shift(m, valid, products, shift)
        return m

    def _products(self, m):
        cfg = self.cfg
        valid = Signal(name="in_valid")
        root_m = Signal(cfg.sqrt_mant, name="in_m", reset_less=True)
        shift = Signal(self._shift_steps, name="in_shift", reset_less=True)
        m.d.sync += [
            valid.eq(self.i.valid),
            root_m.eq(self.i.payload.m),
            # Wraps for a zero key's z = 0 when 0 > sqrt_z_max: harmless, its product is 0.
            shift.eq(cfg.sqrt_z_max - self.i.payload.z),
        ]

        products = [pipelined_product(m, f"mul_{j}", root_m, g, latency=self._mul_latency)
                    for j, g in enumerate(cfg.threshold_rom)]
        for k in range(self._mul_latency):
            valid = stage_reg(m, f"mul{k}_valid", valid, reset_less=False)
            shift = stage_reg(m, f"mul{k}_shift", shift)
        return valid, products, shift

    def _shift(self, m, valid, products, shift):
        """The barrel shifter; its last stage is the output register."""
        cfg = self.cfg
        top = cfg.threshold_shift_range[1]  # the largest scale, 2**(sqrt_z_max - thr_frac)
        values = [product << top if top >= 0 else product >> -top for product in products]
        for s in reversed(range(self._shift_steps)):
            step = 1 << s
            take = shift[s]
            shifted = [Mux(take, value >> step, value) for value in values]
            if s == 0:
                m.d.sync += self.o.valid.eq(valid)
                m.d.sync += [self.o.payload.lo[j].eq(v) for j, v in enumerate(shifted)]
                return
            valid = stage_reg(m, f"sh{s}_valid", valid, reset_less=False)
            values = [stage_reg(m, f"sh{s}_{j}", v, unsigned(cfg.threshold_width))
                      for j, v in enumerate(shifted)]
            shift = stage_reg(m, f"sh{s}_shift", shift[:s])


def sideband_threshold_unit(cfg, side_shape):
    """The pipelined :class:`ThresholdUnit` with ``side_shape`` data carried in a
    :class:`~axelram_hw.lib.sideband.Sideband`: a :class:`~.interface.ThresholdSignature`, like
    the iterative twin."""
    return Sideband(ThresholdUnit(cfg), side_shape, ThresholdSignature(cfg, side_shape))
