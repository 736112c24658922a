"""Bit-exact integer model of the AXELRAM datapath.

The RTL must reproduce every function here bit for bit. All arithmetic is int64 on values whose
widths :class:`~golden.config.AxelramConfig` derives (each below 63 bits). Rounding points are
named in the docstrings and listed in ``docs/number-formats.md``.

Write path (per key ``k``, integers of ``in_width`` bits, sign pattern ``s`` of its layer):

1. ``u = FWHT(s * k)``: exact, ``u_width`` bits.
2. ``S = sum(k**2)`` exact; its root ``m * 2**z`` to ``sqrt_mant`` significant bits
   (:func:`root`); the stored norm ``n = mant * 2**(exp - norm_bias)`` is that root rounded to
   ``norm_mant`` bits (:func:`encode_norm`).
3. Thresholds ``x_j = m * G_j * 2**(z - thr_frac)`` for the positive threshold ROM words ``G_j``,
   rounded to the half-integers ``theta_j = floor(x_j) + 1/2`` (:func:`scaled_thresholds` returns
   ``floor(x_j)``); the ascending list is ``-theta..., 0, theta...``.
4. ``idx_i`` = number of thresholds strictly below ``u_i``: ``H + c`` for ``u_i > 0`` and
   ``H - 1 - c`` otherwise, with ``c = #{j : |u_i| > floor(x_j)}`` (``H = 2**(b-1)``). So
   ``u_i == 0`` gives ``H - 1``, the smallest negative centroid; a zero key (thresholds 1/2)
   gets ``H - 1`` everywhere and, with norm 0, score 0.

Read path (per query ``q``): ``v = FWHT(s * q)``; a per-query shift ``qs`` keeps the table in
``table_width`` bits (:func:`query_table`); each stored key scores
``mant = (sum_i term_i) * norm_mant`` and ``exp = qs + norm_exp``; the value is
``mant * 2**(exp + score_exp_offset) ~= q . k`` (:func:`score`).
"""

from dataclasses import dataclass

import numpy as np

from .config import AxelramConfig
from .fwht import fwht
from .signs import SignSet, default_signs

__all__ = ["StoredKeys", "QueryTable", "Scores", "FixedModel", "encode_norm",
           "scaled_thresholds", "quantise", "root", "bit_length", "check_vectors", "to_fixed"]

_POW2 = np.int64(1) << np.arange(63, dtype=np.int64)


def bit_length(x):
    """Elementwise ``int.bit_length`` of a non-negative int64 array."""
    return np.searchsorted(_POW2, np.asarray(x, dtype=np.int64), side="right").astype(np.int64)


def _isqrt(x):
    """Elementwise floor(sqrt(x)) of non-negative int64 values below 2**52, exact."""
    r = np.floor(np.sqrt(x.astype(np.float64))).astype(np.int64)
    r = np.where(r * r > x, r - 1, r)
    return np.where((r + 1) * (r + 1) <= x, r + 1, r)


def _shift(x, n):
    """x * 2**n for n >= 0, floor(x / 2**-n) for n < 0 (arithmetic shift), elementwise."""
    n = np.asarray(n, dtype=np.int64)
    return np.where(n >= 0, x << np.maximum(n, 0), x >> np.maximum(-n, 0))


def check_vectors(x, cfg, what="keys"):
    """Validate integer input vectors: shape (..., d), integer dtype, within ``in_width`` bits."""
    x = np.asarray(x)
    if x.shape[-1:] != (cfg.d,):
        raise ValueError(f"{what} must have last dimension d={cfg.d}, not shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
            raise ValueError(f"{what} contain NaN or Inf")
        raise ValueError(f"{what} must be integers of in_width={cfg.in_width} bits, not {x.dtype} "
                         f"(use golden.fixed.to_fixed to convert real values)")
    lo, hi = -(1 << (cfg.in_width - 1)), (1 << (cfg.in_width - 1)) - 1
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"{what} must be within [{lo}, {hi}] (in_width={cfg.in_width}), "
                         f"found [{x.min()}, {x.max()}]")
    return x.astype(np.int64)


