"""Quantiser, ThresholdUnit and IterativeThresholdUnit against golden.fixed, bit for bit (the
quantiser in both forms)."""

import dataclasses
import random

import numpy as np
import pytest
from amaranth import unsigned

from axelram_hw.write_path.quantiser import Quantiser
from axelram_hw.write_path.thresholds import ThresholdUnit
from axelram_hw.write_path.thresholds_iterative import IterativeThresholdUnit
from golden.config import AxelramConfig
from golden.fixed import FixedModel, quantise, root, scaled_thresholds
from tests.support.keys import make_keys
from tests.support.streams import run, sink, source
from tests.support.thresholds import assert_same, root_extremes, serial_threshold_payloads

CONFIGS = {
    "d8_b1": dict(d=8, b=1),
    "d8_b2": dict(d=8, b=2),
    "d16_b3_p4": dict(d=16, b=3, lanes=4),
    "d16_b4": dict(d=16, b=4),
    "d8_b4_p2_wide": dict(d=8, b=4, lanes=2, in_width=24, norm_mant=16, sqrt_mant=26,
                          thr_frac=24),
    "d16_b2_coarse": dict(d=16, b=2, in_width=8, norm_mant=4, sqrt_mant=4, thr_frac=4),
    "d128_b3_p128": dict(d=128, b=3),
    "d128_b3_p8": dict(d=128, b=3, lanes=8),
}


def on_threshold_u(cfg, lo, rng):
    """Rotated vectors whose coordinates sit on and next to every scaled threshold (the
    quantiser tests ``|u| > lo_j``: the boundaries are ``+-lo_j`` and ``+-(lo_j + 1)``)."""
    top = (1 << (cfg.u_width - 1)) - 1
    out = []
    for lo_k in lo:
        special = [0, 1, -1, top, -top - 1]
        for lj in lo_k.tolist():
            special += [lj, lj + 1, lj - 1, -lj, -lj - 1, -lj + 1]
        special = np.clip(np.array(special, dtype=np.int64), -top - 1, top)
        u = rng.choice(special, size=cfg.d)
        u[:min(cfg.d, special.size)] = special[:cfg.d]
        out.append(u)
    return np.array(out, dtype=np.int64)


def quantiser_payloads(cfg, u, lo):
    p = cfg.lanes
    return [{"u": uk[c * p:(c + 1) * p].tolist(), "lo": lk.tolist()}
            for uk, lk in zip(u, lo, strict=True) for c in range(cfg.beats)]


def run_quantiser(cfg, u, lo, seed):
    dut = Quantiser(cfg)
    got = []
    run(dut,
        source(dut.i, quantiser_payloads(cfg, u, lo), rng=random.Random(seed), p_valid=0.6),
        sink(dut.o, len(u) * cfg.beats, got, rng=random.Random(seed + 1), p_ready=0.6,
             tail=dut.latency + 8),
        deadline_cycles=20 * len(u) * cfg.beats + 200)
    return np.array([list(g) for g in got], dtype=np.int64).reshape(len(u), cfg.d)


@pytest.mark.parametrize("antisymmetric", [True, False], ids=["anti", "full"])
@pytest.mark.parametrize("name", CONFIGS)
def test_quantiser_bit_exact(name, antisymmetric):
    cfg = AxelramConfig(**CONFIGS[name], antisymmetric=antisymmetric)
    rng = np.random.default_rng(sum(map(ord, name)))
    keys = make_keys(cfg, rng, n_random=10 if cfg.lanes >= 64 else 30)
    model = FixedModel(cfg)
    lo = scaled_thresholds(cfg, *root(cfg, keys))
    u = model.rotate(keys, 0)
    # Real rotated keys, then coordinates constructed on and next to the thresholds.
    u = np.concatenate([u, on_threshold_u(cfg, lo, rng)])
    lo = np.concatenate([lo, lo])
    got = run_quantiser(cfg, u, lo, seed=len(name) + antisymmetric)
    assert_same(got, quantise(cfg, u, lo), "indices")


