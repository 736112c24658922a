"""ThresholdUnit (pipelined) against golden.fixed.scaled_thresholds, bit for bit."""

import random

import numpy as np
import pytest

from axelram_hw.write_path.thresholds import ThresholdUnit
from golden.config import AxelramConfig
from golden.fixed import root, scaled_thresholds
from tests.support.keys import make_keys
from tests.support.streams import run, sink, source
from tests.support.thresholds import CONFIGS, assert_same


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
