"""cocotb stream source, sink and monitor for Amaranth's ``<name>__payload/valid/ready`` ports.

Protocol (``amaranth.lib.stream``): a beat transfers on a rising edge where ``valid`` and
``ready`` are both 1; ``valid`` never waits for ``ready`` and, once raised, stays up with a
stable payload until the beat transfers. Every component works in two phases per clock: it drives
right after the rising edge and samples in the ReadOnly phase that follows, when everything
(including combinational ``ready``/``valid`` paths through the DUT) has settled for the next edge.
Transfers while ``rst`` is 1 do not count (the DUT is being reset).
"""

from collections import deque

import cocotb
from cocotb.triggers import Event, ReadOnly, RisingEdge

from .pause import never

__all__ = ["StreamSource", "StreamSink", "StreamMonitor", "read_bit"]


def read_bit(handle, what):
    """A 1-bit signal as a bool; X or Z raise (a testbench must not guess)."""
    value = str(handle.value)
    if value == "1":
        return True
    if value == "0":
        return False
    raise ValueError(f"{what} is {value!r}, not 0 or 1")


def _handles(dut, name):
    try:
        return (getattr(dut, f"{name}__payload"), getattr(dut, f"{name}__valid"),
                getattr(dut, f"{name}__ready"))
    except AttributeError:
        raise AttributeError(f"DUT has no stream {name!r} ({name}__payload/valid/ready)") from None


class StreamSource:
    """Drive a stream: ``send`` queues payloads (encoded by ``codec`` at once, so a bad value
    fails where it is made); ``pause`` (one bool per beat offered) holds ``valid`` low."""

    def __init__(self, dut, name, clock, codec, *, pause=None):
        self.name = name
        self.codec = codec
        self._payload, self._valid, self._ready = _handles(dut, name)
        self._edge = RisingEdge(clock)
        self.pause = pause if pause is not None else never()
        self._queue = deque()
        self._current = None
        self._driving = False
        self.hold = False        # set during reset: offer nothing
        self.sent = 0            # beats transferred
        self._idle = Event()
        self._idle.set()
        self._valid.value = 0
        self._task = cocotb.start_soon(self._run())

    def send(self, value):
        self._queue.append(self.codec.encode(value))
        self._idle.clear()

    @property
    def pending(self):
        """Beats queued or on the wire, not yet transferred."""
        return len(self._queue) + (self._current is not None)

    @property
    def idle(self):
        return self.pending == 0

    def flush(self):
        """Drop every beat not yet transferred (call after a rising edge, not in ReadOnly)."""
        self._queue.clear()
        self._current = None
        if self._driving:
            self._valid.value = 0
            self._driving = False
        self._idle.set()

    async def wait_idle(self):
        while not self.idle:
            await self._idle.wait()

    async def _run(self):
        accepted = False
        while True:
            await self._edge
            if accepted:
                self.sent += 1
                self._current = None
                accepted = False
            if self._current is None:
                if self._queue and not self.hold and not next(self.pause):
                    self._current = self._queue.popleft()
                    self._payload.value = self._current
                    self._valid.value = 1
                    self._driving = True
                elif self._driving:
                    self._valid.value = 0
                    self._driving = False
                if self._current is None and not self._queue:
                    self._idle.set()
            if self._current is not None:
                await ReadOnly()
                accepted = self._current is not None and read_bit(self._ready,
                                                                  f"{self.name}__ready")


class StreamMonitor:
    """Watch a stream and call every callback with each transferred payload (decoded)."""

    def __init__(self, dut, name, clock, codec, *, reset=None):
        self.name = name
        self.codec = codec
        self._payload, self._valid, self._ready = _handles(dut, name)
        self._rst = reset
        self._edge = RisingEdge(clock)
        self._callbacks = []
        self.count = 0
        self._task = cocotb.start_soon(self._run())

    def add_callback(self, callback):
        self._callbacks.append(callback)

    async def _run(self):
        valid_name, ready_name = f"{self.name}__valid", f"{self.name}__ready"
        while True:
            await ReadOnly()  # first: the clock the monitor is created in counts too
            if read_bit(self._valid, valid_name) and read_bit(self._ready, ready_name) and not (
                    self._rst is not None and read_bit(self._rst, "rst")):
                raw = self._payload.value
                try:
                    word = raw.to_unsigned()
                except ValueError:
                    raise ValueError(f"{self.name}__payload has X/Z bits in a transfer: "
                                     f"{raw}") from None
                item = self.codec.decode(word)
                self.count += 1
                for callback in self._callbacks:
                    callback(item)
            await self._edge


class StreamSink:
    """Take a stream: drive ``ready`` (low on the clocks ``pause`` says), collect payloads."""

    def __init__(self, dut, name, clock, codec, *, pause=None, reset=None):
        self.name = name
        _, _, self._ready = _handles(dut, name)
        self._edge = RisingEdge(clock)
        self.pause = pause if pause is not None else never()
        self.monitor = StreamMonitor(dut, name, clock, codec, reset=reset)
        self.received = deque()
        self.monitor.add_callback(self.received.append)
        self._level = None
        self._task = cocotb.start_soon(self._run())

    @property
    def count(self):
        return self.monitor.count

    async def _run(self):
        while True:
            level = 0 if next(self.pause) else 1
            if level != self._level:
                self._ready.value = level
                self._level = level
            await self._edge
