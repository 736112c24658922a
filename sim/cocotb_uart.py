"""cocotb tests of the UART against an independent model, cocotbext-uart's ``UartSource`` and
``UartSink`` (run by tests/sim/test_cocotb_uart.py).

The design is a loopback, ``rx`` -> :class:`~axelram_hw.board.uart.UARTReceiver` ->
:class:`~axelram_hw.board.uart.UARTTransmitter` -> ``tx``, with the receiver's
``framing_errors`` and ``overruns`` as outputs; ``AXELRAM_UART_DIVISOR`` gives its clocks per
bit. The models run at the nominal baud rate, ``1 / (divisor * 10 ns)``; the DUT's clock is
exact or 2 % off either way.
"""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer, with_timeout
from cocotbext.uart import UartSink, UartSource

from . import env
from .scoreboard import Scoreboard

TIMEOUT = dict(timeout_time=5, timeout_unit="ms")
DIVISOR_VAR = "AXELRAM_UART_DIVISOR"
CLOCK_PS = 10_000


class UartTB:
    """The loopback with a ``UartSource`` on ``rx``, a ``UartSink`` on ``tx`` and an in-order
    scoreboard of the bytes (a loopback's model is the identity).

    Parameters
    ----------
    dut : the cocotb top-level handle
    clock_ps : int
        The DUT's clock period; the models' baud rate stays nominal.
    """

    def __init__(self, dut, clock_ps=CLOCK_PS):
        self.dut = dut
        self.divisor = int(os.environ[DIVISOR_VAR])
        self.bit_ns = self.divisor * CLOCK_PS // 1000
        baud = 10**9 // self.bit_ns   # cocotbext-uart times bits as int(1e9 / baud) ns
        assert int(1e9 / baud) == self.bit_ns, "pick a divisor whose bit time is whole ns"
        self.source = UartSource(dut.rx, baud=baud)
        self.sink = UartSink(dut.tx, baud=baud)
        self.scoreboard = Scoreboard("loopback bytes")
        self.sent = 0
        cocotb.start_soon(Clock(dut.clk, clock_ps, "ps").start())

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 4)

    async def send(self, data):
        for b in data:
            self.scoreboard.expect(b, f"byte {self.sent}")
            self.sent += 1
        await self.source.write(data)

    async def finish(self):
        """Wait for every byte sent to come back, then three idle frames; check the scoreboard,
        that nothing more arrived, and the receiver's error counts."""
        frame_ns = 10 * self.bit_ns
        await self.source.wait()
        while self.scoreboard.outstanding:
            data = await with_timeout(self.sink.read(), 4 * frame_ns, "ns")
            for b in data:
                self.scoreboard.observe(b)
        await Timer(3 * frame_ns, "ns")
        for b in self.sink.read_nowait():
            self.scoreboard.observe(b)
        self.scoreboard.check()
        errors = int(self.dut.framing_errors.value), int(self.dut.overruns.value)
        assert errors == (0, 0), f"framing errors, overruns: {errors}"


async def start(dut, name, **kwargs):
    tb = UartTB(dut, **kwargs)
    await tb.reset()
    return tb, random.Random(env.seed(name))


@cocotb.test(**TIMEOUT)
async def back_to_back(dut):
    """Random bytes, frames back to back, the DUT's clock exact."""
    tb, rng = await start(dut, "back_to_back")
    await tb.send(bytes([0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(196)]))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def dut_clock_fast(dut):
    """The DUT's clock 2 % fast: its bits are short against the models' (frames back to back:
    the transmitter keeps up with the receiver)."""
    tb, rng = await start(dut, "dut_clock_fast", clock_ps=CLOCK_PS * 98 // 100)
    await tb.send(bytes(rng.randrange(256) for _ in range(100)))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def dut_clock_slow(dut):
    """The DUT's clock 2 % slow: its bits are long against the models'. In bursts of eight with
    idle gaps (the transmitter loses 2 % of a frame per byte against back-to-back input, which
    the receiver's one-byte buffer absorbs only so long)."""
    tb, rng = await start(dut, "dut_clock_slow", clock_ps=CLOCK_PS * 102 // 100)
    for _ in range(12):
        await tb.send(bytes(rng.randrange(256) for _ in range(8)))
        await tb.source.wait()
        await Timer(rng.randint(1, 3) * 10 * tb.bit_ns, "ns")
    await tb.finish()
