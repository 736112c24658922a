"""UARTReceiver / UARTTransmitter in the Amaranth simulator: loopback with random handshakes, the
receiver against a bit-level reference (clock mismatch, glitch, framing error, overrun), the
transmitter's bit timing, reset, and the parameter check."""

import math
import random

import pytest
from amaranth import Module, ResetInserter, Signal

from axelram_hw.board.uart import UARTReceiver, UARTTransmitter
from tests.support.streams import run, sink, source, stream_get, stream_put

DIVISORS = [4, 5, 12, 25]
SPECIAL = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80]


# ---- the reference: a bit-banger that knows nothing of the RTL ---------------------------------

def frame(byte, stop=1):
    """Line levels of one 8N1 frame: start bit, data LSB first, stop bit."""
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


def render(segments):
    """Per-clock line levels from ``(level, clocks)`` segments (``clocks`` may be fractional):
    clock ``n`` sees the level of the segment that covers time ``n``."""
    levels, end, t = [], 0.0, 0
    for level, clocks in segments:
        end += clocks
        while t < end:
            levels.append(level)
            t += 1
    return levels


def serial(frames, period, *, rng=None, max_gap=0.0, lead=3.0, tail=12.0):
    """Segments of ``frames`` (lists of levels) at ``period`` clocks per bit, ``lead`` bits of
    idle before, a random idle gap of up to ``max_gap`` bits between frames, ``tail`` after."""
    rng = rng or random.Random(0)
    segments = [(1, lead * period + rng.random())]   # random phase against the clock
    for bits in frames:
        segments += [(level, period) for level in bits]
        segments.append((1, rng.uniform(0, max_gap) * period))
    segments.append((1, tail * period))
    return segments


def drive(pin, levels):
    """Testbench that puts ``levels`` on ``pin``, one per clock."""
    async def testbench(ctx):
        for level in levels:
            ctx.set(pin, level)
            await ctx.tick()
    return testbench


def counters(ctx, rx):
    return ctx.get(rx.framing_errors), ctx.get(rx.overruns)


def receive(rx, count, got, *, rng, p_ready=0.5, tail=0, expect=(0, 0)):
    """:func:`sink` on ``rx.o``, then ``framing_errors, overruns == expect``."""
    take = sink(rx.o, count, got, rng=rng, p_ready=p_ready, tail=tail)

    async def testbench(ctx):
        await take(ctx)
        assert counters(ctx, rx) == expect
    return testbench


def random_bytes(rng, n):
    return SPECIAL + [rng.randrange(256) for _ in range(n - len(SPECIAL))]


# ---- loopback ----------------------------------------------------------------------------------

@pytest.mark.parametrize("divisor", DIVISORS)
def test_loopback_random_handshakes(divisor):
    """TX -> RX: random bytes, random gaps on the transmitter's input, random back-pressure on
    the receiver's output; every byte arrives in order, no framing error or overrun."""
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    rng = random.Random(divisor)
    sent, got = random_bytes(rng, 40), []
    run(m, source(tx.i, sent, rng=random.Random(rng.random()), p_valid=0.6),
        receive(rx, len(sent), got, rng=random.Random(rng.random()), tail=30 * divisor),
        deadline_cycles=len(sent) * 40 * divisor)
    assert got == sent


# ---- the receiver against the bit-banger --------------------------------------------------------

@pytest.mark.parametrize("skew", [-0.02, 0.0, 0.02])
@pytest.mark.parametrize("divisor", DIVISORS)
def test_receiver_reads_bit_banger(divisor, skew):
    """Frames back to back or with random gaps, from a sender whose clock is off by ``skew``."""
    rx = UARTReceiver(divisor)
    rng = random.Random(divisor * 100 + int(skew * 100))
    sent, got = random_bytes(rng, 30), []
    levels = render(serial([frame(b) for b in sent], divisor * (1 + skew), rng=rng,
                           max_gap=rng.choice([0.0, 1.5])))
    run(rx, drive(rx.rx, levels), receive(rx, len(sent), got, rng=rng),
        deadline_cycles=len(levels) + 20 * divisor)
    assert got == sent


@pytest.mark.parametrize("divisor", DIVISORS)
def test_receiver_ignores_short_glitch(divisor):
    """A low pulse shorter than half a bit on the idle line is no start bit."""
    rx = UARTReceiver(divisor)
    glitch = math.ceil(divisor / 2) - 1
    levels = [1] * (3 * divisor) + [0] * glitch + render(serial([frame(0xA5)], divisor))
    got = []
    run(rx, drive(rx.rx, levels), receive(rx, 1, got, rng=random.Random(0), tail=divisor),
        deadline_cycles=len(levels) + 20 * divisor)
    assert got == [0xA5]


