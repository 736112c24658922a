"""Fast Walsh–Hadamard transform in Sylvester order, integer-exact and float.

``H[i][j] = (-1)**popcount(i & j)``; stage s pairs coordinates i and i + 2**s (i with bit s
clear) and maps (a, b) to (a + b, a - b) — the same butterflies, in the same order, as the
hardware. The unnormalised transform of integers is exact: each stage grows the width by 1 bit.
"""

from functools import lru_cache

import numpy as np

__all__ = ["fwht", "hadamard"]

_EXACT = 1 << 52


def fwht(x, normalise=False):
    """Transform the last axis of ``x`` (length a power of two).

    Integer input stays integer (int64, exact while |x| * d < 2**63); float input stays float.
    With ``normalise`` the result is divided by sqrt(d) (orthonormal form).
    """
    x = np.asarray(x)
    d = x.shape[-1]
    if d < 1 or d & (d - 1):
        raise ValueError(f"fwht length must be a power of two, not {d}")
    integer = np.issubdtype(x.dtype, np.integer)
    if integer and x.size and d <= 1024 and int(np.max(np.abs(x))) * d < _EXACT:
        # Same result, faster: a float64 BLAS product is exact while every partial sum is an
        # integer below 2**53.
        y = np.rint(x.astype(np.float64) @ _hadamard_float(d)).astype(np.int64)
        return y / np.sqrt(d) if normalise else y
    dtype = np.int64 if integer else np.float64
    y = np.ascontiguousarray(x, dtype=dtype).copy()
    flat = y.reshape(-1, d)
    h = 1
    while h < d:
        view = flat.reshape(flat.shape[0], d // (2 * h), 2, h)
        a = view[:, :, 0, :].copy()
        b = view[:, :, 1, :]
        view[:, :, 0, :] += b
        np.subtract(a, b, out=b)
        h *= 2
    if normalise:
        y = y / np.sqrt(d)
    return y


@lru_cache(maxsize=16)
def _hadamard_float(d):
    return hadamard(d).astype(np.float64)


def hadamard(d):
    """The explicit d x d Sylvester–Hadamard matrix (int64), for tests."""
    i = np.arange(d)
    bits = np.bitwise_and.outer(i, i)
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return (1 - 2 * parity).astype(np.int64)
