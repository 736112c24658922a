"""Carry side data past a pure pipeline that does not know about it."""

from amaranth import Module, Shape
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .fifo import FIFO_LATENCY, BufferedFIFO

__all__ = ["Sideband"]


class Sideband(wiring.Component):
    """Carry side data past a pure pipeline ``inner`` that does not know about it.

    ``i.payload.data`` goes into ``inner``; ``i.payload.side`` goes into a FIFO at the same
    transfer and meets ``inner``'s result at the output: ``o.payload = {data, side}``, in order.
    The FIFO holds one entry per token inside ``inner`` (at most ``inner.latency``), plus one
    because ``BufferedFIFO.w_rdy`` does not count its output register as free when it is
    being read: depth ``inner.latency + 1`` is never full when ``inner`` takes a token. A
    token's side entry is written when the token enters, at least ``inner.latency >= 2``
    clocks (the FIFO's latency) before it leaves, so the entry is always at the head when the
    token is offered. The handshake is therefore ``inner``'s alone.

    Parameters
    ----------
    inner : wiring.Component
        A pure pipeline with stream members ``i`` and ``o`` and a ``latency`` attribute
        (at least ``FIFO_LATENCY``, so the side entry is always there first).
    side_shape : ShapeLike
        Shape of the side data.
    signature : wiring.Signature or None
        The contract the wrapped pipeline implements (e.g. a twin's signature class); its
        members must be the ``{i, o}`` above. ``None``: a plain signature.
    """

    def __init__(self, inner, side_shape, signature=None):
        assert inner.latency >= FIFO_LATENCY
        self._inner = inner
        self._side_shape = side_shape
        self.depth = inner.latency + 1
        self.latency = inner.latency
        members = {
            "i": In(stream.Signature(data.StructLayout({
                "data": inner.i.payload.shape(), "side": side_shape}))),
            "o": Out(stream.Signature(data.StructLayout({
                "data": inner.o.payload.shape(), "side": side_shape}))),
        }
        if signature is None:
            signature = wiring.Signature(members)
        elif dict(signature.members) != members:
            raise ValueError(f"signature {signature!r} does not have the members {members!r}")
        super().__init__(signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self._inner
        m.submodules.side = side = BufferedFIFO(width=Shape.cast(self._side_shape).width,
                                                    depth=self.depth)
        # The side FIFO is never full when ``inner`` takes a token and never empty when ``inner``
        # offers one (see the class docstring), so the handshake is ``inner``'s alone: with
        # ``o.ready`` tied high, ``inner``'s enable is constant and vanishes.
        m.d.comb += [
            # Fork: both take the beat in the same cycle.
            inner.i.payload.eq(self.i.payload.data),
            inner.i.valid.eq(self.i.valid),
            side.w_data.eq(self.i.payload.side),
            side.w_en.eq(self.i.valid & inner.i.ready),
            self.i.ready.eq(inner.i.ready),
            # Join: both give the result in the same cycle.
            self.o.payload.data.eq(inner.o.payload),
            self.o.payload.side.eq(side.r_data),
            self.o.valid.eq(inner.o.valid),
            inner.o.ready.eq(self.o.ready),
            side.r_en.eq(self.o.ready & inner.o.valid),
        ]
        return m
