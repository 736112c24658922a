"""BufferedFIFO: clock-for-clock the behaviour of SyncFIFOBuffered, and its memory is marked."""

import random

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from axelram_hw.lib.fifo import BufferedFIFO


@pytest.mark.parametrize("depth", [2, 3, 5, 8, 53])
def test_same_as_sync_fifo_buffered(depth):
    """Both FIFOs get the same random w_en/r_en/w_data; every output matches every clock."""
    m = Module()
    m.submodules.ours = ours = BufferedFIFO(width=8, depth=depth)
    m.submodules.ref = ref = SyncFIFOBuffered(width=8, depth=depth)
    rng = random.Random(depth)
    seen = {"reads": 0}

    async def testbench(ctx):
        for n in range(3000):
            phase = (n // 200) % 3  # fill-heavy, drain-heavy, balanced
            w = rng.random() < (0.8, 0.2, 0.5)[phase]
            r = rng.random() < (0.2, 0.8, 0.5)[phase]
            data = rng.randrange(256)
            for f in (ours, ref):
                ctx.set(f.w_en, w)
                ctx.set(f.r_en, r)
                ctx.set(f.w_data, data)
            for name in ("w_rdy", "r_rdy", "level"):
                assert ctx.get(getattr(ours, name)) == ctx.get(getattr(ref, name)), (n, name)
            if ctx.get(ref.r_rdy):
                assert ctx.get(ours.r_data) == ctx.get(ref.r_data), n
                seen["reads"] += r
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen["reads"] > 500


@pytest.mark.parametrize("depth", [3, 4, 7, 64])
def test_output_register_keeps_order_and_rate(depth):
    """With the output register: a reference queue checks every entry and ``level``; a write
    into an empty queue is readable three clocks later; full rate in and out at once."""
    fifo = BufferedFIFO(width=8, depth=depth, output_register=True)
    rng = random.Random(depth)
    stats = {"reads": 0, "both": 0}

    async def testbench(ctx):
        queue = []
        ctx.set(fifo.w_en, 1)
        ctx.set(fifo.w_data, 7)
        for _ in range(3):  # latency from empty: w_en in clock 0, r_rdy in clock 3
            assert not ctx.get(fifo.r_rdy)
            await ctx.tick()
            ctx.set(fifo.w_en, 0)
        assert ctx.get(fifo.r_rdy) and ctx.get(fifo.r_data) == 7
        queue.append(7)
        for n in range(4000):
            phase = (n // 250) % 4  # fill, drain, balanced, both always
            w = phase == 3 or rng.random() < (0.8, 0.2, 0.5)[min(phase, 2)]
            r = phase == 3 or rng.random() < (0.2, 0.8, 0.5)[min(phase, 2)]
            data = rng.randrange(256)
            ctx.set(fifo.w_en, w)
            ctx.set(fifo.r_en, r)
            ctx.set(fifo.w_data, data)
            w_rdy, r_rdy, level = (ctx.get(fifo.w_rdy), ctx.get(fifo.r_rdy), ctx.get(fifo.level))
            assert level == len(queue) and level <= depth
            assert r_rdy == (level > 0 and r_rdy)  # never ready when empty
            if r and r_rdy:
                assert ctx.get(fifo.r_data) == queue.pop(0), n
                stats["reads"] += 1
            if w and w_rdy:
                queue.append(data)
                stats["both"] += bool(r and r_rdy and phase == 3)
            await ctx.tick()

    sim = Simulator(fifo)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert stats["reads"] > 1000
    # full rate needs two memory entries: w_rdy does not count an entry being read as free
    assert stats["both"] > 200 or depth == 3


def test_memory_is_marked_collision_free():
    fifo = BufferedFIFO(width=8, depth=4)
    text = verilog.convert(fifo, ports=[fifo.w_data, fifo.w_en, fifo.r_en, fifo.r_data],
                           emit_src=False)
    assert "(* no_rw_check = 32'd1 *)" in text


def test_rejects_depth_below_two():
    with pytest.raises(ValueError, match="depth must be at least 2, not 1"):
        BufferedFIFO(width=8, depth=1)
    with pytest.raises(ValueError, match="depth must be at least 3 with an output register, "
                                         "not 2"):
        BufferedFIFO(width=8, depth=2, output_register=True)
