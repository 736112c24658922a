"""Iterative key norm unit for ``lanes = 1``: one squarer, an accumulator and a bit-serial root.

Bit-exact with :func:`golden.fixed.root` and :func:`golden.fixed.encode_norm`.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring

from ..lib.checks import check_serial_config
from .interface import NormUnitSignature

__all__ = ["IterativeNormUnit"]


class IterativeNormUnit(wiring.Component):
    """Norm of each key, one coordinate per clock: root ``(m, z)`` and stored norm ``(mant, exp)``.

    Same :class:`~axelram_hw.write_path.interface.NormUnitSignature` and results as
    :class:`~axelram_hw.write_path.norm.NormUnit` at ``lanes = 1``, bit-exact
    with ``golden.fixed.root`` and ``golden.fixed.encode_norm`` (a zero key gives all zeros),
    built for size: one squarer (a DSP), one accumulator and a square root that produces one
    bit per clock.

    1. **Square and accumulate** (a pipeline with one enable): input register, squarer
       register, ``S = sum(k**2)`` in a ``sumsq_width`` accumulator. A finished ``S`` waits
       there for the root unit; the pipeline (and with it ``i``) stalls only when the next
       key's first square would overwrite a finished ``S`` that is still waiting.
    2. **Square root**, iterative, ``iterations = Wp/2 + sqrt_mant`` clocks per key
       (``Wp`` = ``sumsq_width`` rounded up to even): ``S`` is loaded into a shift register
       that gives up its top bit pair each clock to a restoring digit-by-digit root (one
       subtraction, its sign selecting the new remainder; radicand and remainder are held
       complemented, so the subtraction needs no inverter). Leading zero pairs produce no
       digit and lower ``z`` from ``Wp/2 - sqrt_mant``; from the first non-zero pair on,
       ``sqrt_mant + 1`` pairs give the root ``R`` of the top ``2*sqrt_mant + 2`` bits of the
       normalised ``S`` (zeros below its end, the bits below dropped: a floor), then the root
       stops (its top bit is set): ``R = isqrt(X)`` of ``golden.fixed.root``. A key that
       produces no digit at all is the zero key.
    3. **Roundings**, from ``R`` (``sqrt_mant + 1`` bits) into the output registers in the
       clock after the last root step (which frees the root unit for the next ``S``), each
       one adder then a multiplexer: ``m = (R + 1) >> 1`` with ``z + 1`` on a carry to
       ``2**sqrt_mant`` (rounding point *root*), and the stored norm
       ``mant = (R + 1 + 2**r) >> (r + 1)`` (``r = sqrt_mant - norm_mant``; ``(R + 1) >> 1``
       when ``r = 0``) with ``exp = z + r + norm_bias`` plus one on a carry to
       ``2**norm_mant`` (rounding point *norm*). This one rounding of ``R`` equals
       ``encode_norm``'s rounding of ``m``: ``floor((floor((R+1)/2) + 2**(r-1)) / 2**r)``
       is ``floor((R + 1 + 2**r) / 2**(r+1))``, and when ``m`` carried it is
       ``2**(sqrt_mant-1)``, which the second rounding leaves alone (both give
       ``2**(norm_mant-1)`` with the exponent one up).

    Throughput: one key per ``interval = iterations + 1`` clocks when ``o`` takes each result
    before the next root is done, so keys arriving back to back (one per ``d`` clocks) never
    stall while ``interval <= d`` (:class:`~axelram_hw.write_path.key_encoder.KeyEncoder` uses the
    pipelined :class:`~axelram_hw.write_path.norm.NormUnit` otherwise).

    Parameters
    ----------
    cfg : AxelramConfig
        ``cfg.lanes`` must be 1.

    Attributes
    ----------
    iterations : int
        Root clocks per key: ``Wp/2 + sqrt_mant`` (39 at d=128, in_width=16, sqrt_mant=20).
    interval : int
        Clocks between two keys' results when ``o`` never stalls: ``iterations + 1``.
        ``i.ready`` depends on registers only (no combinational path from ``o.ready``).
    latency : int
        Clocks from the transfer of a key's last beat on ``i`` to ``o.valid`` when the root
        unit is free: ``iterations + 5`` (44 at the defaults).

    Members
    -------
    i : ``In(stream.Signature(key_beat_layout(cfg)))``
        Raw key beats, ``d`` per key.
    o : ``Out(stream.Signature(norm_result_layout(cfg)))``
        One ``{m, z, mant, exp}`` per key, held until taken.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    ValueError
        If ``cfg.lanes`` is not 1.
    """

    def __init__(self, cfg):
        self.cfg = check_serial_config(self, cfg, "NormUnit")
        self._pairs = (cfg.sumsq_width + 1) // 2   # bit pairs of S
        self.iterations = self._pairs + cfg.sqrt_mant
        self.interval = self.interval_of(cfg)
        self.latency = self.iterations + 5
        super().__init__(NormUnitSignature(cfg))

    @staticmethod
    def interval_of(cfg):
        """``interval`` of the unit for ``cfg`` (without building it)."""
        return (cfg.sumsq_width + 1) // 2 + cfg.sqrt_mant + 1

    def elaborate(self, platform):
        m = Module()
        take = Signal()  # the root unit loads a finished S
        full, total = self._accumulate(m, take)
        self._root(m, full, total, take)
        return m

    def _accumulate(self, m, take):
        """Square-and-accumulate pipeline; returns (S finished, S)."""
        cfg = self.cfg
        full = Signal()
        en = Signal()
        m.d.comb += [
            en.eq(~full | take),
            self.i.ready.eq(en),
        ]
        x_valid = Signal()
        x = Signal(signed(cfg.in_width), name="x", reset_less=True)
        sq_valid = Signal()
        # (-2**(w-1))**2 = 4**(w-1) fits 2w-1 unsigned bits.
        sq = Signal(2 * cfg.in_width - 1, name="sq", reset_less=True)
        beat = Signal(range(cfg.d))
        total = Signal(cfg.sumsq_width, name="sumsq", reset_less=True)
        with m.If(take):
            m.d.sync += full.eq(0)
        with m.If(en):
            m.d.sync += [
                x_valid.eq(self.i.valid),
                x.eq(self.i.payload[0]),
                sq_valid.eq(x_valid),
                sq.eq((x * x).as_unsigned()),
            ]
            with m.If(sq_valid):
                m.d.sync += [
                    total.eq(Mux(beat == 0, sq, total + sq)),
                    beat.eq(beat + 1),  # d is a power of two: wraps to 0
                ]
                with m.If(beat == cfg.d - 1):
                    m.d.sync += full.eq(1)
        return full, total

    def _root(self, m, full, total, take):
        cfg = self.cfg
        ms = cfg.sqrt_mant
        width = 2 * self._pairs
        # The radicand and the remainder are kept complemented: the trial subtraction is then
        # one adder with no inverted operand, t = (4*root + 1) + ~rem_in = trial - rem_in - 1.
        # t < 0 means rem_in >= trial (a root digit 1) and ~(rem_in - trial) = t.
        radicand_c = Signal(width, name="radicand_c", reset_less=True)
        root = Signal(ms + 1, name="root", reset_less=True)
        # The remainder never exceeds 2 * root.
        rem_c = Signal(ms + 2, name="rem_c", reset_less=True)
        z = Signal(signed(cfg.sqrt_z_width), name="root_z", reset_less=True)
        started = Signal(name="root_started", reset_less=True)
        busy = Signal()                     # iterating
        done = Signal()                     # root finished, roundings not yet in `o`
        count = Signal(range(self.iterations), name="root_count", reset_less=True)

        rem_in_c = Cat(radicand_c[-2:], rem_c)
        t = Signal(len(rem_in_c) + 1, name="root_trial")
        m.d.comb += t.eq(Cat(Const(1, 2), root) + rem_in_c)
        digit = ~t[-1]

        # The roundings go into the output registers (once empty), which frees the root unit.
        # Only registers decide: no combinational path from o.ready to i.ready.
        move = done & ~self.o.valid
        m.d.comb += take.eq(full & ~busy & (~done | move))
        with m.If(move):
            m.d.sync += [self.o.valid.eq(1), done.eq(0)]
            self._round(m, root, z, ~started)
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(take):
            m.d.sync += [
                radicand_c.eq(~Cat(total, Const(0, width - len(total)))),
                root.eq(0),
                rem_c.eq(-1),
                z.eq(self._pairs - ms),
                started.eq(0),
                busy.eq(1),
                count.eq(self.iterations - 1),
            ]
        with m.Elif(busy):
            m.d.sync += [
                radicand_c.eq(Cat(Const(0b11, 2), radicand_c)),  # shifts in zeros (ones)
                count.eq(count - 1),
            ]
            with m.If(~root[ms]):  # sqrt_mant + 1 digits: done
                m.d.sync += [
                    root.eq(Cat(digit, root)),
                    rem_c.eq(Mux(digit, t, rem_in_c)),
                    started.eq(started | digit),
                ]
                with m.If(~started & ~digit):
                    m.d.sync += z.eq(z - 1)
            with m.If(count == 0):
                m.d.sync += [busy.eq(0), done.eq(1)]

    def _round(self, m, root, z, zero):
        """Both roundings of the finished root into the output registers (a zero key has
        root 0, hence m = mant = 0; its z and exp are masked)."""
        cfg = self.cfg
        ms, mn = cfg.sqrt_mant, cfg.norm_mant
        inc = root + 1
        carry = inc[ms + 1]
        r = ms - mn
        rounded = ((root + (1 + (1 << r))) >> (r + 1)) if r else inc >> 1
        norm_carry = rounded[mn]
        exp = Mux(norm_carry, z + (r + cfg.norm_bias + 1), z + (r + cfg.norm_bias))
        m.d.sync += [
            # With a carry, inc[1:ms+1] is 0: the OR gives 2**(ms-1).
            self.o.payload.m.eq(inc[1:ms + 1] | (carry << (ms - 1))),
            self.o.payload.z.eq(Mux(carry, z + 1, z) & ~zero.replicate(len(z))),
            self.o.payload.mant.eq(rounded[:mn] | (norm_carry << (mn - 1))),
            self.o.payload.exp.eq(exp.as_signed()[:cfg.norm_exp_width].as_unsigned()
                                  & ~zero.replicate(cfg.norm_exp_width)),
        ]
