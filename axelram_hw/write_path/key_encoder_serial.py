"""Key encoder for ``lanes = 1``: iterative norm and thresholds, a block-RAM ``u`` FIFO and a
one-coordinate quantiser."""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory

from ..lib.checks import check_serial_config
from .interface import (
    KeyEncoderSignature,
    NormUnitSignature,
    ThresholdSignature,
    norm_word_layout,
    threshold_layout,
)
from .norm_iterative import IterativeNormUnit
from .quantiser import thermometer_to_binary
from .thresholds_iterative import IterativeThresholdUnit

__all__ = ["SerialKeyEncoder"]


class SerialKeyEncoder(wiring.Component):
    """The write path after the FWHT at ``lanes = 1``: norm, thresholds and quantiser.

    The ``lanes = 1`` twin of :class:`~axelram_hw.write_path.key_encoder.KeyEncoder`, with the
    same :class:`~axelram_hw.write_path.interface.KeyEncoderSignature` and contract: each key
    arrives twice, in the same key order, as raw beats on ``key`` and as rotated beats
    ``u = FWHT(s * k)`` on ``u`` (either stream may run ahead of the other); one ``o`` beat per
    ``u`` beat carries the coordinate's ``b``-bit index and the key's norm word, bit-exact with
    ``golden.fixed.FixedModel.write``. One beat per clock on every stream, so one key per ``d``
    clocks with keys back to back.

    Structure::

        key ─► norm ─► thresholds ─► info register {lo, mant, exp}
        u ──► u FIFO (block RAM) ─► compare ─► index ─► o {idx, mant, exp}

    * **norm** and **thresholds** are given (picked by
      :func:`~axelram_hw.write_path.factory.make_key_encoder`): the
      :class:`~axelram_hw.write_path.norm_iterative.IterativeNormUnit` (one squarer, a
      bit-serial root) when its ``interval <= d``, else the pipelined
      :class:`~axelram_hw.write_path.norm.NormUnit`; for ``b >= 2`` the
      :class:`~axelram_hw.write_path.thresholds_iterative.IterativeThresholdUnit` (bit-serial
      products, the norm word as its side data) when its ``interval <= d``, else the pipelined
      :class:`~axelram_hw.write_path.thresholds.ThresholdUnit` with the norm word in a side
      FIFO. ``b = 1`` has no thresholds (the index is the sign of ``u``).
      An iterative unit takes one key per ``interval`` clocks, so with that rule the norm and
      thresholds of back-to-back keys keep up (at the defaults the intervals are 40 and 41
      clocks against ``d = 128``; at ``d = 32`` both units fall back). The iterative units'
      ``i.ready`` depends on their registers only: with both of them, no combinational
      path runs from ``o.ready`` through the encoder to ``key.ready``.
    * **info register**: the thresholds ``lo`` and norm word of the key being quantised; it
      takes the next key's as the current key's last ``u`` beat enters the compare stage
      (the only per-key buffer: the norm and threshold units hold their results until then).
    * **u FIFO**: ``u_depth`` words of ``u_width`` bits in a :class:`Memory` with a registered
      read port addressed one entry ahead (the head is the read data itself; an entry becomes
      the head two clocks after it is written). ``u_depth`` is the power of two that holds the
      ``u`` beats of a key that wait for its thresholds when both streams run in lock-step:
      ``d + latency - 2``, so a back-to-back stream is never throttled.
    * **compare** (one register stage): the head ``u`` against the info register's
      thresholds. ``cfg.antisymmetric``: ``|u| > lo_j`` as ``lo_j + ~v + ~s`` with its carry
      (``v = u ^ s`` the one's-complement magnitude, ``s`` the sign: ``v + s = |u|``, so no
      absolute-value adder), and ``u > 0``; otherwise the ``2**b - 1`` signed comparisons
      ``u > ~lo_j`` (that is ``u > -lo_j - 1``), ``u > 0``, ``u > lo_j``.
    * **index** (the output register): ``u > 0 ? H + c : H - 1 - c`` from the comparisons
      (or the thermometer code's count), with the norm word, which is taken from the info
      register with the key's first beat.

    Parameters
    ----------
    cfg : AxelramConfig
        ``cfg.lanes`` must be 1.
    norm : wiring.Component
        The norm unit (a :class:`~axelram_hw.write_path.interface.NormUnitSignature`).
    thresholds : wiring.Component or None
        The threshold unit with the norm word as side data (a
        :class:`~axelram_hw.write_path.interface.ThresholdSignature`); ``None`` for ``b = 1``.

    Attributes
    ----------
    iterative_norm, iterative_thresholds : bool
        Whether the iterative units are used (``iterative_thresholds`` is False for ``b = 1``).
    u_depth : int
        Depth of the ``u`` FIFO.
    latency : int
        Clocks from the transfer of a key's last beat on ``key`` to its first output beat
        when its ``u`` beats are already waiting (no stalls): ``norm.latency +
        thresholds.latency + 3`` (``norm.latency + 3`` for ``b = 1``); 87 at the defaults.

    Members
    -------
    key : ``In(stream.Signature(key_beat_layout(cfg)))``
    u : ``In(stream.Signature(rotated_beat_layout(cfg)))``
    o : ``Out(stream.Signature(encoded_layout(cfg)))``

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``, or a unit has the wrong signature.
    ValueError
        If ``cfg.lanes`` is not 1, or ``thresholds`` is missing (``b > 1``) or given (``b = 1``).
    """

    def __init__(self, cfg, norm, thresholds):
        self.cfg = check_serial_config(self, cfg, "KeyEncoder at lanes > 1")
        _check_unit(self, "norm", norm, NormUnitSignature(cfg))
        if (thresholds is None) != (cfg.b == 1):
            self._MustUse__silence = True
            raise ValueError(f"thresholds must be {'None' if cfg.b == 1 else 'a unit'} for "
                             f"b={cfg.b}, not {thresholds!r}")
        if thresholds is not None:
            _check_unit(self, "thresholds", thresholds,
                        ThresholdSignature(cfg, norm_word_layout(cfg)))
        self._norm = norm
        self._thresholds = thresholds
        self.iterative_norm = isinstance(norm, IterativeNormUnit)
        self.iterative_thresholds = isinstance(thresholds, IterativeThresholdUnit)
        self.latency = (self._norm.latency + 3
                        + (self._thresholds.latency if self._thresholds else 0))
        self.u_depth = 1 << (cfg.d + self.latency - 3).bit_length()
        self._info = data.StructLayout({"lo": threshold_layout(cfg).members["lo"],
                                        "norm": norm_word_layout(cfg)})
        super().__init__(KeyEncoderSignature(cfg))

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg

        # -- per key: norm, thresholds -> an info stream {lo, norm} -----------------------------
        m.submodules.norm = norm = self._norm
        wiring.connect(m, wiring.flipped(self.key), norm.i)
        info_valid = Signal()
        info_ready = Signal()
        info = Signal(self._info)
        if self._thresholds is None:
            m.d.comb += [
                info.norm.mant.eq(norm.o.payload.mant),
                info.norm.exp.eq(norm.o.payload.exp),
                info_valid.eq(norm.o.valid),
                norm.o.ready.eq(info_ready),
            ]
        else:
            m.submodules.thresholds = thresholds = self._thresholds
            m.d.comb += [
                thresholds.i.payload.data.m.eq(norm.o.payload.m),
                thresholds.i.payload.data.z.eq(norm.o.payload.z),
                thresholds.i.payload.side.mant.eq(norm.o.payload.mant),
                thresholds.i.payload.side.exp.eq(norm.o.payload.exp),
                thresholds.i.valid.eq(norm.o.valid),
                norm.o.ready.eq(thresholds.i.ready),
                info.lo.eq(thresholds.o.payload.data.lo),
                info.norm.eq(thresholds.o.payload.side),
                info_valid.eq(thresholds.o.valid),
                thresholds.o.ready.eq(info_ready),
            ]

        # -- u FIFO: block RAM, read one entry ahead --------------------------------------------
        depth = self.u_depth
        m.submodules.u_fifo = u_mem = Memory(shape=signed(cfg.u_width), depth=depth, init=[])
        u_wr = u_mem.write_port()
        u_rd = u_mem.read_port()
        wr_ptr = Signal(range(2 * depth))   # one wrap bit above the address
        rd_ptr = Signal(range(2 * depth))
        written = Signal(range(2 * depth))  # wr_ptr one clock ago: entries readable now
        full = (wr_ptr ^ rd_ptr) == depth
        m.d.comb += [
            self.u.ready.eq(~full),
            u_wr.addr.eq(wr_ptr),
            u_wr.data.eq(self.u.payload[0]),
            u_wr.en.eq(self.u.valid & self.u.ready),
        ]
        m.d.sync += written.eq(wr_ptr)
        with m.If(u_wr.en):
            m.d.sync += wr_ptr.eq(wr_ptr + 1)
        head_valid = rd_ptr != written
        head = u_rd.data

        # -- info register, compare stage, index (output) register ------------------------------
        held = Signal(self._info, name="held")  # the key being quantised
        held_valid = Signal()
        beat = Signal(range(cfg.d))             # its next beat to compare
        en = ~self.o.valid | self.o.ready
        pop = Signal()
        m.d.comb += [
            pop.eq(en & head_valid & held_valid),
            u_rd.addr.eq(Mux(pop, rd_ptr + 1, rd_ptr)),
        ]
        last = pop & (beat == cfg.d - 1)
        with m.If(pop):
            m.d.sync += [rd_ptr.eq(rd_ptr + 1), beat.eq(beat + 1)]  # d: a power of two
        m.d.comb += info_ready.eq(~held_valid | last)
        with m.If(info_valid & info_ready):
            m.d.sync += [held.eq(info), held_valid.eq(1)]
        with m.Elif(last):
            m.d.sync += held_valid.eq(0)

        cmp_valid = Signal()
        cmp_first = Signal()
        compares = self._compares(head, held.lo)
        cmp_bits = Signal(len(compares), name="cmp_bits")
        with m.If(en):
            m.d.sync += [
                cmp_valid.eq(pop),
                cmp_first.eq(beat == 0),
                cmp_bits.eq(compares),
            ]
        norm_word = Signal(norm_word_layout(cfg), name="norm_word")
        with m.If(en):
            m.d.sync += [
                self.o.valid.eq(cmp_valid),
                self.o.payload.idx[0].eq(self._index(cmp_bits)),
            ]
            with m.If(cmp_valid & cmp_first):
                m.d.sync += norm_word.eq(held.norm)
        m.d.comb += [
            self.o.payload.mant.eq(norm_word.mant),
            self.o.payload.exp.eq(norm_word.exp),
        ]
        return m

    def _compares(self, u, lo):
        """The comparison bits of the compare stage for head ``u``: antisymmetric form
        ``Cat(u > 0, |u| > lo_1, ..)``, full form the thermometer code ``u > t`` (ascending)."""
        cfg = self.cfg
        tw = cfg.threshold_width
        sign = u[-1]
        positive = ~sign & u.any()
        if not cfg.antisymmetric:
            # ~lo_j as a signed (tw + 1)-bit word is -lo_j - 1.
            negative = [u > ~Cat(lo[j], Const(0, 1)).as_signed()
                        for j in reversed(range(cfg.half_levels - 1))]
            return Cat(*negative, positive, *(u > lo[j] for j in range(cfg.half_levels - 1)))
        magnitude = (u ^ sign.replicate(cfg.u_width)).as_unsigned()[:cfg.u_width - 1]
        high = magnitude[tw:].any() if len(magnitude) > tw else Const(0)
        low = Cat(magnitude, Const(0, max(0, tw - len(magnitude))))[:tw]
        # lo + ~v + ~s = 2**tw + lo - |u|: no carry out of bit tw exactly when |u| > lo (and
        # |u| >= 2**tw exceeds every threshold).
        above = [high | ~(Cat(lo[j], Const(0, 1)) + Cat(~low, Const(0, 1)) + ~sign)[tw]
                 for j in range(cfg.half_levels - 1)]
        return Cat(positive, *above)

    def _index(self, bits):
        """The ``b``-bit index from the registered comparison bits (LUT-level logic)."""
        cfg = self.cfg
        h1 = cfg.half_levels - 1
        if not cfg.antisymmetric:
            return thermometer_to_binary(list(bits), cfg.b)
        positive = bits[0]
        count = thermometer_to_binary(list(bits[1:]), cfg.b - 1) if h1 else Const(0, 0)
        return Cat(count ^ (~positive).replicate(cfg.b - 1), positive)


def _check_unit(encoder, name, unit, signature):
    if not isinstance(unit, wiring.Component) or unit.signature != signature:
        encoder._MustUse__silence = True
        raise TypeError(f"{name} must be a component with {signature!r}, not {unit!r}")
