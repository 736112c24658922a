"""IterativeNormUnit (lanes = 1: one squarer, an accumulator, a bit-serial root) against
golden.fixed.root and golden.fixed.encode_norm, bit for bit; interval and latency."""

import random

import numpy as np
import pytest

from axelram_hw.write_path.norm_iterative import IterativeNormUnit
from golden.config import AxelramConfig
from tests.support.keys import key_beats, make_keys
from tests.support.norm import check
from tests.support.streams import run, sink, source

SERIAL_CONFIGS = {
    "d128_b3": dict(d=128, b=3),
    "d64_w24_s26": dict(d=64, b=3, in_width=24, norm_mant=16, sqrt_mant=26),
    "d128_w8_s4": dict(d=128, b=3, in_width=8, norm_mant=4, sqrt_mant=4),
    "d32_s13": dict(d=32, b=3, sqrt_mant=13),      # interval == d: the largest that keeps up
    "d16_w8_s8": dict(d=16, b=4, in_width=8, norm_mant=8, sqrt_mant=8),  # slower than d
    "d8_w24_s26": dict(d=8, b=2, in_width=24, norm_mant=16, sqrt_mant=26),
    "d16_eq": dict(d=16, b=3, norm_mant=12, sqrt_mant=12),
}


def serial_config(name):
    return AxelramConfig(lanes=1, **SERIAL_CONFIGS[name])


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("name", SERIAL_CONFIGS)
def test_serial_norm_bit_exact(name, seed):
    cfg = serial_config(name)
    keys = make_keys(cfg, np.random.default_rng(sum(map(ord, name)) + seed),
                     n_random=10 if cfg.d >= 64 else 40)
    dut = IterativeNormUnit(cfg)
    got = []
    p_valid, p_ready = [(0.7, 0.5), (0.95, 0.2)][seed]
    run(dut,
        source(dut.i, key_beats(cfg, keys), rng=random.Random(seed + 1), p_valid=p_valid),
        sink(dut.o, len(keys), got, rng=random.Random(seed + 2), p_ready=p_ready,
             tail=dut.latency + 8),
        deadline_cycles=len(keys) * (4 * cfg.d + 20 * dut.interval) + 400)
    check(cfg, keys, got)


@pytest.mark.parametrize("name", ["d128_b3", "d64_w24_s26", "d128_w8_s4", "d32_s13"])
def test_serial_norm_one_key_per_d_clocks(name):
    """Keys back to back (interval <= d): the input never stalls, one result every d clocks,
    the first ``latency`` clocks after the first key's last beat."""
    cfg = serial_config(name)
    keys = make_keys(cfg, np.random.default_rng(5), n_random=6)
    dut = IterativeNormUnit(cfg)
    assert dut.interval <= cfg.d
    got, in_stamps, out_stamps = [], [], []

    async def monitor(ctx):
        cycle = 0
        async for _, _, iv, ir, ov in ctx.tick().sample(dut.i.valid, dut.i.ready, dut.o.valid):
            if iv and ir:
                in_stamps.append(cycle)
            if ov:
                out_stamps.append(cycle)
            cycle += 1

    run(dut, source(dut.i, key_beats(cfg, keys)),
        sink(dut.o, len(keys), got, tail=dut.latency + 4),
        background=[monitor], deadline_cycles=len(keys) * cfg.d + 400)
    check(cfg, keys, got)
    n = len(keys) * cfg.d
    assert in_stamps == list(range(in_stamps[0], in_stamps[0] + n)), "input stalled"
    assert out_stamps[0] - in_stamps[cfg.d - 1] == dut.latency
    assert out_stamps == [out_stamps[0] + k * cfg.d for k in range(len(keys))]
    assert dut.latency == dut.iterations + 5
    assert dut.iterations == (cfg.sumsq_width + 1) // 2 + cfg.sqrt_mant


def test_serial_norm_interval_is_tight():
    """At interval = d + 1 back-to-back keys stall the input once per key."""
    cfg = AxelramConfig(d=32, b=3, lanes=1, sqrt_mant=14)
    keys = make_keys(cfg, np.random.default_rng(6), n_random=4)
    dut = IterativeNormUnit(cfg)
    assert dut.interval == cfg.d + 1
    got, stamps = [], []

    async def monitor(ctx):
        cycle = 0
        async for _, _, iv, ir in ctx.tick().sample(dut.i.valid, dut.i.ready):
            if iv and ir:
                stamps.append(cycle)
            cycle += 1

    run(dut, source(dut.i, key_beats(cfg, keys)),
        sink(dut.o, len(keys), got, tail=dut.latency + 4),
        background=[monitor], deadline_cycles=len(keys) * 2 * cfg.d + 400)
    check(cfg, keys, got)
    assert stamps[-1] - stamps[0] + 1 > len(keys) * cfg.d


@pytest.mark.parametrize("sqrt_mant,norm_mant", [(4, 4), (5, 4), (7, 5), (20, 11), (26, 16)])
def test_serial_norm_every_small_sum(sqrt_mant, norm_mant):
    """Every sum of squares a**2 + b**2 (0 <= a, b < 32), both shift directions of the root."""
    cfg = AxelramConfig(d=4, b=2, lanes=1, in_width=6, sqrt_mant=sqrt_mant, norm_mant=norm_mant)
    a, b = np.meshgrid(np.arange(32), np.arange(32))
    keys = np.zeros((a.size + 1, 4), dtype=np.int64)
    keys[:-1, 0], keys[:-1, 1] = a.ravel(), b.ravel()
    keys[-1] = -32
    dut = IterativeNormUnit(cfg)
    got = []
    run(dut, source(dut.i, key_beats(cfg, keys)),
        sink(dut.o, len(keys), got, tail=dut.latency + 4),
        deadline_cycles=(dut.interval + 8) * len(keys) + 100)
    check(cfg, keys, got)


def test_serial_norm_rejects_lanes():
    with pytest.raises(ValueError, match=r"^IterativeNormUnit needs lanes=1 \(one coordinate per "
                                         r"beat\), not lanes=2; use NormUnit$"):
        IterativeNormUnit(AxelramConfig(d=8, b=3, lanes=2))
    with pytest.raises(TypeError, match=r"^cfg must be an AxelramConfig, not 3$"):
        IterativeNormUnit(3)
