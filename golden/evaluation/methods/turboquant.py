"""``turboquant``: TurboQuant-MSE.

Per layer a random orthogonal matrix (QR of a Gaussian matrix from
``np.random.default_rng([seed, layer])``, column signs fixed by diag(R) so it is Haar), the exact
Beta-marginal Lloyd–Max codebook (:func:`golden.codebook.beta_codebook`), exact norm, dequantise
``k~ = ||k|| P^T c[idx]``. No QJL stage. d*b + 16 bits.
"""

import math

import numpy as np

from ...codebook import beta_codebook
from .base import Method, as_float32

__all__ = ["TurboQuant"]


class TurboQuant(Method):
    """TurboQuant-MSE with a Haar-random rotation per layer and the Beta codebook."""

    name = "turboquant"
    b_choices = (1, 2, 3, 4)
    default_b = 3

    def __init__(self, info, b=3, seed=0, values="fp16"):
        super().__init__(info, b, values)
        self.seed = seed
        cb = beta_codebook(b, self.d)
        self.c = np.array(cb.centroids) / math.sqrt(self.d)
        self.t = np.array(cb.thresholds) / math.sqrt(self.d)
        self.rotations = [self.rotation(self.d, seed, layer) for layer in range(info.layers)]

    @classmethod
    def build(cls, info, b, *, signs, seed, calib, values, options):
        return cls(info, b, seed, values)

    @staticmethod
    def rotation(d, seed, layer):
        """Haar-random orthogonal d x d matrix from ``default_rng([seed, layer])``."""
        g = np.random.default_rng([seed, layer]).standard_normal((d, d))
        q, r = np.linalg.qr(g)
        return q * np.where(np.diag(r) < 0, -1.0, 1.0)

    def encode(self, k, layer):
        x = np.asarray(k, dtype=np.float64).reshape(-1, self.d)
        n = np.linalg.norm(x, axis=-1)
        y = (x / np.where(n > 0, n, 1.0)[:, None]) @ self.rotations[layer].T
        return np.searchsorted(self.t, y, side="left"), n

    def decode(self, idx, norms, layer):
        return norms[:, None] * (self.c[idx] @ self.rotations[layer])

    def keys(self, k, layer, q=None):
        idx, n = self.encode(k, layer)
        return as_float32(self.decode(idx, n, layer).reshape(np.shape(k)))

    def bits_per_key(self):
        return self.d * self.b + 16

    def describe(self):
        return {**super().describe(), "seed": self.seed}
