"""``squat``: SQuat (Wang et al. 2025, as in its public code).

KIVI's key quantiser, in channel blocks of 64 in order; after each block the remaining channels
of every key are corrected by the A-weighted least-squares update
``k_R <- k_R - A_RR^-1 A_RF (k^_F - k_F)`` with ``A = I + lambda Qh^T Qh``, ``Qh`` = top-r right
singular vectors of the stacked post-RoPE queries of the KV head's query heads scaled by their
singular values (r = 20, lambda = 1e-3). *Ours:* the "prompt" whose queries give the subspace is
the first half of each window (``prompt_fraction`` = 0.5); the subspace is then used for every
key of the window. Same residual policy and bits as KIVI. At head_dim 64 there is one block and
SQuat reduces to KIVI (as its code does).
"""

import numpy as np

from .base import as_float32
from .kivi import Kivi, kivi_quantise_keys

__all__ = ["SQuat"]


class SQuat(Kivi):
    """SQuat: KIVI keys with the query-subspace-orthogonal block correction."""

    name = "squat"
    needs_queries = True

    def __init__(self, info, b=2, rank=20, lam=1e-3, block=64, group=32, residual=128,
                 prompt_fraction=0.5, values="fp16"):
        super().__init__(info, b, group, residual, values)
        self.rank, self.lam, self.block = rank, lam, min(block, self.d)
        self.prompt_fraction = prompt_fraction

    def subspace(self, q, kv_heads):
        """``Qh`` (kv_heads, r, d): per KV head, the top-r right singular vectors of its query
        heads' stacked prompt queries, scaled by the singular values."""
        q = np.asarray(q, dtype=np.float64)
        heads, t, d = q.shape
        p = max(1, int(t * self.prompt_fraction))
        rep = heads // kv_heads
        out = []
        for h in range(kv_heads):
            m = q[h * rep:(h + 1) * rep, :p].reshape(-1, d)
            _, s, vt = np.linalg.svd(m, full_matrices=False)
            r = min(self.rank, len(s))
            out.append(s[:r, None] * vt[:r])
        return out

    def quantise_head(self, k, qhat):
        """SQuat keys of one KV head, ``k`` [T, d], with subspace ``qhat`` (r, d)."""
        k = np.asarray(k, dtype=np.float64)
        t, d = k.shape
        a = np.eye(d) + self.lam * qhat.T @ qhat
        target = k.copy()
        out = k.copy()
        err = np.zeros_like(k)
        for start in range(0, d, self.block):
            blk = slice(start, start + self.block)
            out[:, blk] = kivi_quantise_keys(target[None, :, blk], self.b, self.group)[0]
            err[:, blk] = out[:, blk] - k[:, blk]
            stop = start + self.block
            if stop < d:
                corr = np.linalg.solve(a[stop:, stop:], a[stop:, :stop])  # A_RR^-1 A_RF
                target[:, stop:] = k[:, stop:] - err[:, :stop] @ corr.T
        full = (t // self.group) * self.group
        out[full:] = k[full:]  # an incomplete group is never flushed
        return out

    def keys(self, k, layer, q=None):
        if q is None:
            raise ValueError("squat needs the queries")
        k = np.asarray(k)
        qhats = self.subspace(q, k.shape[0])
        return as_float32(np.stack([self.quantise_head(k[h], qhats[h])
                                    for h in range(k.shape[0])]))

    def describe(self):
        return {**super().describe(), "rank": self.rank, "lambda": self.lam,
                "block": self.block, "prompt_fraction": self.prompt_fraction}
