"""IterativeThresholdUnit (bit-serial products, one key per ``interval`` clocks) against
golden.fixed.scaled_thresholds, bit for bit, side data in order; interval and latency."""

import random

import numpy as np
import pytest
from amaranth import unsigned

from axelram_hw.write_path.thresholds_iterative import IterativeThresholdUnit
from golden.config import AxelramConfig
from golden.fixed import scaled_thresholds
from tests.support.keys import make_keys
from tests.support.streams import run, sink, source
from tests.support.thresholds import CONFIGS, assert_same, root_extremes, serial_threshold_payloads


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
