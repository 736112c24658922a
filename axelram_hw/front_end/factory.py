"""The front end's factory: the only place that picks the rotation's micro-architecture."""

from .fwht import SignFlipFWHT
from .fwht_serial import SerialFWHT

__all__ = ["rotation_class", "make_rotation"]


def rotation_class(cfg):
    """:class:`SerialFWHT` at ``lanes = 1`` (coordinate-serial), else :class:`SignFlipFWHT`."""
    return SerialFWHT if cfg.lanes == 1 else SignFlipFWHT


def make_rotation(cfg):
    """The sign-flip + FWHT unit for ``cfg`` (a :class:`~.interface.RotationSignature`)."""
    return rotation_class(cfg)(cfg)
