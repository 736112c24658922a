"""Key norm unit: ``S = sum(k**2)``, its root ``m * 2**z`` and the stored norm word.

Bit-exact with :func:`golden.fixed.root` and :func:`golden.fixed.encode_norm`.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring

from ..lib.checks import check_config
from ..lib.pipeline import stage_reg
from .interface import NormUnitSignature

__all__ = ["NormUnit"]


class NormUnit(wiring.Component):
    """Norm of each key: root ``(m, z)`` for the thresholds and the stored norm ``(mant, exp)``.

    A pure pipeline with one global enable (``en = ~o.valid | o.ready``, ``i.ready = en``). It
    takes ``cfg.beats`` beats per key and emits one payload per key, bit-exact with
    ``golden.fixed.root`` and ``golden.fixed.encode_norm`` (a zero key gives all zeros).
    Throughput is one key per ``beats`` clocks (one per clock at ``lanes == d``).

    Stages (each one register; no path crosses more than one adder, comparator or mux level):

    1. input register, then ``lanes`` squarers (register after: DSP mapping);
    2. an adder tree over the lanes, one level per stage (``log2(lanes)`` stages);
    3. accumulation over the beats (only when ``beats > 1``), giving ``S`` (``sumsq_width``);
    4. normalisation: ``S`` is shifted left by an even amount ``2k`` until its leading one sits
       in the top bit pair of an even-width word; one shift step (a mux) per stage, largest step
       first. ``z = ceil(bitlen(S) / 2) - sqrt_mant`` then equals ``Wp/2 - sqrt_mant - k``;
    5. a restoring digit-by-digit square root of the top ``2*sqrt_mant + 2`` bits, one result
       bit (one subtract, its sign selecting the remainder) per stage: ``sqrt_mant + 1`` stages;
    6. round half up (``+1``, then drop a bit) and renormalise: 2 stages;
    7. the stored-norm rounding to ``norm_mant`` bits and its renormalisation: 2 stages.

    Parameters
    ----------
    cfg : AxelramConfig

    Attributes
    ----------
    latency : int
        Clocks from the transfer of a key's last beat on ``i`` to ``o.valid`` (no stalls):
        ``2 + log2(lanes) + (beats > 1) + bitlen(Wp/2 - 1) + sqrt_mant + 1 + 4`` with
        ``Wp = sumsq_width`` rounded up to even; 39 at the defaults (d=128, lanes=128), 36 at
        lanes=8.

    Members
    -------
    i : ``In(stream.Signature(key_beat_layout(cfg)))``
        Raw key beats, ``cfg.beats`` per key.
    o : ``Out(stream.Signature(norm_result_layout(cfg)))``
        One ``{m, z, mant, exp}`` per key.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        # Even word width for the normaliser, and its number of shift steps (in bit pairs).
        self._norm_width = cfg.sumsq_width + (cfg.sumsq_width & 1)
        self._norm_steps = max(1, (self._norm_width // 2 - 1).bit_length())
        self.latency = (2 + cfg.log2_lanes + (cfg.beats > 1) + self._norm_steps
                        + (cfg.sqrt_mant + 1) + 2 + 2)
        super().__init__(NormUnitSignature(cfg))

    def elaborate(self, platform):
        m = Module()

        en = Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(en),
        ]

        with m.If(en):
            valid, lanes = self._squares(m)
            valid, s = self._sum(m, valid, lanes)
            valid, norm, k = self._normalise(m, valid, s)
            valid, root, z, zero = self._sqrt(m, valid, norm, k)
            valid, mr, z, zero = self._round_root(m, valid, root, z, zero)
            self._round_norm(m, valid, mr, z, zero)
        return m

    def _squares(self, m):
        cfg = self.cfg
        valid = stage_reg(m, "in_valid", self.i.valid, reset_less=False)
        x = [stage_reg(m, f"in_{p}", self.i.payload[p]) for p in range(cfg.lanes)]
        valid = stage_reg(m, "sq_valid", valid, reset_less=False)
        # (-2**(w-1))**2 = 4**(w-1) fits 2w-1 unsigned bits.
        sq = [stage_reg(m, f"sq_{p}", (v * v).as_unsigned()[:2 * cfg.in_width - 1])
              for p, v in enumerate(x)]
        return valid, sq

    def _sum(self, m, valid, terms):
        cfg = self.cfg
        level = 0
        while len(terms) > 1:
            level += 1
            valid = stage_reg(m, f"tree{level}_valid", valid, reset_less=False)
            terms = [stage_reg(m, f"tree{level}_{j}", terms[2 * j] + terms[2 * j + 1])
                     for j in range(len(terms) // 2)]
        total, = terms
        if cfg.beats == 1:
            return valid, total

        # Accumulate the beats of one key; the stage is valid on the key's last beat.
        beat = Signal(range(cfg.beats))
        acc = Signal(cfg.sumsq_width, reset_less=True)
        acc_valid = Signal()
        first = beat == 0
        m.d.sync += acc_valid.eq(valid & (beat == cfg.beats - 1))
        with m.If(valid):
            m.d.sync += [
                acc.eq(Mux(first, 0, acc) + total),
                beat.eq(beat + 1),  # beats is a power of two: wraps to 0
            ]
        return acc_valid, acc

    def _normalise(self, m, valid, s):
        width = self._norm_width
        norm = s.as_unsigned()
        k = []  # bits of the even shift amount k (in bit pairs), most significant first
        for j in reversed(range(self._norm_steps)):
            step = 2 << j
            shift = norm[width - step:width] == 0
            valid = stage_reg(m, f"norm{j}_valid", valid, reset_less=False)
            k = [stage_reg(m, f"norm{j}_k{i}", bit) for i, bit in enumerate(k)] + \
                [stage_reg(m, f"norm{j}_k", shift)]
            norm = stage_reg(m, f"norm{j}", Mux(shift, norm << step, norm)[:width],
                             unsigned(width))
        k = Cat(*reversed(k))
        return valid, norm, k

    def _sqrt(self, m, valid, norm, k):
        cfg = self.cfg
        ms = cfg.sqrt_mant
        width = self._norm_width
        # Top 2*ms + 2 bits of the normalised word (zero-padded below when it is shorter).
        x_width = 2 * ms + 2
        x = (norm >> (width - x_width) if width >= x_width else norm << (x_width - width))
        x = x[:x_width]

        # z and the zero flag travel alongside, computed in the first root stage.
        z = Signal(signed(cfg.sqrt_z_width), name="sqrt_z", reset_less=True)
        zero = Signal(name="sqrt_zero", reset_less=True)
        m.d.sync += [
            z.eq(width // 2 - ms - k),
            zero.eq(~norm[width - 1] & ~norm[width - 2]),
        ]

        root = Const(0, 0)
        rem = Const(0, 0)
        for i in reversed(range(ms + 1)):
            rem_in = Cat(x[2 * i:2 * i + 2], rem)
            trial = Cat(Const(1, 2), root)  # (root << 2) | 1
            diff = rem_in - trial
            take = ~diff[-1]
            new_width = len(root) + 1
            valid = stage_reg(m, f"sqrt{i}_valid", valid, reset_less=False)
            root = stage_reg(m, f"sqrt{i}_root", Cat(take, root))
            # The remainder never exceeds 2 * root: new_width + 1 bits.
            rem = stage_reg(m, f"sqrt{i}_rem", Mux(take, diff, rem_in)[:new_width + 1],
                            unsigned(new_width + 1))
            x = stage_reg(m, f"sqrt{i}_x", x[:2 * i]) if i else x[:0]
            if i != ms:
                z = stage_reg(m, f"sqrt{i}_z", z)
                zero = stage_reg(m, f"sqrt{i}_zero", zero)
        return valid, root, z, zero

    def _round_root(self, m, valid, root, z, zero):
        ms = self.cfg.sqrt_mant
        # m = (root + 1) >> 1; a carry to 2**ms renormalises to 2**(ms-1) with z + 1.
        valid = stage_reg(m, "rnd_valid", valid, reset_less=False)
        inc = stage_reg(m, "rnd_inc", root + 1, unsigned(ms + 2))
        z_inc = stage_reg(m, "rnd_z_inc", z + 1, z.shape())
        z = stage_reg(m, "rnd_z", z)
        zero = stage_reg(m, "rnd_zero", zero)

        carry = inc[ms + 1]
        valid = stage_reg(m, "root_valid", valid, reset_less=False)
        # With a carry, inc[1:ms+1] is 0: the OR gives 2**(ms-1). A zero key has root 0 → m 0.
        mr = stage_reg(m, "root_m", inc[1:ms + 1] | (carry << (ms - 1)), unsigned(ms))
        z = stage_reg(m, "root_z", Mux(carry, z_inc, z) & ~zero.replicate(len(z)), z.shape())
        zero = stage_reg(m, "root_zero", zero)
        return valid, mr, z, zero

    def _round_norm(self, m, valid, mr, z, zero):
        cfg = self.cfg
        mn, r = cfg.norm_mant, cfg.sqrt_mant - cfg.norm_mant
        exp_shape = signed(max(len(z), cfg.norm_exp_width) + 1)
        # mant = (m + 2**(r-1)) >> r; a carry to 2**mn renormalises with exp + 1.
        valid = stage_reg(m, "nrm_valid", valid, reset_less=False)
        inc = stage_reg(m, "nrm_inc", (mr + (1 << (r - 1)) if r else mr) >> r,
                        unsigned(mn + 1))
        exp = stage_reg(m, "nrm_exp", z + (r + cfg.norm_bias), exp_shape)
        exp_inc = stage_reg(m, "nrm_exp_inc", z + (r + cfg.norm_bias + 1), exp_shape)
        mr = stage_reg(m, "nrm_m", mr)
        z = stage_reg(m, "nrm_z", z)
        zero = stage_reg(m, "nrm_zero", zero)

        carry = inc[mn]
        m.d.sync += [
            self.o.valid.eq(valid),
            self.o.payload.m.eq(mr),
            self.o.payload.z.eq(z),
            # A zero key has m = 0, hence inc = 0 and mant = 0.
            self.o.payload.mant.eq(inc[:mn] | (carry << (mn - 1))),
            self.o.payload.exp.eq(Mux(carry, exp_inc, exp)[:cfg.norm_exp_width]
                                  & ~zero.replicate(cfg.norm_exp_width)),
        ]
