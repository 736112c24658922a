"""The write path's contracts: the layouts between its blocks and the twin signatures.

Beats of one key: ``cfg.beats`` beats of ``lanes`` coordinates. The norm unit gives one result
per key (the root that scales the thresholds, and the stored norm word); the threshold unit one
set of thresholds per key; the quantiser and the encoder one beat of indices per rotated beat.
"""

from amaranth import signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..lib.interface import ContractSignature

__all__ = ["key_beat_layout", "rotated_beat_layout", "root_layout", "norm_word_layout",
           "norm_result_layout", "threshold_layout", "quantiser_layout", "index_layout",
           "encoded_layout", "NormUnitSignature", "ThresholdSignature", "KeyEncoderSignature"]


def key_beat_layout(cfg):
    """One beat of a raw key: ``lanes`` signed ``in_width``-bit coordinates."""
    return data.ArrayLayout(signed(cfg.in_width), cfg.lanes)


def rotated_beat_layout(cfg):
    """One beat of a rotated key ``u = FWHT(s * k)``: ``lanes`` signed ``u_width``-bit values."""
    return data.ArrayLayout(signed(cfg.u_width), cfg.lanes)


def root_layout(cfg):
    """The root ``sqrt(S) ~= m * 2**z`` that scales the thresholds."""
    return data.StructLayout({"m": unsigned(cfg.sqrt_mant), "z": signed(cfg.sqrt_z_width)})


def norm_word_layout(cfg):
    """The stored norm word ``n = mant * 2**(exp - norm_bias)``."""
    return data.StructLayout({"mant": unsigned(cfg.norm_mant),
                              "exp": unsigned(cfg.norm_exp_width)})


def norm_result_layout(cfg):
    """Per-key result of a norm unit: the root ``(m, z)`` and the stored norm ``(mant, exp)``."""
    return data.StructLayout({**root_layout(cfg).members, **norm_word_layout(cfg).members})


def threshold_layout(cfg):
    """Per-key thresholds: ``lo_j = floor(x_j)``, ``j = 1 .. 2**(b-1) - 1``.

    The quantiser compares with ``lo_j + 1/2`` (``golden.fixed.scaled_thresholds``). For
    ``b = 1`` the array is empty (zero bits wide).
    """
    thresholds = data.ArrayLayout(unsigned(cfg.threshold_width), cfg.half_levels - 1)
    return data.StructLayout({"lo": thresholds})


def quantiser_layout(cfg):
    """One quantiser input beat: ``u`` and its key's thresholds (repeated on every beat)."""
    return data.StructLayout({"u": rotated_beat_layout(cfg), **threshold_layout(cfg).members})


def index_layout(cfg):
    """One beat of indices: ``lanes`` unsigned ``b``-bit values."""
    return data.ArrayLayout(unsigned(cfg.b), cfg.lanes)


def encoded_layout(cfg):
    """One encoder output beat: ``lanes`` indices and the key's norm word (on every beat)."""
    return data.StructLayout({"idx": index_layout(cfg), **norm_word_layout(cfg).members})


class NormUnitSignature(ContractSignature):
    """Raw key beats in, one :func:`norm_result_layout` per key out.

    Taken by :class:`~axelram_hw.write_path.norm.NormUnit` and
    :class:`~axelram_hw.write_path.norm_iterative.IterativeNormUnit`.

    Members
    -------
    i : In(stream.Signature(key_beat_layout(cfg)))
    o : Out(stream.Signature(norm_result_layout(cfg)))
    """

    def __init__(self, cfg):
        super().__init__({
            "i": In(stream.Signature(key_beat_layout(cfg))),
            "o": Out(stream.Signature(norm_result_layout(cfg))),
        })


class ThresholdSignature(ContractSignature):
    """One root in, its thresholds out, each with side data carried along in order.

    Taken by :class:`~axelram_hw.write_path.thresholds_iterative.IterativeThresholdUnit` and by
    the pipelined :class:`~axelram_hw.write_path.thresholds.ThresholdUnit` inside a
    :class:`~axelram_hw.lib.sideband.Sideband`.

    Members
    -------
    i : In(stream.Signature(StructLayout({"data": root_layout(cfg), "side": side_shape})))
    o : Out(stream.Signature(StructLayout({"data": threshold_layout(cfg), "side": side_shape})))
    """

    def __init__(self, cfg, side_shape):
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "data": root_layout(cfg), "side": side_shape}))),
            "o": Out(stream.Signature(data.StructLayout({
                "data": threshold_layout(cfg), "side": side_shape}))),
        })


class KeyEncoderSignature(ContractSignature):
    """The write path after the rotation: raw and rotated key beats in, stored indices out.

    Taken by :class:`~axelram_hw.write_path.key_encoder.KeyEncoder` and
    :class:`~axelram_hw.write_path.key_encoder_serial.SerialKeyEncoder`.

    Members
    -------
    key : In(stream.Signature(key_beat_layout(cfg)))
        Raw key beats, ``cfg.beats`` per key.
    u : In(stream.Signature(rotated_beat_layout(cfg)))
        Rotated key beats, ``cfg.beats`` per key, same keys in the same order.
    o : Out(stream.Signature(encoded_layout(cfg)))
        ``{idx, mant, exp}``, one beat per ``u`` beat.
    """

    def __init__(self, cfg):
        super().__init__({
            "key": In(stream.Signature(key_beat_layout(cfg))),
            "u": In(stream.Signature(rotated_beat_layout(cfg))),
            "o": Out(stream.Signature(encoded_layout(cfg))),
        })