def to_fixed(x, cfg, scale=None):
    """Convert real vectors to ``in_width``-bit integers: ``round(x * scale)``.

    With ``scale=None`` the largest power of two that fits ``max|x|`` is chosen. Returns
    ``(ints, scale)``; scores computed from the integers are in units of ``1/scale**2``.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("vectors contain NaN or Inf")
    top = (1 << (cfg.in_width - 1)) - 1
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if scale is None:
        scale = 1.0 if peak == 0 else 2.0 ** np.floor(np.log2(top / peak))
    q = np.rint(x * scale)
    if q.size and np.max(np.abs(q)) > top:
        raise ValueError(f"scale {scale} makes |x| reach {np.max(np.abs(q)):.0f}, more than "
                         f"in_width={cfg.in_width} bits hold ({top})")
    return q.astype(np.int64), scale


def root(cfg, keys):
    """The threshold-scaling root of ``S = sum(k**2)``: ``(m, z)`` with ``sqrt(S) ~= m * 2**z``.

    Rounding point *root*: with ``Ms = sqrt_mant`` and ``z = ceil((bitlen(S) - 2 Ms) / 2)``,
    ``X = S * 4**(1 - z)`` (floor when shifting right) and ``m = (isqrt(X) + 1) >> 1`` (round half
    up on a root one bit longer); ``m == 2**Ms`` renormalises to ``2**(Ms-1)`` with ``z + 1``.
    ``m`` is in [2**(Ms-1), 2**Ms) for a non-zero key; a zero key gives ``m = 0`` (and z = 0).
    """
    keys = np.asarray(keys, dtype=np.int64)
    s = np.sum(keys * keys, axis=-1)
    ms = cfg.sqrt_mant
    z = -((2 * ms - bit_length(s)) // 2)
    x = _shift(s, 2 - 2 * z)
    m = (_isqrt(x) + 1) >> 1
    carry = m >> ms
    m = np.where(carry == 1, m >> 1, m)
    zero = s == 0
    return np.where(zero, 0, m), np.where(zero, 0, z + carry)


def encode_norm(cfg, m, z):
    """Stored norm word ``(mant, exp)`` from the root ``(m, z)``: ``n ~= mant * 2**(exp - bias)``.

    Rounding point *norm*: ``mant = (m + 2**(r-1)) >> r`` with ``r = sqrt_mant - norm_mant``
    (round half up; no rounding when r = 0), a carry to ``2**M`` renormalises to ``2**(M-1)``
    with the exponent + 1; ``exp = z + r + carry + bias``. A zero key is stored as 0, 0.
    """
    r = cfg.sqrt_mant - cfg.norm_mant
    m = np.asarray(m, dtype=np.int64)
    mant = (m + (1 << (r - 1))) >> r if r else m
    carry = mant >> cfg.norm_mant
    mant = np.where(carry == 1, mant >> 1, mant)
    exp = np.asarray(z, dtype=np.int64) + r + carry + cfg.norm_bias
    zero = m == 0
    return np.where(zero, 0, mant), np.where(zero, 0, exp)


def scaled_thresholds(cfg, m, z):
    """Norm-scaled thresholds in u units: ``floor(x_j)``, shape (..., 2**(b-1)-1).

    ``x_j = m * G_j * 2**(z - thr_frac)`` is the exact product of the root and the threshold ROM
    word. Rounding point *threshold*: the quantiser compares with the half-integer
    ``theta_j = floor(x_j) + 1/2``. An integer ``u`` never ties with it, and both signs use one
    test: ``u > theta_j  <=>  u > floor(x_j)`` and ``u < -theta_j  <=>  -u > floor(x_j)``, so a
    coordinate needs only ``|u| > floor(x_j)`` (no second, ceil-rounded threshold). Against the
    exact ``x_j`` this differs only when ``x_j`` is an integer and ``u = -x_j``: that ``u`` goes
    one level up (towards zero).
    """
    g = np.array(cfg.threshold_rom, dtype=np.int64)
    prod = np.asarray(m, dtype=np.int64)[..., None] * g
    shift = np.asarray(z, dtype=np.int64)[..., None] - cfg.thr_frac
    return _shift(prod, shift)


def quantise(cfg, u, lo):
    """Indices of rotated coordinates ``u`` (..., d) against their key's thresholds ``lo``
    (..., 2**(b-1)-1) from :func:`scaled_thresholds`: the number of the ascending thresholds
    ``-theta.., 0, theta..`` (``theta_j = lo_j + 1/2``) strictly below each ``u_i``, that is
    ``u_i > 0 ? H + c_i : H - 1 - c_i`` with ``c_i = #{j : |u_i| > lo_j}``."""
    u = np.asarray(u, dtype=np.int64)
    lo = np.asarray(lo, dtype=np.int64)
    count = np.sum(np.abs(u)[..., :, None] > lo[..., None, :], axis=-1)
    h = cfg.half_levels
    return np.where(u > 0, h + count, h - 1 - count)


@dataclass
class StoredKeys:
    """What the index store holds per key: indices (N, d) and the norm word (mant, exp)."""

    idx: np.ndarray
    mant: np.ndarray
    exp: np.ndarray

    def rows(self, cfg):
        """The index-store rows as Python ints (coordinate 0 in the lowest b bits, norm word —
        exponent above mantissa — in the top ``norm_width`` bits)."""
        out = []
        for idx, m, e in zip(self.idx.tolist(), self.mant.tolist(), self.exp.tolist(),
                             strict=True):
            word = 0
            for i, v in enumerate(idx):
                word |= v << (i * cfg.b)
            word |= ((e << cfg.norm_mant) | m) << (cfg.d * cfg.b)
            out.append(word)
        return out


