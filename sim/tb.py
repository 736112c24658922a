"""Testbench base: clock, reset, the description check, and a cycle-limited wait (watchdog)."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from .description import check_handles
from .pause import make_pause
from .payload import Codec
from .streams import read_bit

__all__ = ["TB", "Timeout"]

CLOCK_NS = 10


class Timeout(AssertionError):
    """A wait ran out of clocks: the DUT is stuck or far too slow."""


class TB:
    """Common testbench parts. Subclasses create their sources/sinks in ``__init__`` and
    register reset handlers with ``on_reset``.

    Parameters
    ----------
    dut : the cocotb top-level handle
    desc : sim.description.Description
        Checked against the DUT handles first (top name, every port's width).
    seed : int
        Seeds every pause generator (``1000 * seed + n`` for the n-th one).
    pause : str
        ``"none"``, ``"random"`` or ``"burst"``: back-pressure on every stream.
    p_pause : float
        Fraction of clocks paused on each stream.
    """

    block = None

    def __init__(self, dut, desc, *, seed=1, pause="random", p_pause=0.3):
        if self.block is not None and desc.block != self.block:
            raise ValueError(f"{type(self).__name__} tests block {self.block!r}, but "
                             f"{desc.json_path} describes block {desc.block!r}")
        check_handles(dut, desc)
        self.dut = dut
        self.desc = desc
        self.cfg = desc.config
        self.seed = seed
        self._pause_kind = pause
        self._p_pause = p_pause
        self._pauses = 0
        self._reset_handlers = []
        self.sources = []
        self.cycle = 0
        self._edge = RisingEdge(dut.clk)
        # In reset from the start: whatever an earlier test left in flight is not observed
        # (monitors ignore clocks with rst = 1) until ``reset`` releases it.
        dut.rst.value = 1
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        cocotb.start_soon(self._count())

    async def _count(self):
        while True:
            await self._edge
            self.cycle += 1

    def codec(self, port):
        return Codec(self.desc.port(port).doc)

    def new_pause(self):
        """The next seeded pause generator for a stream."""
        self._pauses += 1
        return make_pause(self._pause_kind, self.seed * 1000 + self._pauses, self._p_pause)

    def on_reset(self, handler):
        self._reset_handlers.append(handler)

    async def clocks(self, n):
        for _ in range(n):
            await self._edge

    async def reset(self, clocks=2):
        """Hold ``rst`` for ``clocks`` clocks; sources drop their queues, handlers run at once.
        Every test starts with this (the testbench is created in reset)."""
        await self._edge
        self.dut.rst.value = 1
        for source in self.sources:
            source.hold = True
            source.flush()
        for handler in self._reset_handlers:
            handler()
        await self.clocks(clocks)
        self.dut.rst.value = 0
        for source in self.sources:
            source.hold = False

    async def wait_until(self, condition, max_clocks, what):
        """Clock until ``condition()`` holds; after ``max_clocks`` raise :class:`Timeout` with
        ``what`` and the testbench status."""
        for _ in range(max_clocks):
            if condition():
                return
            await self.clocks(1)
        if not condition():
            raise Timeout(f"timeout after {max_clocks} clocks waiting for {what}; "
                          f"{self.status()}")

    async def expect_quiet(self, streams, clocks):
        """For ``clocks`` clocks no output stream in ``streams`` may raise ``valid``."""
        handles = [(getattr(self.dut, f"{name}__valid"), name) for name in streams]
        for n in range(clocks):
            await self.clocks(1)
            await ReadOnly()
            for handle, name in handles:
                if read_bit(handle, f"{name}__valid"):
                    raise AssertionError(f"{name} offers a beat {n + 1} clocks after the last "
                                         f"expected one (extra output)")

    def status(self):
        """One line of progress counters for timeout messages (subclasses extend it)."""
        return ", ".join(f"{s.name}: {s.sent} sent, {s.pending} pending" for s in self.sources)
