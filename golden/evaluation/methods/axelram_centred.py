"""``axelram-centred`` (*ours*, an extension, not the paper's): AXELRAM on ``k - mu``.

``mu`` is the mean calibration key of the layer and KV head (:class:`AxelramCentred`): softmax
ignores the per-query constant ``q . mu``.
"""

import numpy as np

from .axelram import Axelram
from .base import as_float32

__all__ = ["AxelramCentred"]


class AxelramCentred(Axelram):
    """*Ours, not the paper's:* AXELRAM on keys minus a calibrated per-(layer, KV head) mean.

    ``mu`` = mean post-RoPE key of the calibration dump per layer and KV head; the macro would
    store ``k - mu`` and score ``q . (k - mu)~``, which differs from ``q . k`` by the per-query
    constant ``q . mu`` that softmax ignores (so ``mu`` is never added back in hardware; here
    ``k~ = mu + (k - mu)~`` gives the same attention). Cost: one d-vector subtraction on the write
    path and ``kv_heads * d`` fp16 words per layer. Aimed at keys with a large common component
    (Qwen2/2.5's k_proj bias), which per-vector scaling cannot resolve.
    """

    name = "axelram-centred"

    def __init__(self, info, b=3, signs=None, calib=None, values="fp16"):
        super().__init__(info, b, signs, values)
        if calib is None:
            raise ValueError("axelram-centred needs a calibration KV dump (--calib-kv)")
        self.mu = []
        for layer in range(info.layers):
            x = np.asarray(calib.k[layer], dtype=np.float64)
            if x.shape[0] != info.kv_heads or x.shape[2] != self.d:
                raise ValueError(f"calibration dump layer {layer} has shape {x.shape}, the model "
                                 f"needs [{info.kv_heads}, tokens, {self.d}]")
            self.mu.append(x.mean(axis=1))

    @classmethod
    def build(cls, info, b, *, signs, seed, calib, values, options):
        return cls(info, b, cls.default_signset(info, signs, seed), calib, values)

    def keys(self, k, layer, q=None):
        mu = self.mu[layer][:, None, :]
        x = np.asarray(k, dtype=np.float64) - mu
        return as_float32(super().keys(x, layer) + mu)

    def _values(self, v, layer):
        return Axelram.keys(self, v, layer)
