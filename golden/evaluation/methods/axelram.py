"""``axelram``: the float AXELRAM reference.

:class:`golden.float_model.FloatModel` per layer (the layer's row of a :class:`SignSet`), ``b``
bits, exact norm: ``k~ = FloatModel.dequantise(quantise(k), ||k||)``. d*b + 16 bits.
"""

import numpy as np

from ...float_model import FloatModel
from ...signs import SignSet, default_signs
from .base import Method, as_float32

__all__ = ["Axelram", "check_signset"]


def check_signset(signs, info):
    """``signs`` if it is a :class:`SignSet` for the model's head_dim and layers; TypeError or
    ValueError (naming the model's shape) otherwise."""
    if not isinstance(signs, SignSet):
        raise TypeError(f"signs must be a SignSet, not {type(signs).__name__}")
    try:
        signs.check(info.head_dim, info.layers)
    except ValueError as exc:
        raise ValueError(f"{exc} (model: head_dim {info.head_dim}, {info.layers} layers)") \
            from None
    return signs


class Axelram(Method):
    """The float AXELRAM reference (:class:`FloatModel`, Gaussian codebook, exact norm)."""

    name = "axelram"
    b_choices = (1, 2, 3, 4)
    default_b = 3

    def __init__(self, info, b=3, signs=None, values="fp16"):
        super().__init__(info, b, values)
        self.signs = check_signset(signs if signs is not None
                                   else default_signs(info.head_dim, info.layers, 0), info)
        self.models = [FloatModel(self.d, b, self.signs.signs[layer])
                       for layer in range(info.layers)]

    @staticmethod
    def default_signset(info, signs, seed):
        """``signs``, or the generator signs ``default_signs(d, layers, seed)``."""
        return signs if signs is not None else default_signs(info.head_dim, info.layers, seed)

    @classmethod
    def build(cls, info, b, *, signs, seed, calib, values, options):
        return cls(info, b, cls.default_signset(info, signs, seed), values)

    def encode(self, k, layer):
        """``(idx, norms)`` of the keys ``k`` (..., d) flattened to (N, d)."""
        x = np.asarray(k, dtype=np.float64).reshape(-1, self.d)
        m = self.models[layer]
        return m.quantise(x), m.norms(x)

    def keys(self, k, layer, q=None):
        idx, norms = self.encode(k, layer)
        return as_float32(self.models[layer].dequantise(idx, norms).reshape(np.shape(k)))

    def bits_per_key(self):
        return self.d * self.b + 16

    def describe(self):
        return {**super().describe(), "signs": self.signs.source}
