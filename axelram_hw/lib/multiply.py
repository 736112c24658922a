"""Pipelined multipliers built from DSP-sized partial products."""

from amaranth import Const, Signal, Value, signed, unsigned

__all__ = ["pipelined_product", "product_latency", "product_terms", "DSP_CHUNK"]

#: Operand bits per multiplier chunk. A 15-bit unsigned chunk is a 16-bit signed one, so every
#: partial product fits one DSP on each supported family (iCE40 SB_MAC16: 16 x 16; ECP5
#: MULT18X18D: 18 x 18) and no multiplier is split into DSPs joined by adders in one clock.
DSP_CHUNK = 15


def _chunks(value):
    """``(chunk, shift)`` pieces of ``value`` (a Value or a non-negative Python int): unsigned
    pieces of ``DSP_CHUNK`` bits from the bottom, then the rest, which keeps the value's
    signedness and may be one bit wider when signed (a signed 16-bit operand is one piece); the
    zero pieces of a constant are left out."""
    if isinstance(value, int):
        out = [(Const((value >> lo) & ((1 << DSP_CHUNK) - 1), DSP_CHUNK), lo)
               for lo in range(0, max(1, value.bit_length()), DSP_CHUNK)
               if (value >> lo) & ((1 << DSP_CHUNK) - 1)]
        return out or [(Const(0, 1), 0)]
    value = Value.cast(value)
    width, is_signed = len(value), value.shape().signed
    top_width = DSP_CHUNK + 1 if is_signed else DSP_CHUNK
    out, lo = [], 0
    while width - lo > top_width:
        out.append((value[lo:lo + DSP_CHUNK], lo))
        lo += DSP_CHUNK
    rest = value[lo:]
    out.append((rest.as_signed() if is_signed else rest, lo))
    return out


def product_terms(a, b):
    """Partial products (DSP multiplies) of :func:`pipelined_product` (same arguments)."""
    return len(_chunks(a)) * len(_chunks(b))


def product_latency(a, b):
    """Clocks from the operands to :func:`pipelined_product`'s result (same arguments)."""
    n, stages = product_terms(a, b), 1
    while n > 1:
        n, stages = (n + 1) // 2, stages + 1
    return stages


def pipelined_product(m, name, a, b, latency=None):
    """``a * b`` with one register after the partial products and one per adder level.

    Each operand is cut into ``DSP_CHUNK``-bit pieces (see :data:`DSP_CHUNK`); every pair of
    pieces is one registered multiply (one DSP), and the shifted partial products are summed by
    a registered binary adder tree, so no register-to-register path holds more than one
    multiplier or one adder. ``b`` may be a Python int (a constant multiplicand). Registers are
    added to ``m.d.sync`` in the caller's control context (inside ``with m.If(en):`` they obey
    the enable). Returns the product, ``len(a) + len(b)`` bits, signed if either operand is; it
    is valid :func:`product_latency` clocks after the operands, or ``latency`` clocks when given
    (at least that; extra registers are added at the end, to line up several products).
    """
    if isinstance(b, int) and b < 0:
        raise ValueError(f"a constant multiplicand must be non-negative, not {b}")
    a = Value.cast(a)
    b_value = Value.cast(Const(b) if isinstance(b, int) else b)
    width = len(a) + len(b_value)
    shape = signed(width) if a.shape().signed or b_value.shape().signed else unsigned(width)
    terms = []
    for pa, sa in _chunks(a):
        for pb, sb in _chunks(b):
            reg = Signal(shape, name=f"{name}_pp{len(terms)}", reset_less=True)
            m.d.sync += reg.eq((pa * pb) << (sa + sb))
            terms.append(reg)
    level = 0
    while len(terms) > 1:
        level += 1
        nxt = []
        for k in range(0, len(terms) - 1, 2):
            reg = Signal(shape, name=f"{name}_sum{level}_{k // 2}", reset_less=True)
            m.d.sync += reg.eq(terms[k] + terms[k + 1])
            nxt.append(reg)
        if len(terms) % 2:
            reg = Signal(shape, name=f"{name}_sum{level}_{len(nxt)}", reset_less=True)
            m.d.sync += reg.eq(terms[-1])
            nxt.append(reg)
        terms = nxt
    out = terms[0]
    for k in range((latency or 0) - product_latency(a, b)):
        reg = Signal(shape, name=f"{name}_delay{k}", reset_less=True)
        m.d.sync += reg.eq(out)
        out = reg
    return out
