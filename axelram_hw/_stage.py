"""Small helpers shared by the gateware blocks: the configuration check and pipeline registers."""

from amaranth import Signal, Value

from golden.config import AxelramConfig

__all__ = ["check_config", "stage_reg"]


def check_config(component, cfg):
    """Return ``cfg``; raise ``TypeError`` unless it is an :class:`~golden.config.AxelramConfig`.

    ``component`` is the block being constructed: on error it is marked so that Amaranth does not
    also warn that it was never elaborated.
    """
    if not isinstance(cfg, AxelramConfig):
        component._MustUse__silence = True
        raise TypeError(f"cfg must be an AxelramConfig, not {cfg!r}")
    return cfg


def stage_reg(m, name, value, shape=None, *, reset_less=True):
    """A pipeline register named ``name`` loaded with ``value`` on every ``sync`` clock.

    Call it inside the block's ``with m.If(en):`` so that the global enable gates it. ``shape``
    defaults to the shape of ``value``; a narrower shape truncates. Data registers have no reset
    (a reset clears the valid bits, which is all that "no partial vector" needs, and keeps the
    reset fan-out small); pass ``reset_less=False`` for valid bits and other control state.
    """
    reg = Signal(shape if shape is not None else Value.cast(value).shape(), name=name,
                 reset_less=reset_less)
    m.d.sync += reg.eq(value)
    return reg
