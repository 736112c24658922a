"""Shared Amaranth-simulator helpers: stream source/sink with seeded random valid/ready.

Usage, one testbench per side of the DUT::

    sim = Simulator(dut); sim.add_clock(1e-6)
    sim.add_testbench(source(dut.i, payloads, rng=rng_a))
    sim.add_testbench(sink(dut.o, n, got, rng=rng_b), background=False)
    sim.run()

``payloads`` are whatever ``ctx.set`` accepts for the payload (ints, dicts for structs, lists
for arrays). ``got`` receives payloads as the simulator returns them (``ctx.get``).
"""

import random

from amaranth.sim import Simulator

__all__ = ["source", "sink", "run", "stream_put", "stream_get"]


async def stream_put(ctx, stream, payload):
    """Offer one payload and wait until it is accepted (valid never waits for ready)."""
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    """Accept one payload."""
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


def source(stream, payloads, *, rng=None, p_valid=1.0):
    """Testbench that sends ``payloads`` in order, idling at random (probability 1 - p_valid)."""
    rng = rng or random.Random(0)

    async def testbench(ctx):
        for payload in payloads:
            while rng.random() > p_valid:
                await ctx.tick()
            await stream_put(ctx, stream, payload)
    return testbench


def sink(stream, count, got, *, rng=None, p_ready=1.0, tail=0):
    """Testbench that receives ``count`` payloads into ``got``, stalling at random, then keeps
    ready low for ``tail`` cycles and checks that nothing more is offered."""
    rng = rng or random.Random(1)

    async def testbench(ctx):
        for _ in range(count):
            while rng.random() > p_ready:
                await ctx.tick()
            got.append(await stream_get(ctx, stream))
        for _ in range(tail):
            await ctx.tick()
            assert not ctx.get(stream.valid), "DUT offered more payloads than expected"
    return testbench


def run(dut, *testbenches, background=(), vcd=None, deadline_cycles=None):
    """Run ``testbenches`` (the last ones to finish end the simulation) on a 1 MHz clock.

    ``background`` testbenches are stopped when the others end. ``vcd`` writes a waveform.
    """
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in testbenches:
        sim.add_testbench(tb)
    for tb in background:
        sim.add_testbench(tb, background=True)
    if deadline_cycles is not None:
        async def watchdog(ctx):
            for _ in range(deadline_cycles):
                await ctx.tick()
            raise AssertionError(f"simulation did not finish in {deadline_cycles} cycles")
        sim.add_testbench(watchdog, background=True)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