@pytest.mark.parametrize("divisor", DIVISORS)
def test_receiver_drops_frame_with_low_stop_bit(divisor):
    """A frame whose stop bit is 0, followed by a break of three frames: one framing error, the
    byte dropped, no byte or error from the break; the next good frame is read."""
    rx = UARTReceiver(divisor)
    segments = (serial([frame(0x3C)], divisor, tail=1)
                + [(level, divisor) for level in frame(0x5A, stop=0)]
                + [(0, 30 * divisor), (1, 2 * divisor)]
                + serial([frame(0xC3)], divisor))
    levels, got = render(segments), []
    run(rx, drive(rx.rx, levels),
        receive(rx, 2, got, rng=random.Random(1), tail=divisor, expect=(1, 0)),
        deadline_cycles=len(levels) + 20 * divisor)
    assert got == [0x3C, 0xC3]


def test_receiver_counts_overruns():
    """Three frames while ``o`` is not taken: the first byte is held, the other two are dropped
    and counted; once ``o`` is taken the next frame is read again."""
    divisor = 5
    rx = UARTReceiver(divisor)
    first = render(serial([frame(b) for b in (0x11, 0x22, 0x33)], divisor))
    second = render(serial([frame(0x44)], divisor))

    async def testbench(ctx):
        for level in first:
            ctx.set(rx.rx, level)
            await ctx.tick()
        assert ctx.get(rx.o.valid) and ctx.get(rx.o.payload) == 0x11
        assert counters(ctx, rx) == (0, 2)
        assert await stream_get(ctx, rx.o) == 0x11
        assert not ctx.get(rx.o.valid)
        for level in second:
            ctx.set(rx.rx, level)
            await ctx.tick()
        assert await stream_get(ctx, rx.o) == 0x44
        assert counters(ctx, rx) == (0, 2)

    run(rx, testbench, deadline_cycles=len(first) + len(second) + 40 * divisor)


# ---- the transmitter's waveform ----------------------------------------------------------------

@pytest.mark.parametrize("divisor", [4, 12])
def test_transmitter_bit_timing(divisor):
    """Idle high; then each bit of each frame exactly ``divisor`` clocks (start low, LSB first,
    stop high), two frames back to back, then idle high again."""
    tx = UARTTransmitter(divisor)
    data = [0x96, 0x0F]
    want = [level for b in data for level in frame(b) for _ in range(divisor)] + [1] * 3 * divisor
    line = []

    async def send(ctx):
        for _ in range(5):
            assert ctx.get(tx.tx) == 1 and ctx.get(tx.i.ready)
            await ctx.tick()
        for b in data:
            await stream_put(ctx, tx.i, b)

    async def record(ctx):
        while ctx.get(tx.tx):
            await ctx.tick()
        for _ in range(len(want)):
            line.append(ctx.get(tx.tx))
            await ctx.tick()

    run(tx, send, record, deadline_cycles=len(want) + 20 * divisor)
    assert line == want


# ---- reset -------------------------------------------------------------------------------------

def test_reset_returns_both_to_idle():
    """A reset in the middle of a frame: the line goes high at once, the cut frame yields no
    byte and no error, and the next byte goes through."""
    divisor = 6
    rst = Signal()
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(divisor)
    m.submodules.rx = rx = UARTReceiver(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    top = ResetInserter(rst)(m)
    got = []

    async def testbench(ctx):
        await stream_put(ctx, tx.i, 0x00)
        await ctx.tick().repeat(4 * divisor)
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        assert ctx.get(tx.tx) == 1 and ctx.get(tx.i.ready)
        await ctx.tick().repeat(12 * divisor)
        assert not ctx.get(rx.o.valid) and counters(ctx, rx) == (0, 0)
        await stream_put(ctx, tx.i, 0xE7)
        got.append(await stream_get(ctx, rx.o))
        assert counters(ctx, rx) == (0, 0)

    run(top, testbench, deadline_cycles=60 * divisor)
    assert got == [0xE7]


def test_receiver_reset_waits_for_high_line():
    """A reset of the receiver in the middle of a 0x00 frame: the low data bits still on the
    line are not taken for a start bit (no byte, no framing error); the next frame is read."""
    divisor = 8
    rst = Signal()
    rx = UARTReceiver(divisor)
    top = ResetInserter(rst)(rx)
    levels = render(serial([frame(0x00), frame(0x6B)], divisor, max_gap=2.0))
    cut = (3 + 4) * divisor + divisor // 2   # the lead (3 bits), then mid data bit 3 of 0x00

    async def reset(ctx):
        await ctx.tick().repeat(cut)
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)

    got = []
    run(top, drive(rx.rx, levels), reset,
        receive(rx, 1, got, rng=random.Random(2), tail=divisor),
        deadline_cycles=len(levels) + 20 * divisor)
    assert got == [0x6B]


# ---- parameters --------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [UARTReceiver, UARTTransmitter])
def test_rejects_bad_divisor(cls):
    with pytest.raises(ValueError, match=r"^divisor must be an integer of at least 4, not 3$"):
        cls(3)
    for bad in (4.0, "8", True, None):
        with pytest.raises(ValueError, match=r"divisor must be an integer of at least 4, not "):
            cls(bad)
