"""``srft-int4``: sign-randomised Hadamard + calibrated per-channel scale + per-group int4.

Sign-randomised Hadamard (``default_signs(d, layers, seed)``, orthonormal), per-channel scale
lambda = RMS of the rotated calibration keys of that layer and KV head (normalised to mean 1;
*ours*), per-group (32 coordinates) abs-max symmetric int4 (codes -7..7, fp16 scale), inverse on
read. 4*d + 16*d/32 bits.
"""

import numpy as np

from ...fwht import fwht
from ...signs import default_signs
from .base import Method, as_float32, fp16_round

__all__ = ["SrftInt4"]


class SrftInt4(Method):
    """Sign-randomised Hadamard + calibrated per-channel scale + per-group abs-max int4."""

    name = "srft-int4"
    b_choices = (4,)
    default_b = 4

    def __init__(self, info, calib, seed=0, group=32, values="fp16"):
        super().__init__(info, 4, values)
        self.seed, self.group = seed, min(group, self.d)
        self.signs = default_signs(self.d, info.layers, seed).signs.astype(np.float64)
        self.lam_k = self._calibrate(calib.k)
        self.lam_v = self._calibrate(calib.v) if values == "method" else None

    @classmethod
    def build(cls, info, b, *, signs, seed, calib, values, options):
        if calib is None:
            raise ValueError("srft-int4 needs a calibration KV dump (--calib-kv) for its "
                             "per-channel scales")
        return cls(info, calib, seed, values=values)

    @property
    def label(self):
        return self.name

    def _calibrate(self, arrays):
        if len(arrays) != self.info.layers:
            raise ValueError(f"calibration dump has {len(arrays)} layers, the model "
                             f"{self.info.layers}")
        lam = []
        for layer in range(self.info.layers):
            x = np.asarray(arrays[layer], dtype=np.float64)
            if x.shape[0] != self.info.kv_heads or x.shape[2] != self.d:
                raise ValueError(f"calibration dump layer {layer} has shape {x.shape}, the model "
                                 f"needs [{self.info.kv_heads}, tokens, {self.d}]")
            y = fwht(self.signs[layer] * x, normalise=True)
            rms = np.sqrt(np.mean(y * y, axis=1))              # [kv_heads, d]
            rms = np.maximum(rms, 1e-12)
            lam.append(rms / rms.mean(axis=1, keepdims=True))
        return lam

    def _code(self, x, layer, lam):
        x = np.asarray(x, dtype=np.float64)
        h, t, d = x.shape
        y = fwht(self.signs[layer] * x, normalise=True) / lam[layer][:, None, :]
        g = y.reshape(h, t, d // self.group, self.group)
        scale = fp16_round(np.max(np.abs(g), axis=-1, keepdims=True) / 7)
        safe = np.where(scale > 0, scale, 1.0)
        yq = (np.clip(np.rint(g / safe), -7, 7) * scale).reshape(h, t, d)
        return self.signs[layer] * fwht(yq * lam[layer][:, None, :], normalise=True)

    def keys(self, k, layer, q=None):
        return as_float32(self._code(k, layer, self.lam_k))

    def _values(self, v, layer):
        return as_float32(self._code(v, layer, self.lam_v))

    def bits_per_key(self):
        return self.d * (4 + 16 / self.group)

    def describe(self):
        return {**super().describe(), "seed": self.seed, "group": self.group}
