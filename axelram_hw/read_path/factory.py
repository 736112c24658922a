"""The read path's factory: the only place that picks its micro-architecture."""

from .read_path import ReadPath
from .read_path_serial import SerialReadPath

__all__ = ["read_path_class", "make_read_path"]


def read_path_class(cfg):
    """:class:`SerialReadPath` at ``lanes = 1`` (packed single-ported store, one coordinate per
    clock), else :class:`ReadPath`."""
    return SerialReadPath if cfg.lanes == 1 else ReadPath


def make_read_path(cfg):
    """The read path for ``cfg`` (a :class:`~.interface.ReadPathSignature`)."""
    return read_path_class(cfg)(cfg)
