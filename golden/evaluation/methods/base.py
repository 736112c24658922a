"""The interface every KV-cache method implements, and the NumPy helpers the methods share."""

import numpy as np

__all__ = ["VALUE_MODES", "Method", "as_float32", "fp16_round"]

#: ``values=``: ``"fp16"`` quantises only the keys, ``"method"`` the values too.
VALUE_MODES = ("fp16", "method")


def as_float32(x):
    """``x`` as a C-contiguous float32 array (what the attention hook hands to torch)."""
    return np.ascontiguousarray(x, dtype=np.float32)


def fp16_round(x):
    """``x`` rounded to float16 and returned as float64 (an fp16 scale or minimum)."""
    return np.asarray(x, dtype=np.float64).astype(np.float16).astype(np.float64)


class Method:
    """A KV-cache method: ``keys(k, layer) -> k~`` and ``values(v, layer) -> v~``.

    ``k``/``v`` are ``[kv_heads, T, d]`` arrays of one layer and one window (the fp16-rounded
    cache, as float32); ``q`` (only for :attr:`needs_queries` methods) is ``[heads, T, d]``.
    :meth:`key_cutoff` / :meth:`value_cutoff` return ``None`` (every entry is read
    reconstructed) or an int array ``c`` of length T: query ``t`` reads entries ``j < c[t]``
    reconstructed and the others exact (an fp16 residual window).

    Members
    -------
    name : str
        The method's name in the registry (:data:`golden.evaluation.methods.METHODS`).
    b_choices : tuple
        The bit widths ``b`` the method accepts; ``(None,)`` for one that takes none.
    default_b : int or None
        The bit width used when none is given.
    needs_queries : bool
        ``keys`` needs the layer's queries (``q``).
    """

    name = "method"
    b_choices = (None,)
    default_b = None
    needs_queries = False

    def __init__(self, info, b=None, values="fp16"):
        if values not in VALUE_MODES:
            raise ValueError(f"values must be one of {', '.join(VALUE_MODES)}, not {values!r}")
        self.info, self.b, self.values_mode = info, b, values

    @classmethod
    def build(cls, info, b, *, signs, seed, calib, values, options):
        """The method for :func:`golden.evaluation.methods.make_method`: each method takes the
        arguments it needs and ignores the others. Default: ``cls(info, b, values=values,
        **options)``."""
        return cls(info, b, values=values, **options)

    @property
    def d(self):
        return self.info.head_dim

    @property
    def label(self):
        return self.name if self.b is None else f"{self.name} b={self.b}"

    def keys(self, k, layer, q=None):
        raise NotImplementedError

    def values(self, v, layer):
        return v if self.values_mode == "fp16" else self._values(v, layer)

    def _values(self, v, layer):
        """Value reconstruction when values are quantised (default: the key quantiser)."""
        return self.keys(v, layer)

    def key_cutoff(self, t):
        return None

    def value_cutoff(self, t):
        return None

    def bits_per_key(self):
        """Stored bits per key vector (indices + norm/scale overhead)."""
        raise NotImplementedError

    def describe(self):
        return {"method": self.name, "b": self.b, "label": self.label,
                "bits_per_key": self.bits_per_key(),
                "bits_per_coordinate": self.bits_per_key() / self.d, "values": self.values_mode}
