"""Test vectors (integer keys/queries of ``in_width`` bits), seeded by the caller's ``rng``.

Gaussian at varied scales, outlier channels (a few coordinates 100x, as in Qwen2.5 layer-0
keys), zero and maximum-magnitude vectors, one-hot probes in the rotated domain, and keys built
so that a rotated coordinate sits exactly on (or next to) a norm-scaled quantiser threshold.
"""

import numpy as np

from golden.fixed import root, scaled_thresholds, to_fixed
from golden.fwht import fwht

__all__ = ["gaussian", "outliers", "extremes", "probe_queries", "on_threshold_keys",
           "on_threshold_u", "check_on_threshold"]


def gaussian(cfg, rng, n, *, scale_bits=None):
    """``n`` Gaussian vectors scaled to the full range, then shifted right by 0..``scale_bits``
    bits at random (small norms too); default ``in_width - 1``."""
    scale_bits = cfg.in_width - 1 if scale_bits is None else scale_bits
    out = []
    for _ in range(n):
        x, _ = to_fixed(rng.standard_normal(cfg.d), cfg)
        out.append(x >> int(rng.integers(0, scale_bits + 1)))
    return np.array(out, dtype=np.int64).reshape(n, cfg.d)


def outliers(cfg, rng, n, *, factor=100.0, channels=3):
    """Gaussian vectors with ``channels`` fixed coordinates ``factor`` times larger, scaled to
    the full range (huge norms, the outliers near the largest value)."""
    chans = rng.choice(cfg.d, size=min(channels, cfg.d), replace=False)
    out = []
    for _ in range(n):
        x = rng.standard_normal(cfg.d)
        x[chans] *= factor
        out.append(to_fixed(x, cfg)[0])
    return np.array(out, dtype=np.int64).reshape(n, cfg.d)


def extremes(cfg, signs):
    """Zero, all most-negative, all most-positive, and the vector whose rotated coordinate 0 is
    largest in magnitude for sign pattern ``signs`` (every term adds up)."""
    top = 1 << (cfg.in_width - 1)
    return np.array([np.zeros(cfg.d, dtype=np.int64),
                     np.full(cfg.d, -top, dtype=np.int64),
                     np.full(cfg.d, top - 1, dtype=np.int64),
                     np.where(np.asarray(signs) < 0, -top, top - 1)], dtype=np.int64)


def probe_queries(cfg, signs, coords, amplitude=None):
    """Queries whose rotation ``FWHT(s * q)`` is ``d * a`` at one coordinate and 0 elsewhere:
    the score then depends on that coordinate's stored index only (``q = a * s * H[:, i]``)."""
    a = amplitude if amplitude is not None else (1 << (cfg.in_width - 1)) - 1
    eye = np.eye(cfg.d, dtype=np.int64)[list(coords)]
    return (a * np.asarray(signs, dtype=np.int64) * fwht(eye)).astype(np.int64)


def _hits(cfg, k, s, i):
    """Rotated coordinate ``u_i`` of key ``k`` and the boundary values it should hit."""
    u = fwht(k * s)
    lo = scaled_thresholds(cfg, *root(cfg, k))
    return int(u[i]), lo.tolist()


