"""The write path's factory: the only place that picks its micro-architecture.

``lanes > 1``: the folded / fully parallel :class:`KeyEncoder`. ``lanes = 1``: the
coordinate-serial :class:`SerialKeyEncoder`, with the iterative norm and threshold units where
they keep up with one key per ``d`` clocks (their ``interval <= d``), the pipelined ones
elsewhere (the fall-back rule).
"""

from .interface import norm_word_layout
from .key_encoder import KeyEncoder
from .key_encoder_serial import SerialKeyEncoder
from .norm import NormUnit
from .norm_iterative import IterativeNormUnit
from .thresholds import sideband_threshold_unit
from .thresholds_iterative import IterativeThresholdUnit

__all__ = ["make_key_encoder", "make_norm_unit", "make_threshold_unit"]


def make_norm_unit(cfg):
    """The norm unit the encoder for ``cfg`` uses: iterative at ``lanes = 1`` when it keeps up."""
    if cfg.lanes == 1 and IterativeNormUnit.interval_of(cfg) <= cfg.d:
        return IterativeNormUnit(cfg)
    return NormUnit(cfg)


def make_threshold_unit(cfg, side_shape):
    """The threshold unit (a :class:`ThresholdSignature` carrying ``side_shape``) the encoder
    for ``cfg`` uses: iterative at ``lanes = 1`` when it keeps up; ``None`` for ``b = 1``."""
    if cfg.b == 1:
        return None
    if cfg.lanes == 1 and IterativeThresholdUnit.interval_of(cfg) <= cfg.d:
        return IterativeThresholdUnit(cfg, side_shape)
    return sideband_threshold_unit(cfg, side_shape)


def make_key_encoder(cfg):
    """The key encoder for ``cfg`` (a :class:`~.interface.KeyEncoderSignature`)."""
    if cfg.lanes == 1:
        return SerialKeyEncoder(cfg, make_norm_unit(cfg),
                                make_threshold_unit(cfg, norm_word_layout(cfg)))
    return KeyEncoder(cfg)
