"""Test vectors (integer keys/queries of ``in_width`` bits), seeded by the caller's ``rng``.

Gaussian at varied scales, outlier channels (a few coordinates 100x, as in Qwen2.5 layer-0
keys), special keys (zero, single non-zero coordinates, small integers), zero and
maximum-magnitude vectors, one-hot probes in the rotated domain, keys built so that a rotated
coordinate sits exactly on (or next to) a norm-scaled quantiser threshold, and the inputs of the
sign-flip + FWHT block. The one home of these generators: the Amaranth-simulator tests (through
``tests.support``) and the cocotb testbenches both draw from here, so each kind of vector is
made one way. Every option that changes the order of the draws is named, so a test's random
stream stays what it was.
"""

import numpy as np

from golden.fixed import root, scaled_thresholds, to_fixed
from golden.fwht import fwht

__all__ = ["gaussian", "outliers", "special_keys", "extremes", "probe_queries",
           "on_threshold_keys", "on_threshold_u", "check_on_threshold", "fwht_vectors"]


def gaussian(cfg, rng, n, *, scale_bits=None, every=1):
    """``n`` Gaussian vectors scaled to the full range; every ``every``-th one (all by default,
    the 2nd, 4th, ... for 2) then shifted right by 0..``scale_bits`` bits at random (small norms
    too). ``scale_bits`` defaults to ``in_width - 1``; 0 keeps them all at full scale (and draws
    no shifts)."""
    scale_bits = cfg.in_width - 1 if scale_bits is None else scale_bits
    out = []
    for i in range(n):
        x, _ = to_fixed(rng.standard_normal(cfg.d), cfg)
        if scale_bits and (i + 1) % every == 0:
            x = x >> int(rng.integers(0, scale_bits + 1))
        out.append(x)
    return np.array(out, dtype=np.int64).reshape(n, cfg.d)


def outliers(cfg, rng, n, *, factor=100.0, channels=3, shared=True):
    """Gaussian vectors with ``channels`` coordinates ``factor`` times larger, scaled to the full
    range (huge norms, the outliers near the largest value). With ``shared`` the channels are
    drawn once, first, and are the same in every vector; otherwise each vector draws its own,
    after its Gaussian."""
    size = min(channels, cfg.d)
    chans = rng.choice(cfg.d, size=size, replace=False) if shared else None
    out = []
    for _ in range(n):
        x = rng.standard_normal(cfg.d)
        x[chans if shared else rng.choice(cfg.d, size=size, replace=False)] *= factor
        out.append(to_fixed(x, cfg)[0])
    return np.array(out, dtype=np.int64).reshape(n, cfg.d)


def special_keys(cfg, rng):
    """The write path's special keys (7, d): zero, most-negative everywhere (the largest sum of
    squares), a single non-zero coordinate at a random position (1, -1, the most positive, the
    most negative: norm 1 and the largest power) and small integers in -3..3 (short sums of
    squares)."""
    top = (1 << (cfg.in_width - 1)) - 1
    keys = [np.zeros(cfg.d, dtype=np.int64), np.full(cfg.d, -top - 1, dtype=np.int64)]
    for value in (1, -1, top, -top - 1):
        k = np.zeros(cfg.d, dtype=np.int64)
        k[rng.integers(cfg.d)] = value
        keys.append(k)
    keys.append(rng.integers(-3, 4, cfg.d))
    return np.array(keys, dtype=np.int64)


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


def on_threshold_u(cfg, keys, rng):
    """For the quantiser and the key encoder, whose ``u`` input is free: rotated vectors whose
    coordinates sit on and next to every norm-scaled threshold of their key (plus 0, +-1 and
    the extremes; the quantiser tests ``|u| > lo_j``, so the boundaries are ``+-lo_j`` and
    ``+-(lo_j + 1)``). One vector (d,) for one key (d,), one row per key for keys (N, d)."""
    keys = np.asarray(keys)
    lo = scaled_thresholds(cfg, *root(cfg, keys.reshape(-1, cfg.d)))
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
    return np.array(out, dtype=np.int64).reshape(keys.shape)


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