@pytest.mark.parametrize("name", [n for n in CONFIGS if CONFIGS[n]["b"] > 1])
def test_thresholds_bit_exact(name):
    cfg = AxelramConfig(**CONFIGS[name])
    rng = np.random.default_rng(sum(map(ord, name)))
    keys = make_keys(cfg, rng, n_random=30)
    m, z = root(cfg, keys)
    lo = scaled_thresholds(cfg, m, z)
    # Extremes of the root: every exponent with the smallest and the largest mantissa.
    ms = cfg.sqrt_mant
    ez = np.arange(cfg.sqrt_z_min, cfg.sqrt_z_max + 1)
    em = np.concatenate([np.full(ez.size, 1 << (ms - 1)), np.full(ez.size, (1 << ms) - 1)])
    ez = np.concatenate([ez, ez])
    elo = scaled_thresholds(cfg, em, ez)
    m, z = np.concatenate([m, em]), np.concatenate([z, ez])
    lo = np.concatenate([lo, elo])
    assert lo.max() < 1 << cfg.threshold_width

    dut = ThresholdUnit(cfg)
    got = []
    run(dut,
        source(dut.i, [{"m": a, "z": b} for a, b in zip(m.tolist(), z.tolist(), strict=True)],
               rng=random.Random(3), p_valid=0.6),
        sink(dut.o, len(m), got, rng=random.Random(4), p_ready=0.6, tail=dut.latency + 8),
        deadline_cycles=20 * len(m) + 200)
    assert_same(np.array([list(g.lo) for g in got]), lo, "floor thresholds")


def test_threshold_unit_rejects_b1():
    with pytest.raises(ValueError, match=r"^ThresholdUnit needs b of at least 2 \(b=1 has no "
                                         r"thresholds\), not 1$"):
        ThresholdUnit(AxelramConfig(d=8, b=1))


def test_quantiser_rejects_bad_config():
    cfg = dataclasses.asdict(AxelramConfig(d=8, b=2))
    with pytest.raises(TypeError, match=r"^cfg must be an AxelramConfig, not \{"):
        Quantiser(cfg)


# -- IterativeThresholdUnit: bit-serial products, one key per `interval` clocks ------------------

@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("name", [n for n in CONFIGS if CONFIGS[n]["b"] > 1])
def test_serial_thresholds_bit_exact(name, seed):
    cfg = AxelramConfig(**CONFIGS[name])
    m, z = root_extremes(cfg, make_keys(cfg, np.random.default_rng(sum(map(ord, name))),
                                        n_random=20))
    lo = scaled_thresholds(cfg, m, z)
    dut = IterativeThresholdUnit(cfg, unsigned(8))
    got = []
    p_valid, p_ready = [(0.6, 0.6), (0.95, 0.2)][seed]
    run(dut,
        source(dut.i, serial_threshold_payloads(m, z), rng=random.Random(seed + 3),
               p_valid=p_valid),
        sink(dut.o, len(m), got, rng=random.Random(seed + 4), p_ready=p_ready,
             tail=dut.latency + 8),
        deadline_cycles=len(m) * 8 * dut.interval + 200)
    assert_same(np.array([list(g.data.lo) for g in got]), lo, "floor thresholds")
    assert [g.side for g in got] == [n % 256 for n in range(len(m))], "side data"


@pytest.mark.parametrize("name", ["d16_b4", "d8_b4_p2_wide", "d16_b2_coarse", "d128_b3_p128"])
def test_serial_thresholds_interval_and_latency(name):
    """Roots back to back: one result every ``interval`` clocks, ``latency`` after its root."""
    cfg = AxelramConfig(**CONFIGS[name])
    m, z = root_extremes(cfg, make_keys(cfg, np.random.default_rng(2), n_random=4))
    dut = IterativeThresholdUnit(cfg, unsigned(8))
    got, in_stamps, out_stamps = [], [], []

    async def monitor(ctx):
        cycle = 0
        async for _, _, iv, ir, ov in ctx.tick().sample(dut.i.valid, dut.i.ready, dut.o.valid):
            if iv and ir:
                in_stamps.append(cycle)
            if ov:
                out_stamps.append(cycle)
            cycle += 1

    run(dut, source(dut.i, serial_threshold_payloads(m, z)),
        sink(dut.o, len(m), got, tail=dut.latency + 4),
        background=[monitor], deadline_cycles=len(m) * (dut.interval + 2) + 200)
    assert_same(np.array([list(g.data.lo) for g in got]), scaled_thresholds(cfg, m, z),
                "floor thresholds")
    assert in_stamps == [in_stamps[0] + k * dut.interval for k in range(len(m))]
    assert out_stamps == [t + dut.latency for t in in_stamps]
    pre = max(0, cfg.sqrt_mant - (cfg.thr_frac - cfg.sqrt_z_max))
    assert dut.latency == dut.steps + 1 == cfg.thr_frac - cfg.sqrt_z_min + pre + 1
    assert dut.interval == dut.steps + 2


def test_serial_threshold_unit_rejects_b1():
    with pytest.raises(ValueError, match=r"^IterativeThresholdUnit needs b of at least 2 \(b=1 "
                                         r"has no thresholds\), not 1$"):
        IterativeThresholdUnit(AxelramConfig(d=8, b=1), unsigned(8))
