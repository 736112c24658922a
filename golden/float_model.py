"""Float (float64) reference of the AXELRAM macro: the accuracy reference for the fixed model.

Two equivalent forms:

* **normalised** (the paper's): ``y = (1/sqrt d) H (s * k/||k||)``, indices from the N(0, 1/d)
  codebook, score ``||k|| * sum_i (Rq)_i * c_d[idx_i]`` with ``Rq = (1/sqrt d) H (s * q)``;
* **scale-free** (the hardware's): ``u = H(s * k)``, ``idx_i = #{j : ||k|| gamma_j < u_i}``,
  score ``||k|| / d * sum_i (H(s*q))_i * c[idx_i]`` with N(0, 1) centroids.

Both give the same indices and scores, and the look-up score equals the inner product of ``q``
with the dequantised key ``||k|| * R^T c_d[idx]`` (tested in ``tests/test_float_model.py``).
A zero key gets every index ``2**(b-1)-1`` and score 0.
"""

import numpy as np

from .codebook import gaussian_codebook, quantise_float
from .fwht import fwht

__all__ = ["FloatModel"]


def _finite(x, what):
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contain NaN or Inf")
    return x


class FloatModel:
    """Float reference for dimension ``d``, ``b`` bits and one sign pattern ``s`` (+-1, length d).

    ``codebook`` defaults to the Gaussian Lloyd–Max quantiser (the paper's choice); pass
    ``golden.codebook.beta_codebook(b, d)`` for the exact finite-d marginal.
    """

    def __init__(self, d, b, signs, codebook=None):
        self.d, self.b = d, b
        self.s = np.asarray(signs, dtype=np.float64)
        if self.s.shape != (d,):
            raise ValueError(f"signs must have shape ({d},), not {self.s.shape}")
        self.cb = codebook if codebook is not None else gaussian_codebook(b)
        self.c = np.array(self.cb.centroids)
        self.t = np.array(self.cb.thresholds)

    def rotate(self, x):
        """Orthonormal rotation ``R x = (1/sqrt d) H (s * x)`` of vectors (..., d)."""
        return fwht(self.s * _finite(x, "vectors"), normalise=True)

    def norms(self, keys):
        return np.linalg.norm(_finite(keys, "keys"), axis=-1)

    # -- write path --------------------------------------------------------------------------

    def quantise_normalised(self, keys):
        """Indices (N, d) in the paper's normalised form."""
        keys = np.atleast_2d(_finite(keys, "keys"))
        n = self.norms(keys)
        unit = keys / np.where(n > 0, n, 1.0)[:, None]
        y = self.rotate(unit)
        return quantise_float(y, self.t / np.sqrt(self.d))

    def quantise(self, keys):
        """Indices (N, d) in the scale-free form: ``#{j : ||k|| gamma_j < u_i}``."""
        keys = np.atleast_2d(_finite(keys, "keys"))
        u = fwht(self.s * keys)
        n = self.norms(keys)
        return np.sum(u[..., None] > n[:, None, None] * self.t, axis=-1).astype(np.int64)

    def dequantise(self, idx, norms):
        """Reconstructed keys ``||k|| * R^T c_d[idx]`` (N, d)."""
        y = self.c[np.asarray(idx)] / np.sqrt(self.d)
        return np.asarray(norms)[:, None] * self.s * fwht(y, normalise=True)

    # -- read path ---------------------------------------------------------------------------

    def table(self, q):
        """Query table ``P[i][j] = (Rq)_i * c_d[j]`` (d, 2**b), normalised form."""
        return np.outer(self.rotate(q), self.c / np.sqrt(self.d))

    def score_lookup(self, q, idx, norms):
        """Scores by table look-up and summation: ``||k|| * sum_i P[i][idx_i]``."""
        p = self.table(q)
        return np.asarray(norms) * p[np.arange(self.d), np.asarray(idx)].sum(axis=-1)

    def score_scale_free(self, q, idx, norms):
        """Scores in the hardware's scale-free form ``||k||/d * sum_i v_i c[idx_i]``."""
        v = fwht(self.s * _finite(q, "query"))
        return np.asarray(norms) / self.d * (v * self.c[np.asarray(idx)]).sum(axis=-1)

    def scores(self, q, keys):
        """Quantise ``keys`` and score them against ``q`` (the float AXELRAM score)."""
        keys = np.atleast_2d(keys)
        return self.score_lookup(q, self.quantise(keys), self.norms(keys))
