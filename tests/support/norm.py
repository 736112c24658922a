"""Norm unit: the golden reference (root and norm word per key) and the check."""

import numpy as np

from golden.fixed import encode_norm, root

__all__ = ["expected", "check"]


def expected(cfg, keys):
    m, z = root(cfg, keys)
    mant, exp = encode_norm(cfg, m, z)
    return np.stack([m, z, mant, exp], axis=-1)


def check(cfg, keys, got):
    got = np.array([[g.m, g.z, g.mant, g.exp] for g in got], dtype=np.int64)
    want = expected(cfg, keys)
    bad = np.flatnonzero(np.any(got != want, axis=-1))
    assert not bad.size, (f"{bad.size} of {len(keys)} keys differ; first: key {bad[0]} "
                          f"got (m, z, mant, exp) {got[bad[0]].tolist()}, "
                          f"want {want[bad[0]].tolist()}")
