"""NormUnit against golden.fixed.root and golden.fixed.encode_norm, bit for bit (the
iterative twin is in test_norm_iterative.py)."""

import random

import numpy as np
import pytest

from axelram_hw.write_path.norm import NormUnit
from golden.config import AxelramConfig
from tests.support.keys import key_beats, make_keys
from tests.support.norm import check
from tests.support.streams import run, sink, source

CONFIGS = {
    "d8_b1": dict(d=8, b=1),
    "d16_b3_p4": dict(d=16, b=3, lanes=4),
    "d16_b4_p1": dict(d=16, b=4, lanes=1, in_width=8, norm_mant=8, sqrt_mant=8),
    "d8_b2_wide": dict(d=8, b=2, in_width=24, norm_mant=16, sqrt_mant=26),
    "d16_b3_eq": dict(d=16, b=3, norm_mant=12, sqrt_mant=12),
    "d128_b3_p128": dict(d=128, b=3),
    "d128_b3_p8": dict(d=128, b=3, lanes=8),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_norm_bit_exact(name):
    cfg = AxelramConfig(**CONFIGS[name])
    rng = np.random.default_rng(sum(map(ord, name)))
    n_random = 30 if cfg.lanes >= 64 else 100
    keys = make_keys(cfg, rng, n_random=n_random)
    dut = NormUnit(cfg)
    got = []
    run(dut,
        source(dut.i, key_beats(cfg, keys), rng=random.Random(1), p_valid=0.7),
        sink(dut.o, len(keys), got, rng=random.Random(2), p_ready=0.6, tail=dut.latency + 8),
        deadline_cycles=40 * len(keys) * cfg.beats + 400)
    check(cfg, keys, got)


def test_norm_streaming_latency():
    """Back to back at lanes == d: one key per clock, first result after ``latency`` clocks."""
    cfg = AxelramConfig(d=16, b=3)
    keys = make_keys(cfg, np.random.default_rng(5), n_random=20)
    dut = NormUnit(cfg)
    got, stamps = [], []

    async def timed_sink(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(got) < len(keys):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid:
                got.append(payload)
                stamps.append(cycle)

    run(dut, source(dut.i, key_beats(cfg, keys)), timed_sink, deadline_cycles=500)
    check(cfg, keys, got)
    assert stamps[0] == dut.latency + 1
    assert stamps[-1] - stamps[0] == len(keys) - 1, "gaps in a back-to-back stream"


def test_norm_rejects_bad_config():
    with pytest.raises(TypeError, match=r"^cfg must be an AxelramConfig, not 3$"):
        NormUnit(3)


@pytest.mark.parametrize("sqrt_mant,norm_mant", [(4, 4), (5, 4), (7, 5), (20, 11)])
def test_norm_every_small_sum(sqrt_mant, norm_mant):
    """Every sum of squares a**2 + b**2 (0 <= a, b < 32), both shift directions of the root."""
    cfg = AxelramConfig(d=4, b=2, in_width=6, sqrt_mant=sqrt_mant, norm_mant=norm_mant)
    a, b = np.meshgrid(np.arange(32), np.arange(32))
    keys = np.zeros((a.size + 1, 4), dtype=np.int64)
    keys[:-1, 0], keys[:-1, 1] = a.ravel(), b.ravel()
    keys[-1] = -32
    dut = NormUnit(cfg)
    got = []
    run(dut, source(dut.i, key_beats(cfg, keys)),
        sink(dut.o, len(keys), got, tail=dut.latency + 4), deadline_cycles=3 * len(keys) + 100)
    check(cfg, keys, got)
