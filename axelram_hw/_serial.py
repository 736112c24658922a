"""The configuration check shared by the coordinate-serial (``lanes = 1``) read-path blocks."""

from ._stage import check_config

__all__ = ["check_serial_config"]


def check_serial_config(component, cfg):
    """Return ``cfg``; raise ``TypeError`` unless it is an :class:`~golden.config.AxelramConfig`
    and ``ValueError`` unless ``cfg.lanes == 1`` (``component`` as in
    :func:`~axelram_hw._stage.check_config`)."""
    check_config(component, cfg)
    if cfg.lanes != 1:
        component._MustUse__silence = True
        raise ValueError(f"{type(component).__name__} is the coordinate-serial design and needs "
                         f"lanes=1, not lanes={cfg.lanes} (use the folded blocks for lanes > 1)")
    return cfg
