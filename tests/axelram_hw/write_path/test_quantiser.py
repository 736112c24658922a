"""Quantiser against golden.fixed.quantise, bit for bit (antisymmetric and full comparators);
the threshold units are in test_thresholds.py and test_thresholds_iterative.py."""

import dataclasses
import random

import numpy as np
import pytest

from axelram_hw.write_path.quantiser import Quantiser
from golden.config import AxelramConfig
from golden.fixed import FixedModel, quantise, root, scaled_thresholds
from sim.vectors import on_threshold_u
from tests.support.keys import make_keys
from tests.support.streams import run, sink, source
from tests.support.thresholds import CONFIGS, assert_same


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
    u = np.concatenate([u, on_threshold_u(cfg, keys, rng)])
    lo = np.concatenate([lo, lo])
    got = run_quantiser(cfg, u, lo, seed=len(name) + antisymmetric)
    assert_same(got, quantise(cfg, u, lo), "indices")


def test_quantiser_rejects_bad_config():
    cfg = dataclasses.asdict(AxelramConfig(d=8, b=2))
    with pytest.raises(TypeError, match=r"^cfg must be an AxelramConfig, not \{"):
        Quantiser(cfg)
