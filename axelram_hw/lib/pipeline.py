"""Pipeline registers."""

from amaranth import Signal, Value

__all__ = ["stage_reg"]


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