@dataclass
class QueryTable:
    """The per-query table: ``entries`` (d, 2**(b-1)) for the positive centroids, shift ``qs``."""

    entries: np.ndarray
    qs: int

    def full(self, cfg):
        """(d, 2**b) signed table indexed by the stored index (negated mirror below)."""
        return np.concatenate((-self.entries[:, ::-1], self.entries), axis=1)


@dataclass
class Scores:
    """Scores as block floating point: value = mant * 2**(exp + score_exp_offset)."""

    mant: np.ndarray
    exp: np.ndarray
    offset: int

    @property
    def value(self):
        return self.mant.astype(np.float64) * np.exp2(self.exp + self.offset)


class FixedModel:
    """The bit-exact model of one macro configuration and its sign ROM.

    Parameters
    ----------
    cfg : AxelramConfig
    signs : SignSet or None
        The sign ROM contents; ``None`` uses ``default_signs(cfg.d, cfg.layers, seed=0)``.
    """

    def __init__(self, cfg, signs=None):
        if not isinstance(cfg, AxelramConfig):
            raise TypeError(f"cfg must be an AxelramConfig, not {cfg!r}")
        self.cfg = cfg
        self.signs = (signs if signs is not None else default_signs(cfg.d, cfg.layers)).check(
            cfg.d, cfg.layers)
        if not isinstance(self.signs, SignSet):
            raise TypeError("signs must be a SignSet")
        self.centroids = np.array(cfg.centroid_rom, dtype=np.int64)

    def _sign(self, layer):
        if not 0 <= layer < self.cfg.layers:
            raise ValueError(f"layer must be between 0 and {self.cfg.layers - 1}, not {layer}")
        return self.signs.signs[layer].astype(np.int64)

    def rotate(self, x, layer):
        """``FWHT(s * x)`` of integer vectors (..., d): exact, ``u_width`` bits."""
        return fwht(check_vectors(x, self.cfg) * self._sign(layer))

    def write(self, keys, layer=0):
        """Quantise keys (N, d) of one layer → :class:`StoredKeys`."""
        cfg = self.cfg
        keys = check_vectors(np.atleast_2d(keys), cfg)
        u = fwht(keys * self._sign(layer))
        m, z = root(cfg, keys)
        mant, exp = encode_norm(cfg, m, z)
        idx = quantise(cfg, u, scaled_thresholds(cfg, m, z))
        return StoredKeys(idx.astype(np.uint8), mant, exp)

    def query(self, q, layer=0):
        """Build the table of one query (d,) → :class:`QueryTable`.

        Rounding point *table*: ``a = max_i bitlen(ones(v_i))`` with the one's-complement
        magnitude ``ones(v) = v`` for ``v >= 0`` and ``-v - 1 = ~v`` for ``v < 0`` (so every
        ``v_i`` lies in ``[-2**a, 2**a - 1]``: ``a`` is the signed width minus one),
        ``qs = max(0, a + centroid_rom_width - (table_width - 1))``,
        ``entry = (v_i * C_j + 2**(qs-1)) >> qs`` (round half up; exact when ``qs == 0``).
        Entries provably fit ``table_width`` signed bits (``docs/number-formats.md``).
        """
        cfg = self.cfg
        q = check_vectors(np.asarray(q), cfg, "query")
        if q.ndim != 1:
            raise ValueError(f"query must be one vector of shape ({cfg.d},), not {q.shape}")
        v = fwht(q * self._sign(layer))
        a = int(bit_length(np.max(v ^ (v >> 63))))  # v ^ sign = ones(v)
        qs = max(0, a + cfg.centroid_rom_width - (cfg.table_width - 1))
        x = v[:, None] * self.centroids[None, :]
        entries = (x + (1 << (qs - 1))) >> qs if qs else x
        lim = 1 << (cfg.table_width - 1)
        assert entries.min() >= -lim and entries.max() < lim, "table entry overflow"
        return QueryTable(entries, qs)

    def score(self, table, stored):
        """Score stored keys against one query table → :class:`Scores`."""
        cfg = self.cfg
        full = table.full(cfg)
        terms = full[np.arange(cfg.d), stored.idx.astype(np.int64)]
        acc = terms.sum(axis=-1)
        return Scores(acc * stored.mant, table.qs + stored.exp, cfg.score_exp_offset)

    def scores(self, q, keys, layer=0):
        """Convenience: write ``keys`` and score them against ``q`` on ``layer``."""
        return self.score(self.query(q, layer), self.write(keys, layer))
