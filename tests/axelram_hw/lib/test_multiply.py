"""The pipelined multiplier of axelram_hw._stage against Python integers."""

import random

import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from axelram_hw.lib.multiply import DSP_CHUNK, pipelined_product, product_latency

CASES = [  # (a shape, b shape or constant)
    (signed(16), signed(16)),        # one chunk each: the key squarer
    (signed(24), unsigned(11)),      # scorer: sum * norm mantissa
    (signed(24), 8814),              # table builder: v * centroid ROM word (constant)
    (unsigned(20), 1832835),         # threshold unit: root * threshold ROM word (constant)
    (unsigned(26), unsigned(30)),    # wide, both split
    (signed(31), signed(17)),
    (signed(24), 1 << 20),           # a constant with zero chunks
]


@pytest.mark.parametrize("a_shape,b", CASES)
def test_pipelined_product(a_shape, b):
    m = Module()
    a = Signal(a_shape)
    b_sig = b if isinstance(b, int) else Signal(b)
    product = pipelined_product(m, "p", a, b_sig)
    latency = product_latency(a, b_sig)
    rng = random.Random(len(a) * 7 + (b if isinstance(b, int) else len(b_sig)))

    def extremes(shape):
        lo, hi = (-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1) if shape.signed \
            else (0, (1 << shape.width) - 1)
        return [lo, hi, 0, 1, -1 if shape.signed else 2] + [rng.randint(lo, hi)
                                                             for _ in range(200)]

    xs = extremes(a_shape)
    ys = [b] * len(xs) if isinstance(b, int) else extremes(b)
    rng.shuffle(ys)

    async def testbench(ctx):
        got = []
        for n in range(len(xs) + latency):
            if n < len(xs):
                ctx.set(a, xs[n])
                if not isinstance(b, int):
                    ctx.set(b_sig, ys[n])
            await ctx.tick()
            if n + 1 >= latency:
                got.append(ctx.get(product))
        assert got[:len(xs)] == [x * y for x, y in zip(xs, ys, strict=True)]

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert len(product) == len(a) + (b.bit_length() if isinstance(b, int) else len(b_sig))


def test_latency_counts_the_adder_levels():
    assert product_latency(Signal(signed(16)), Signal(signed(16))) == 1
    assert product_latency(Signal(signed(24)), Signal(unsigned(11))) == 2
    assert product_latency(Signal(unsigned(DSP_CHUNK * 3)), Signal(unsigned(DSP_CHUNK * 2))) == 4
