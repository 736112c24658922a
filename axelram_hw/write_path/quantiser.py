"""Lloyd–Max quantiser: the index of each rotated coordinate against its key's thresholds.

Bit-exact with the index formula of :meth:`golden.fixed.FixedModel.write`.
"""

from amaranth import C, Cat, Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.checks import check_config
from ..lib.pipeline import stage_reg
from .interface import index_layout, quantiser_layout

__all__ = ["Quantiser", "thermometer_to_binary"]


def thermometer_to_binary(bits, width):
    """Count of a thermometer code (``bits[i] = count > i``, monotone) as ``width`` bits.

    Bit ``n`` of the count is the XOR of ``bits[2**n - 1], bits[2 * 2**n - 1], ...``: one
    LUT-level XOR per output bit.
    """
    out = []
    for n in range(width):
        taps = bits[(1 << n) - 1::1 << n]
        bit = taps[0]
        for tap in taps[1:]:
            bit = bit ^ tap
        out.append(bit)
    return Cat(*out)


def _above(a, t):
    """``a > t`` for unsigned ``a`` and ``t``, as the sign bit of ``t - a`` one bit wider: a
    subtractor whose sum output is the result (on ECP5 a ``>`` maps to the same carry chain
    plus a LUT per bit for the carry outputs; this form needs none)."""
    width = max(len(a), len(t)) + 1
    return (Cat(t, C(0, width - len(t))) - Cat(a, C(0, width - len(a))))[width - 1]


class Quantiser(wiring.Component):
    """Quantise rotated coordinates against norm-scaled thresholds.

    The index of ``u`` is the number of ascending thresholds
    ``-theta_{H-1} .. -theta_1, 0, theta_1 .. theta_{H-1}`` strictly below it (``H = 2**(b-1)``,
    ``theta_j = lo_j + 1/2``), exactly as ``golden.fixed.FixedModel.write`` computes it:
    ``u > 0 ? H + c : H - 1 - c`` with ``c = #{j : |u| > lo_j}``. A pure pipeline with one global
    enable (``en = ~o.valid | o.ready``, ``i.ready = en``), one beat per clock, three stages
    either way:

    ``cfg.antisymmetric = True`` (default): the sign and ``2**(b-1) - 1`` magnitude comparators.

    1. ``s = (u > 0)`` and ``a = |u|`` (one adder) per lane;
    2. ``c_j = |u| > lo_j``: one unsigned comparator per threshold (the sign of ``lo_j - |u|``),
       no threshold select (both signs use the same ``lo_j``). When ``|u|`` is wider than the
       thresholds, its high bits are OR-ed once per lane and shared by the ``H - 1`` comparators
       of the low bits;
    3. ``index = s ? H + count : H - 1 - count``, i.e. ``Cat(count ^ ~s, s)``, into the output
       register.

    ``cfg.antisymmetric = False`` (full): ``2**b - 1`` signed comparators per coordinate.

    1. register ``u``, ``lo`` and ``-lo - 1`` (one adder per threshold, shared by the lanes);
    2. the comparators ``u > -lo_j - 1`` (that is ``u > -theta_j``), ``u > 0``, ``u > lo_j``:
       a thermometer code;
    3. thermometer to binary (XOR of taps) into the output register.

    ``b = 1`` has no thresholds: the index is ``u > 0``.

    Parameters
    ----------
    cfg : AxelramConfig

    Attributes
    ----------
    latency : int
        Clocks from a transfer on ``i`` to ``o.valid`` (no stalls): 3.

    Members
    -------
    i : ``In(stream.Signature(quantiser_layout(cfg)))``
        ``{u, lo}`` beats; ``lo`` holds the thresholds of the beat's key.
    o : ``Out(stream.Signature(index_layout(cfg)))``
        One beat of ``b``-bit indices per input beat.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    """

    latency = 3

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        super().__init__({
            "i": In(stream.Signature(quantiser_layout(cfg))),
            "o": Out(stream.Signature(index_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg

        en = Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(en),
        ]

        with m.If(en):
            valid = stage_reg(m, "s1_valid", self.i.valid, reset_less=False)
            valid = stage_reg(m, "s2_valid", valid, reset_less=False)
            m.d.sync += self.o.valid.eq(valid)
            if cfg.antisymmetric:
                indices = self._antisymmetric(m)
            else:
                indices = self._full(m)
            for p, index in enumerate(indices):
                m.d.sync += self.o.payload[p].eq(index)
        return m

    def _full(self, m):
        cfg = self.cfg
        h1 = cfg.half_levels - 1
        payload = self.i.payload
        tw = cfg.threshold_width
        lo = [stage_reg(m, f"s1_lo{j}", payload.lo[j]) for j in range(h1)]
        neg = [stage_reg(m, f"s1_neg{j}", -payload.lo[j] - 1, signed(tw + 1)) for j in range(h1)]
        indices = []
        for p in range(cfg.lanes):
            u = stage_reg(m, f"s1_u{p}", payload.u[p])
            # Ascending thresholds: -theta_{H-1} .. -theta_1, 0, theta_1 .. theta_{H-1}.
            above = ([u > t for t in reversed(neg)] + [u > 0] + [u > t for t in lo])
            thermometer = stage_reg(m, f"s2_t{p}", Cat(*above))
            indices.append(thermometer_to_binary(list(thermometer), cfg.b))
        return indices

    def _antisymmetric(self, m):
        cfg = self.cfg
        h1 = cfg.half_levels - 1
        payload = self.i.payload
        tw, uw = cfg.threshold_width, cfg.u_width
        lo = [stage_reg(m, f"s1_lo{j}", payload.lo[j]) for j in range(h1)]  # shared by lanes
        indices = []
        for p in range(cfg.lanes):
            u = payload.u[p]
            positive = stage_reg(m, f"s1_pos{p}", u > 0)
            negative = u[-1]
            # |u| = (u ^ sign) + sign: one adder (|-2**(w-1)| still fits w unsigned bits).
            magnitude = stage_reg(m, f"s1_mag{p}",
                                  (u.as_unsigned() ^ negative.replicate(uw)) + negative,
                                  unsigned(uw))
            if uw > tw:
                # |u| >= 2**tw exceeds every threshold: one OR per lane, shared.
                high = magnitude[tw:].any()
                ge = [high | _above(magnitude[:tw], t) for t in lo]
            else:
                ge = [_above(magnitude, t) for t in lo]
            count = stage_reg(m, f"s2_c{p}", Cat(*ge), unsigned(h1))
            sign = stage_reg(m, f"s2_pos{p}", positive)
            count = thermometer_to_binary(list(count), cfg.b - 1)
            indices.append(Cat(count ^ (~sign).replicate(cfg.b - 1), sign))
        return indices
