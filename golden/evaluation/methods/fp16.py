"""``fp16``: the reference cache, keys and values rounded to fp16. 16 bits per coordinate."""

from .base import Method, as_float32

__all__ = ["FP16"]


class FP16(Method):
    """The fp16 reference every other method is compared with."""

    name = "fp16"

    @classmethod
    def build(cls, info, b, *, signs, seed, calib, values, options):
        return cls(info, None, values)

    def keys(self, k, layer, q=None):
        return as_float32(k)

    def _values(self, v, layer):
        return as_float32(v)

    def bits_per_key(self):
        return 16 * self.d
