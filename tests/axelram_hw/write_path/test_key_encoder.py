"""KeyEncoder (folded / fully parallel) against golden.fixed.FixedModel.write, bit for bit (the
coordinate-serial twin is in test_key_encoder_serial.py)."""

import random

import numpy as np
import pytest
from amaranth import Signal
from amaranth.hdl import ResetInserter

from axelram_hw.write_path.factory import make_key_encoder
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from tests.support.key_encoder import check, forked_source, run_encoder
from tests.support.keys import key_beats, make_keys
from tests.support.streams import run, sink, source

CONFIGS = {
    "d8_b1": dict(d=8, b=1),
    "d8_b2_p2": dict(d=8, b=2, lanes=2),
    "d16_b3": dict(d=16, b=3),
    "d16_b4_p4": dict(d=16, b=4, lanes=4),
    "d128_b3_p128": dict(d=128, b=3),
    "d128_b3_p8": dict(d=128, b=3, lanes=8),
}


@pytest.mark.parametrize("antisymmetric", [True, False], ids=["anti", "full"])
@pytest.mark.parametrize("name", CONFIGS)
def test_key_encoder_bit_exact(name, antisymmetric):
    cfg = AxelramConfig(**CONFIGS[name], antisymmetric=antisymmetric)
    keys = make_keys(cfg, np.random.default_rng(sum(map(ord, name))),
                     n_random=6 if cfg.lanes >= 64 else 20)
    got = run_encoder(cfg, keys, seed=7 + antisymmetric)
    check(cfg, keys, got)


@pytest.mark.parametrize("key_delay,u_delay", [(0, 120), (120, 0)], ids=["u_late", "u_early"])
def test_key_encoder_stream_skew(key_delay, u_delay):
    """Either input stream may run far ahead of the other."""
    cfg = AxelramConfig(d=16, b=3, lanes=4)
    keys = make_keys(cfg, np.random.default_rng(11), n_random=10)
    got = run_encoder(cfg, keys, seed=3, p=0.8, key_delay=key_delay, u_delay=u_delay)
    check(cfg, keys, got)


@pytest.mark.parametrize("name", ["d8_b1", "d16_b3", "d16_b4_p4", "d128_b3_p8"])
def test_key_encoder_back_to_back(name):
    """Keys and u forked from one source, never stalled: one output beat per clock, no gaps.

    This is the case the ``u`` FIFO depth is derived for.
    """
    cfg = AxelramConfig(**CONFIGS[name])
    dut = make_key_encoder(cfg)
    # Long enough that the u FIFO fills several times over.
    keys = make_keys(cfg, np.random.default_rng(2), n_random=4 * dut.u_depth // cfg.beats)
    u = FixedModel(cfg).rotate(keys, 0)
    got, stamps = [], []
    n = len(keys) * cfg.beats

    async def timed_sink(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(got) < n:
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid:
                got.append(payload)
                stamps.append(cycle)

    run(dut, forked_source([dut.key, dut.u], [key_beats(cfg, keys), key_beats(cfg, u)]),
        timed_sink, deadline_cycles=n + 4 * dut.latency + 100)
    check(cfg, keys, got)
    assert stamps[0] == dut.latency + cfg.beats, "first output later than the derived latency"
    assert stamps[-1] - stamps[0] == n - 1, "gaps in a back-to-back stream"


def test_key_encoder_reset_mid_traffic():
    """A reset with keys half-written on both streams: the keys after it come out right."""
    cfg = AxelramConfig(d=16, b=3, lanes=4)
    rng = np.random.default_rng(9)
    before = make_keys(cfg, rng, n_random=6)[8:13]  # Gaussian keys
    after = make_keys(cfg, rng, n_random=6)
    model = FixedModel(cfg)
    rst = Signal()
    dut = make_key_encoder(cfg)
    top = ResetInserter(rst)(dut)
    phase = {"done": 0, "reset": False}
    got = []

    # Before: 4.5 keys on `key`, 3.25 keys of `u`, only 5 output beats taken.
    def counted(testbench):
        async def wrapper(ctx):
            await testbench(ctx)
            phase["done"] += 1
        return wrapper

    def after_reset(testbench):
        async def wrapper(ctx):
            while not phase["reset"]:
                await ctx.tick()
            await testbench(ctx)
        return wrapper

    n_key, n_u = 4 * cfg.beats + 2, 3 * cfg.beats + 1
    pre_got = []

    async def controller(ctx):
        while phase["done"] < 3:
            await ctx.tick()
        await ctx.tick().repeat(30)  # let the pipelines fill with the half-written keys
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        phase["reset"] = True

    n = len(after) * cfg.beats
    run(top,
        counted(source(dut.key, key_beats(cfg, before)[:n_key], rng=random.Random(1),
                       p_valid=0.7)),
        counted(source(dut.u, key_beats(cfg, model.rotate(before, 0))[:n_u],
                       rng=random.Random(2), p_valid=0.7)),
        counted(sink(dut.o, 5, pre_got, rng=random.Random(3), p_ready=0.5)),
        controller,
        after_reset(source(dut.key, key_beats(cfg, after), rng=random.Random(4), p_valid=0.6)),
        after_reset(source(dut.u, key_beats(cfg, model.rotate(after, 0)), rng=random.Random(5),
                           p_valid=0.6)),
        after_reset(sink(dut.o, n, got, rng=random.Random(6), p_ready=0.6,
                         tail=dut.latency + 20)),
        deadline_cycles=20 * n + 500)
    check(cfg, before[:1], pre_got[:cfg.beats])
    check(cfg, after, got)
