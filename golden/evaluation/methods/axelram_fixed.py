"""``axelram-fixed``: the bit-exact fixed-point AXELRAM path.

:class:`golden.fixed.FixedModel` with the default number formats: each layer's keys (all KV heads
and tokens of the window) are converted by :func:`golden.fixed.to_fixed` with **one power-of-two
scale per layer and window** (the largest that fits), quantised bit-exactly, and dequantised from
the fixed-point indices, the stored norm word (mantissa/exponent) and the centroid ROM words. It
therefore tests the index and norm formats; the query table and score rounding are checked
separately (:meth:`AxelramFixed.score_check`: ``FixedModel.score`` vs ``q . k~``). d*b +
norm-word bits.
"""

import math

import numpy as np

from ...config import AxelramConfig
from ...fixed import FixedModel, to_fixed
from ...fwht import fwht
from .axelram import Axelram
from .base import as_float32

__all__ = ["AxelramFixed"]


class AxelramFixed(Axelram):
    """The bit-exact :class:`FixedModel` path (default number formats)."""

    name = "axelram-fixed"

    def __init__(self, info, b=3, signs=None, values="fp16", **formats):
        super().__init__(info, b, signs, values)
        self.cfg = AxelramConfig(d=self.d, b=b, layers=info.layers, **formats)
        self.fixed = FixedModel(self.cfg, self.signs)
        pos = np.array(self.cfg.centroid_rom, dtype=np.float64) / (1 << self.cfg.cent_frac)
        self.centroids = np.concatenate((-pos[::-1], pos))

    def encode(self, k, layer):
        """``(StoredKeys, scale)``: one power-of-two scale for all of ``k``."""
        x = np.asarray(k, dtype=np.float64).reshape(-1, self.d)
        ints, scale = to_fixed(x, self.cfg)
        return self.fixed.write(ints, layer), scale

    def stored_norms(self, stored, scale):
        """The stored norm words as real norms of the original (unscaled) keys."""
        return (stored.mant.astype(np.float64)
                * np.exp2(stored.exp.astype(np.float64) - self.cfg.norm_bias) / scale)

    def decode(self, stored, scale, layer):
        """Dequantised keys from the fixed-point indices, the norm word and the centroid ROM:
        ``n * s * H c[idx] / d``."""
        s = self.signs.signs[layer].astype(np.float64)
        y = self.centroids[stored.idx.astype(np.int64)]
        return self.stored_norms(stored, scale)[:, None] * s * fwht(y) / self.d

    def keys(self, k, layer, q=None):
        stored, scale = self.encode(k, layer)
        return as_float32(self.decode(stored, scale, layer).reshape(np.shape(k)))

    def score_check(self, k, q, layer):
        """Relative RMS difference between ``FixedModel.score`` (table look-up, fixed point) and
        ``q . k~`` (the dequantised keys of :meth:`decode`), for keys (N, d) and queries (M, d);
        both use the queries as converted to fixed point (one power-of-two scale)."""
        stored, kscale = self.encode(k, layer)
        kt = self.decode(stored, kscale, layer)
        qi, qscale = to_fixed(np.asarray(q, dtype=np.float64).reshape(-1, self.d), self.cfg)
        num = den = 0.0
        for row in qi:
            got = self.fixed.score(self.fixed.query(row, layer), stored).value / (kscale * qscale)
            want = kt @ (row / qscale)
            num += float(np.sum((got - want) ** 2))
            den += float(np.sum(want ** 2))
        return math.sqrt(num / den) if den > 0 else 0.0

    def bits_per_key(self):
        return self.d * self.b + self.cfg.norm_width
