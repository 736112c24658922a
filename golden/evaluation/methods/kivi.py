"""``kivi``: KIVI (keys per channel, values per token, fp16 residual).

Keys per channel over groups of G = 32 tokens, asymmetric min/max with fp16 scale and minimum;
values per token in groups of G channels. fp16 residual as in KIVI's decoding code: keys are
flushed R = 128 at a time after the attention step that fills the residual, so query ``t`` reads
keys ``j < R*floor(t/R)`` quantised and the others exact; values are quantised one token at a
time as they leave a sliding window of R (value ``j`` is quantised for query ``t`` iff
``j <= t - R``). (b + 32/G)*d bits per quantised key (the fp16 residual is not counted).
"""

import numpy as np

from .base import Method, as_float32, fp16_round

__all__ = ["Kivi", "kivi_quantise_keys", "kivi_quantise_values"]


def _minmax(x, bits, axis):
    """Asymmetric min/max quantise-dequantise of ``x`` along ``axis`` (fp16 scale and minimum)."""
    top = (1 << bits) - 1
    mn = fp16_round(np.min(x, axis=axis, keepdims=True))
    mx = np.max(x, axis=axis, keepdims=True)
    scale = fp16_round((mx - mn) / top)
    safe = np.where(scale > 0, scale, 1.0)
    code = np.clip(np.rint((x - mn) / safe), 0, top)
    return np.where(scale > 0, code * scale + mn, mn)


def kivi_quantise_keys(k, bits, group=32):
    """KIVI keys: per channel over groups of ``group`` tokens (aligned at token 0), for
    ``k`` [heads, T, d]; tokens of an incomplete last group are returned unchanged."""
    k = np.asarray(k, dtype=np.float64)
    h, t, d = k.shape
    full = (t // group) * group
    out = k.copy()
    if full:
        g = k[:, :full].reshape(h, full // group, group, d)
        out[:, :full] = _minmax(g, bits, axis=2).reshape(h, full, d)
    return out


def kivi_quantise_values(v, bits, group=32):
    """KIVI values: per token over groups of ``group`` channels, for ``v`` [heads, T, d]."""
    v = np.asarray(v, dtype=np.float64)
    h, t, d = v.shape
    if d % group:
        raise ValueError(f"head_dim {d} is not a multiple of the value group size {group}")
    return _minmax(v.reshape(h, t, d // group, group), bits, axis=3).reshape(h, t, d)


class Kivi(Method):
    """KIVI (keys per channel, values per token, fp16 residual)."""

    name = "kivi"
    b_choices = (1, 2, 3, 4, 8)
    default_b = 2

    def __init__(self, info, b=2, group=32, residual=128, values="fp16"):
        super().__init__(info, b, values)
        if residual < 0 or residual % group:
            raise ValueError(f"residual {residual} must be a multiple of the group {group}")
        self.group, self.residual = group, residual

    @property
    def label(self):
        return f"{self.name}-{self.b}" + ("" if self.residual else " (no residual)")

    def keys(self, k, layer, q=None):
        return as_float32(kivi_quantise_keys(k, self.b, self.group))

    def _values(self, v, layer):
        return as_float32(kivi_quantise_values(v, self.b, min(self.group, self.d)))

    def key_cutoff(self, t):
        if self.residual == 0:
            return None
        return (np.arange(t) // self.residual) * self.residual

    def value_cutoff(self, t):
        if self.residual == 0:
            return None
        return np.maximum(np.arange(t) - self.residual + 1, 0)

    def bits_per_key(self):
        return self.d * (self.b + 32 / self.group)

    def describe(self):
        return {**super().describe(), "group": self.group, "residual": self.residual}