def on_threshold_keys(cfg, signs, rng, n, *, coord=None, max_tries=200):
    """``n`` keys, each with one rotated coordinate ``u_i`` exactly on a boundary of its own
    norm-scaled thresholds ``+-(floor(x_j) + 1/2)``: ``floor(x_j)`` (below),
    ``floor(x_j) + 1`` (above), ``-floor(x_j) - 1`` (below the negative one) or ``-floor(x_j)``,
    cycling through them and
    through ``j``; on coordinate ``coord`` (random per key if None). Returns
    ``(keys (n, d), coords (n,))``.

    Built in the rotated domain first: a Gaussian ``u`` whose coordinate ``i`` is put at
    ``gamma_j`` times the key norm, mapped back (``k = s * H u / d``, scaled to half the input
    range, rounded); then fixed-point iteration nudges one key coordinate ``k_m`` until ``u_i``
    hits the integer boundary exactly (the thresholds move only slightly with the nudges).
    """
    s = np.asarray(signs, dtype=np.int64)
    h = fwht(np.eye(cfg.d, dtype=np.int64))
    top = (1 << (cfg.in_width - 1)) - 1
    nj = max(1, cfg.half_levels - 1)
    gammas = [g / (1 << cfg.thr_frac) for g in cfg.threshold_rom] or [0.0]
    keys, coords = [], []
    for n_key in range(n):
        j, kind = (n_key // 4) % nj, n_key % 4
        for _ in range(max_tries):
            i = int(rng.integers(cfg.d)) if coord is None else coord
            m = int(rng.integers(cfg.d))
            u = rng.standard_normal(cfg.d)
            u[i] = 0.0
            g = gammas[j]
            u[i] = (1 if kind < 2 else -1) * g * np.linalg.norm(u) / np.sqrt(cfg.d - g * g)
            k = s * (h @ u) / cfg.d
            k = np.rint(k * (top / 2) / np.abs(k).max()).astype(np.int64)
            for _ in range(30):
                u_i, lo = _hits(cfg, k, s, i)
                if cfg.b == 1:
                    target = (0, 1, 0, 1)[kind]       # only the sign threshold
                else:
                    target = (lo[j], lo[j] + 1, -lo[j] - 1, -lo[j])[kind]
                if u_i == target:
                    break
                k[m] += (target - u_i) * h[i, m] * s[m]
                if abs(k[m]) > top:
                    break
            if u_i == target and np.abs(k).max() <= top:
                keys.append(k.copy())
                coords.append(i)
                break
        else:
            raise RuntimeError(f"no on-threshold key found in {max_tries} tries")
    return np.array(keys, dtype=np.int64), np.array(coords, dtype=np.int64)


def on_threshold_u(cfg, key, rng):
    """For the key encoder, whose ``u`` input is free: a rotated vector whose coordinates sit on
    and next to every norm-scaled threshold of ``key`` (plus 0, +-1 and the extremes)."""
    lo = scaled_thresholds(cfg, *root(cfg, key[None]))
    top = (1 << (cfg.u_width - 1)) - 1
    special = [0, 1, -1, top, -top - 1]
    for lj in lo[0].tolist():
        special += [lj, lj + 1, lj - 1, -lj, -lj - 1, -lj + 1]
    special = np.clip(np.array(special, dtype=np.int64), -top - 1, top)
    u = rng.choice(special, size=cfg.d)
    u[:min(cfg.d, special.size)] = special[:cfg.d]
    return u


def check_on_threshold(cfg, keys, coords, signs):
    """Assert that each key's coordinate sits on a boundary (a self-check of the generator)."""
    s = np.asarray(signs, dtype=np.int64)
    for k, i in zip(keys, coords, strict=True):
        u_i, lo = _hits(cfg, k, s, int(i))
        bounds = {0, 1} | {x for j in range(len(lo)) for x in (lo[j], lo[j] + 1, -lo[j] - 1,
                                                               -lo[j])}
        assert u_i in bounds, f"u_{i} = {u_i} is on no threshold boundary"


def fwht_vectors(cfg, rng, n):
    """``n`` vectors (n, d) over the whole ``in_width`` range and negate bits (n, d) for the
    sign-flip + FWHT block. The first rows are the extremes: all most-negative (negated and not:
    ``-(-2**(w-1))`` needs the extra bit), all most-positive (both ways), and a random mix."""
    lo, hi = -(1 << (cfg.in_width - 1)), (1 << (cfg.in_width - 1)) - 1
    x = rng.integers(lo, hi + 1, size=(n, cfg.d), dtype=np.int64)
    neg = rng.integers(0, 2, size=(n, cfg.d), dtype=np.int64)
    x[0:2], neg[0], neg[1] = lo, 1, 0
    x[2:4], neg[2], neg[3] = hi, 0, 1
    x[4] = np.where(rng.integers(0, 2, cfg.d) == 1, lo, hi)
    return x, neg
