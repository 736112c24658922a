"""Parameter checks shared by the gateware blocks."""

from golden.config import AxelramConfig

__all__ = ["check_config", "check_serial_config"]


def check_config(component, cfg):
    """Return ``cfg``; raise ``TypeError`` unless it is an :class:`~golden.config.AxelramConfig`.

    ``component`` is the block being constructed: on error it is marked so that Amaranth does not
    also warn that it was never elaborated.
    """
    if not isinstance(cfg, AxelramConfig):
        component._MustUse__silence = True
        raise TypeError(f"cfg must be an AxelramConfig, not {cfg!r}")
    return cfg


def check_serial_config(component, cfg, alternative="the folded blocks (lanes > 1)"):
    """:func:`check_config`, and ``ValueError`` unless ``cfg.lanes == 1``: for the
    coordinate-serial blocks; ``alternative`` names what to use instead."""
    check_config(component, cfg)
    if cfg.lanes != 1:
        component._MustUse__silence = True
        raise ValueError(f"{type(component).__name__} needs lanes=1 (one coordinate per beat), "
                         f"not lanes={cfg.lanes}; use {alternative}")
    return cfg
