"""BufferedFIFO: clock-for-clock the behaviour of SyncFIFOBuffered, and its memory is marked."""

import random

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from axelram_hw.fifo import BufferedFIFO


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


def test_memory_is_marked_collision_free():
    fifo = BufferedFIFO(width=8, depth=4)
    text = verilog.convert(fifo, ports=[fifo.w_data, fifo.w_en, fifo.r_en, fifo.r_data],
                           emit_src=False)
    assert "(* no_rw_check = 32'd1 *)" in text


def test_rejects_depth_below_two():
    with pytest.raises(ValueError, match="depth must be at least 2, not 1"):
        BufferedFIFO(width=8, depth=1)
