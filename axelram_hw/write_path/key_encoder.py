"""Key encoder: raw key beats and rotated beats in, stored indices and the norm word out."""

from amaranth import Cat, Module, Signal
from amaranth.lib import data, wiring

from ..lib.checks import check_config
from ..lib.fifo import FIFO_LATENCY, BufferedFIFO
from ..lib.sideband import Sideband
from .interface import KeyEncoderSignature, norm_word_layout, threshold_layout
from .norm import NormUnit
from .quantiser import Quantiser
from .thresholds import sideband_threshold_unit

__all__ = ["KeyEncoder"]

#: Widest ``u`` FIFO slice, in bits. The Amaranth simulator cannot compile a memory write port
#: much wider than 2k bits (RecursionError); a block RAM is far narrower anyway.
_U_SLICE_BITS = 1024


class KeyEncoder(wiring.Component):
    """The write path after the FWHT: norm, thresholds and quantiser of each key.

    Takes each key twice, in the same key order: its raw beats on ``key`` (for the norm) and its
    rotated beats ``u = FWHT(s * k)`` on ``u`` (for the indices). The two streams are
    independent: either may run ahead of the other. Emits one beat per ``u`` beat:
    the ``b``-bit indices of its ``lanes`` coordinates and the key's stored norm word, bit-exact
    with ``golden.fixed.FixedModel.write``.

    Structure::

        key ─► NormUnit ─┬─► ThresholdUnit ─┐ (mant, exp in a side FIFO)
                         └──────────────────┴─► key FIFO {lo, mant, exp}
        u ───────────────────► u FIFO ─────────┴─► join ─► Quantiser ─► o
                                                          (mant, exp in a side FIFO)

    For ``b = 1`` there are no thresholds: the ThresholdUnit is left out and the quantiser uses
    the sign of ``u`` only.

    Its twin for ``lanes = 1`` is the coordinate-serial
    :class:`~axelram_hw.write_path.key_encoder_serial.SerialKeyEncoder` (same
    :class:`~axelram_hw.write_path.interface.KeyEncoderSignature`); the macro gets one or the
    other from :func:`~axelram_hw.write_path.factory.make_key_encoder`. This one also works at
    ``lanes = 1`` (one lane, ``d`` beats), which the contract tests use.

    Flow control (derived, not tuned): the key path has **no back-pressure**. A key enters on
    ``key`` only with a credit, one of ``key_credits``, taken at its first beat and returned when
    its key-FIFO entry is read (its last ``u`` beat joined): the key FIFO (``key_depth =
    key_credits + 1``, as ``BufferedFIFO.w_rdy`` ignores an entry leaving in the same clock)
    can never be full, so the norm and threshold pipelines run without an enable.
    ``key_credits`` covers the keys in flight at one key per ``beats`` clocks: a key's first
    beat to its key-FIFO entry being read is ``L_info + 2 * beats - 2`` clocks with
    ``L_info = norm.latency + thresholds.latency + 2`` (the FIFO latency), and a returned
    credit is usable one clock later. ``key.ready`` is a registered comparison.

    * ``u`` FIFO: when both streams run in lock-step at one beat per clock, a ``u`` beat waits
      for its key's thresholds, ``L_info`` clocks plus the ``beats - 1`` earlier beats of the
      key; and when the ``u`` beats of a key never arrive before its ``key`` beats (as in the
      macro, where both leave one register stage together), the ``u`` beats inside are those
      of keys holding credits: depth ``max(L_info + beats, key_credits * beats + 2)`` (the
      ``+ 2``: the output register and ``w_rdy``'s view of the leaving head), so ``u.ready``
      then never drops. Its head is a fabric register (``output_register``): the block RAM's
      slow output feeds no logic.
    * side FIFOs around the ThresholdUnit and the Quantiser: ``latency + 1`` (see
      :class:`~axelram_hw.lib.sideband.Sideband`).

    The ``u`` FIFO is built as lock-step slices of at most 1024 bits (a power of two of lanes
    each), sharing their write and read enables: one FIFO with one state, in ``u_slices`` parts.

    Parameters
    ----------
    cfg : AxelramConfig

    Attributes
    ----------
    u_depth, key_depth : int
        Depths of the ``u`` FIFO and of the per-key FIFO.
    key_credits : int
        Keys that may be inside (first beat taken, last ``u`` beat not yet joined).
    u_slices : int
        Number of lock-step slices of the ``u`` FIFO.
    latency : int
        Clocks from the transfer of a key's last beat on ``key`` to its first output beat when
        its ``u`` beats are already waiting (no stalls).

    Members
    -------
    key : ``In(stream.Signature(key_beat_layout(cfg)))``
        Raw key beats, ``cfg.beats`` per key.
    u : ``In(stream.Signature(rotated_beat_layout(cfg)))``
        Rotated key beats, ``cfg.beats`` per key, same keys in the same order.
    o : ``Out(stream.Signature(encoded_layout(cfg)))``
        ``{idx, mant, exp}``, one beat per ``u`` beat.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        self._norm = NormUnit(cfg)
        self._thresholds = (sideband_threshold_unit(cfg, norm_word_layout(cfg))
                            if cfg.b > 1 else None)
        self._quantiser = Sideband(Quantiser(cfg), norm_word_layout(cfg))
        info_latency = (self._norm.latency + FIFO_LATENCY
                        + (self._thresholds.latency if self._thresholds else 0))
        # keys in flight at one key per `beats` clocks: first beat -> key FIFO entry popped
        # (info_latency + 2 * beats - 2 clocks), plus the clock a returned credit takes
        self.key_credits = -(-(info_latency + 2 * cfg.beats) // cfg.beats) + 1
        self.key_depth = self.key_credits + 1
        self.u_depth = max(info_latency + cfg.beats, self.key_credits * cfg.beats + 2)
        lanes_per_slice = 1 << max(0, (_U_SLICE_BITS // cfg.u_width).bit_length() - 1)
        self._slice_lanes = min(cfg.lanes, lanes_per_slice)
        self.u_slices = cfg.lanes // self._slice_lanes
        self.latency = info_latency + self._quantiser.latency
        self._key_info = data.StructLayout({"data": threshold_layout(cfg),
                                            "side": norm_word_layout(cfg)})
        super().__init__(KeyEncoderSignature(cfg))

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg

        m.submodules.norm = norm = self._norm
        m.submodules.quantiser = quantiser = self._quantiser
        m.submodules.key_fifo = key_fifo = BufferedFIFO(width=self._key_info.size,
                                                            depth=self.key_depth)
        slice_width = self._slice_lanes * cfg.u_width
        u_fifos = []
        for n in range(self.u_slices):
            u_fifo = BufferedFIFO(width=slice_width, depth=self.u_depth, output_register=True)
            m.submodules[f"u_fifo{n}" if self.u_slices > 1 else "u_fifo"] = u_fifo
            u_fifos.append(u_fifo)

        # -- key credits: a key enters only with a key-FIFO entry reserved ---------------------
        credits = Signal(range(self.key_credits + 1), init=self.key_credits)
        key_beat = Signal(range(cfg.beats))
        key_start = key_beat == 0
        m.d.comb += [
            self.key.ready.eq(~key_start | (credits != 0)),
            norm.i.payload.eq(self.key.payload),
            norm.i.valid.eq(self.key.valid & self.key.ready),
        ]
        take_key = self.key.valid & self.key.ready
        with m.If(take_key):
            m.d.sync += key_beat.eq(key_beat + 1)  # beats is a power of two: wraps to 0
        m.d.sync += credits.eq(credits - (take_key & key_start) + key_fifo.r_en)

        # -- per key: norm, thresholds, into the key FIFO (never full: no back-pressure, so the
        # norm and threshold pipelines have no enable) -------------------------------------------
        if self._thresholds is not None:
            m.submodules.thresholds = thresholds = self._thresholds
            m.d.comb += [
                thresholds.i.payload.data.m.eq(norm.o.payload.m),
                thresholds.i.payload.data.z.eq(norm.o.payload.z),
                thresholds.i.payload.side.mant.eq(norm.o.payload.mant),
                thresholds.i.payload.side.exp.eq(norm.o.payload.exp),
                thresholds.i.valid.eq(norm.o.valid),
                norm.o.ready.eq(thresholds.i.ready),
                key_fifo.w_data.eq(thresholds.o.payload),  # same layout as _key_info
                key_fifo.w_en.eq(thresholds.o.valid),
                thresholds.o.ready.eq(1),
            ]
        else:
            key_in = data.View(self._key_info, key_fifo.w_data)
            m.d.comb += [
                key_in.side.mant.eq(norm.o.payload.mant),
                key_in.side.exp.eq(norm.o.payload.exp),
                key_fifo.w_en.eq(norm.o.valid),
                norm.o.ready.eq(1),
            ]

        # -- per beat: join each u beat with its key's entry, pop the key on its last beat -------
        u_head = Cat(*(u_fifo.r_data for u_fifo in u_fifos))
        u_ready = Cat(*(u_fifo.r_rdy for u_fifo in u_fifos)).all()
        m.d.comb += self.u.ready.eq(Cat(*(u_fifo.w_rdy for u_fifo in u_fifos)).all())
        for n, u_fifo in enumerate(u_fifos):
            m.d.comb += [
                u_fifo.w_data.eq(self.u.payload.as_value().word_select(n, slice_width)),
                u_fifo.w_en.eq(self.u.valid & self.u.ready),
            ]

        key_head = data.View(self._key_info, key_fifo.r_data)
        beat = Signal(range(cfg.beats))
        last_beat = beat == cfg.beats - 1
        do_join = quantiser.i.valid & quantiser.i.ready
        m.d.comb += [
            quantiser.i.payload.data.u.eq(u_head),
            quantiser.i.payload.data.lo.eq(key_head.data.lo),
            quantiser.i.payload.side.eq(key_head.side),
            quantiser.i.valid.eq(u_ready & key_fifo.r_rdy),
            key_fifo.r_en.eq(do_join & last_beat),
        ]
        m.d.comb += [u_fifo.r_en.eq(do_join) for u_fifo in u_fifos]
        with m.If(do_join):
            m.d.sync += beat.eq(beat + 1)  # beats is a power of two: wraps to 0

        # -- out -----------------------------------------------------------------------------
        m.d.comb += [
            self.o.payload.idx.eq(quantiser.o.payload.data),
            self.o.payload.mant.eq(quantiser.o.payload.side.mant),
            self.o.payload.exp.eq(quantiser.o.payload.side.exp),
            self.o.valid.eq(quantiser.o.valid),
            quantiser.o.ready.eq(self.o.ready),
        ]
        return m
