"""Test keys for the write-path blocks (norm, thresholds, quantiser, key encoder).

One generator, seeded, covering the cases the brief lists: Gaussian keys at several scales,
outlier channels (100x), zero keys, maximum-magnitude keys, single non-zero coordinates (norm 1
and the largest power) and small integers (short sums of squares).
"""

import numpy as np

from golden.fixed import to_fixed

__all__ = ["make_keys", "key_beats"]


def make_keys(cfg, rng, n_random=8):
    """Integer keys (N, d) of ``cfg.in_width`` bits: the special cases, then random ones."""
    d, top = cfg.d, (1 << (cfg.in_width - 1)) - 1
    keys = [np.zeros(d, dtype=np.int64),                       # zero key
            np.full(d, -(top + 1), dtype=np.int64)]            # largest sum of squares
    for value in (1, -1, top, -(top + 1)):                     # single non-zero coordinate
        k = np.zeros(d, dtype=np.int64)
        k[rng.integers(d)] = value
        keys.append(k)
    keys.append(rng.integers(-3, 4, d))                        # small integers
    outlier = rng.standard_normal(d)
    outlier[rng.choice(d, size=min(3, d), replace=False)] *= 100.0
    keys.append(to_fixed(outlier, cfg)[0])                     # outlier channels
    for i in range(n_random):                                  # Gaussian keys, varied scale
        x, _ = to_fixed(rng.standard_normal(d), cfg)
        keys.append(x >> int(rng.integers(0, cfg.in_width)) if i % 2 else x)
    keys.append(np.zeros(d, dtype=np.int64))                   # a zero key between others
    keys.append(to_fixed(rng.standard_normal(d), cfg)[0])
    return np.array(keys, dtype=np.int64)


def key_beats(cfg, vectors):
    """Split vectors (N, d) into stream payloads: ``beats`` lists of ``lanes`` ints each."""
    p = cfg.lanes
    return [v[c * p:(c + 1) * p].tolist() for v in np.asarray(vectors) for c in range(cfg.beats)]
