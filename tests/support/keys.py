"""Test keys for the write-path blocks (norm, thresholds, quantiser, key encoder).

One generator, seeded, covering the cases the brief lists: Gaussian keys at several scales,
outlier channels (100x), zero keys, maximum-magnitude keys, single non-zero coordinates (norm 1
and the largest power) and small integers (short sums of squares); each kind comes from
``sim.vectors``, which the cocotb key-encoder tests draw from too.
"""

import numpy as np

from sim import vectors

__all__ = ["make_keys", "key_beats"]


def make_keys(cfg, rng, n_random=8):
    """Integer keys (N, d) of ``cfg.in_width`` bits: the special cases, then random ones."""
    return np.concatenate([
        vectors.special_keys(cfg, rng),
        vectors.outliers(cfg, rng, 1, shared=False),          # outlier channels
        vectors.gaussian(cfg, rng, n_random, every=2),         # Gaussian keys, varied scale
        np.zeros((1, cfg.d), dtype=np.int64),                  # a zero key between others
        vectors.gaussian(cfg, rng, 1, scale_bits=0)])


def key_beats(cfg, vectors):
    """Split vectors (N, d) into stream payloads: ``beats`` lists of ``lanes`` ints each."""
    p = cfg.lanes
    return [v[c * p:(c + 1) * p].tolist() for v in np.asarray(vectors) for c in range(cfg.beats)]
