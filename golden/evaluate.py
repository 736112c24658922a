"""Perplexity and attention fidelity of a real model whose KV cache is quantised.

Protocol (``axelram eval``; the standard one, not the paper's)
--------------------------------------------------------------
* **Text.** ``wiki-eval`` (the second half of the Wikipedia articles, disjoint from the
  ``wiki-calib`` half that calibration uses; see :mod:`golden.kvdump`) or a UTF-8 file, tokenised
  without special tokens. The first ``tokens`` tokens are cut into ``tokens // ctx``
  consecutive, **non-overlapping** windows of ``ctx`` tokens (default 1024); a remainder shorter
  than ``ctx`` is not used. No BOS token is prepended (as in the KV dumps).
* **Scoring.** Every window is one independent forward pass (a fresh cache). Position ``t``
  predicts token ``t + 1`` of the same window, so every token is scored exactly once, except the
  first token of each window, which has no context and is not scored: a run scores
  ``windows * (ctx - 1)`` tokens. PPL = exp(mean NLL over the scored tokens).
* **The cache as the model sees it.** The model runs in float32 on the CPU with a custom attention
  function (registered through transformers' ``AttentionInterface`` as ``axelram_eval``, with the
  ``eager`` float mask). It receives the post-RoPE query/key/value states of a layer, rounds keys
  and values to fp16 (the reference cache) and replaces the keys by the method's reconstruction
  ``method.keys(k, layer)`` (values by ``method.values`` when ``values="method"``), then computes
  eager attention exactly as transformers does (``q k^T * scaling + mask``, softmax in float32,
  GQA by repeating KV heads, optional soft-capping). A single prefill pass is equivalent to
  token-by-token decoding with the quantised cache because every method's reconstruction of a key
  does not depend on which query reads it; for the methods with an fp16 residual window (KIVI,
  SQuat) the attention mixes reconstructed and exact keys per query position (``key_cutoff``).
  Every key, including the current token's own key, is read back from the quantised cache.
  For AXELRAM this is exact: its table look-up score equals ``q . k~`` for the dequantised key
  (``tests/test_float_model.py``).
* **Metrics** against the fp16-cache run of the same model on the same windows: ΔPPL, mean
  KL(P_fp16 || P_method) of the next-token distributions over the scored positions, top-1
  agreement, and the relative attention-score error ``||S~ - S|| / ||S||`` of the pre-softmax
  scores (causal entries only) per layer, pooled over heads, on every 8th query row; also
  *centred* (each query row's mean over its visible keys removed from the error and the scores
  first): softmax ignores a per-query shift, and keys with a large common component (Qwen's
  k_proj bias) give large scores whose shared part hides the error that matters.

Methods (keys only by default; ``values="method"`` also quantises the values)
-------------------------------------------------------------------------------
``fp16``
    The reference: keys and values rounded to fp16. 16 bits per coordinate.
``axelram``
    :class:`golden.float_model.FloatModel` per layer (the layer's row of a :class:`SignSet`),
    ``b`` bits, exact norm: ``k~ = FloatModel.dequantise(quantise(k), ||k||)``. d*b + 16 bits.
``axelram-fixed``
    :class:`golden.fixed.FixedModel` with the default number formats: each layer's keys (all KV
    heads and tokens of the window) are converted by :func:`golden.fixed.to_fixed` with **one
    power-of-two scale per layer and window** (the largest that fits), quantised bit-exactly, and
    dequantised from the fixed-point indices, the stored norm word (mantissa/exponent) and the
    centroid ROM words. It therefore tests the index and norm formats; the query table and score
    rounding are checked separately (:meth:`AxelramFixed.score_check`: ``FixedModel.score`` vs
    ``q . k~``). d*b + norm-word bits.
``turboquant``
    TurboQuant-MSE: per layer a random orthogonal matrix (QR of a Gaussian matrix from
    ``np.random.default_rng([seed, layer])``, column signs fixed by diag(R) so it is Haar), the
    exact Beta-marginal Lloyd–Max codebook (:func:`golden.codebook.beta_codebook`), exact norm,
    dequantise ``k~ = ||k|| P^T c[idx]``. No QJL stage. d*b + 16 bits.
``kivi``
    KIVI: keys per channel over groups of G = 32 tokens, asymmetric min/max with fp16 scale and
    minimum; values per token in groups of G channels. fp16 residual as in KIVI's decoding code:
    keys are flushed R = 128 at a time after the attention step that fills the residual, so query
    ``t`` reads keys ``j < R*floor(t/R)`` quantised and the others exact; values are quantised one
    token at a time as they leave a sliding window of R (value ``j`` is quantised for query ``t``
    iff ``j <= t - R``). (b + 32/G)*d bits per quantised key (the fp16 residual is not counted).
``squat``
    SQuat (Wang et al. 2025, as in its public code): KIVI's key quantiser, in channel blocks of 64
    in order; after each block the remaining channels of every key are corrected by the
    A-weighted least-squares update ``k_R <- k_R - A_RR^-1 A_RF (k^_F - k_F)`` with
    ``A = I + lambda Qh^T Qh``, ``Qh`` = top-r right singular vectors of the stacked post-RoPE
    queries of the KV head's query heads scaled by their singular values (r = 20,
    lambda = 1e-3). *Ours:* the "prompt" whose queries give the subspace is the first half of
    each window (``prompt_fraction`` = 0.5); the subspace is then used for every key of the
    window. Same residual policy and bits as KIVI. At head_dim 64 there is one block and SQuat
    reduces to KIVI (as its code does).
``axelram-centred`` (*ours*, an extension, not the paper's)
    AXELRAM on ``k - mu`` with ``mu`` the mean calibration key of the layer and KV head
    (:class:`AxelramCentred`): softmax ignores the per-query constant ``q . mu``.
``srft-int4``
    Sign-randomised Hadamard (``default_signs(d, layers, seed)``, orthonormal), per-channel scale
    lambda = RMS of the rotated calibration keys of that layer and KV head (normalised to mean 1;
    *ours*), per-group (32 coordinates) abs-max symmetric int4 (codes -7..7, fp16 scale),
    inverse on read. 4*d + 16*d/32 bits.

Everything here except :class:`Evaluator` and the model helpers is NumPy only (no torch).
"""

import dataclasses
import math
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np

from .codebook import beta_codebook
from .config import AxelramConfig
from .fixed import FixedModel, to_fixed
from .float_model import FloatModel
from .fwht import fwht
from .signs import SignSet, default_signs

__all__ = [
    "METHODS", "DEFAULT_CTX", "ATTENTION_NAME", "ModelInfo", "Method", "FP16", "Axelram",
    "AxelramFixed", "AxelramCentred", "TurboQuant", "Kivi", "SQuat", "SrftInt4", "make_method",
    "check_b", "model_info", "check_text_length", "Evaluator", "markdown_table",
    "kivi_quantise_keys", "kivi_quantise_values",
]

DEFAULT_CTX = 1024
ATTENTION_NAME = "axelram_eval"

#: Method name -> (allowed b values, default b).
METHODS = {
    "fp16": ((None,), None),
    "axelram": ((1, 2, 3, 4), 3),
    "axelram-fixed": ((1, 2, 3, 4), 3),
    "axelram-centred": ((1, 2, 3, 4), 3),
    "turboquant": ((1, 2, 3, 4), 3),
    "kivi": ((1, 2, 3, 4, 8), 2),
    "squat": ((1, 2, 3, 4, 8), 2),
    "srft-int4": ((4,), 4),
}

VALUE_MODES = ("fp16", "method")


def check_b(method, b):
    """The bit width to use for ``method``: ``b`` or the method's default; ValueError if the
    method is unknown or ``b`` is out of its range."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    allowed, default = METHODS[method]
    if b is None:
        return default
    if method == "fp16":
        raise ValueError("method fp16 takes no --b (it is the 16-bit reference)")
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b not in allowed:
        raise ValueError(f"b must be one of {', '.join(map(str, allowed))} for method {method}, "
                         f"not {b!r}")
    return int(b)


# ------------------------------------------------------------------------------------------------
# Model shape, read cheaply (no weights)

@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the methods need to know about a model: its attention shape."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    model_type: str = ""


def _gguf_metadata(path, wanted_suffixes):
    """Key/value metadata of a GGUF file (header only; arrays are skipped, not decoded)."""
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
              11: "<q", 12: "<d"}
    out = {}
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (bad magic)")
        version, = struct.unpack("<I", f.read(4))
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported")
        _, n_kv = struct.unpack("<QQ", f.read(16))

        def read_str():
            n, = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8", "replace")

        def read_value(vtype):
            if vtype in scalar:
                fmt = scalar[vtype]
                return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
            if vtype == 8:
                return read_str()
            if vtype == 9:
                itype, n = struct.unpack("<IQ", f.read(12))
                if itype in scalar:
                    size = struct.calcsize(scalar[itype])
                    if n <= 1024:
                        return list(struct.unpack(f"<{n}{scalar[itype][1]}", f.read(n * size)))
                    f.seek(n * size, os.SEEK_CUR)
                    return None
                if itype == 8:
                    for _ in range(n):
                        m, = struct.unpack("<Q", f.read(8))
                        f.seek(m, os.SEEK_CUR)
                    return None
                return [read_value(itype) for _ in range(n)]
            raise ValueError(f"{path}: unknown GGUF value type {vtype}")

        for _ in range(n_kv):
            key = read_str()
            vtype, = struct.unpack("<I", f.read(4))
            value = read_value(vtype)
            if key == "general.architecture" or key.endswith(wanted_suffixes):
                out[key] = value
    return out


def model_info(ref):
    """:class:`ModelInfo` from a :class:`golden.kvdump.ModelRef` without loading weights (the
    GGUF header or ``config.json``); takes well under a second."""
    if ref.gguf_file is not None:
        path = Path(ref.directory) / ref.gguf_file
        meta = _gguf_metadata(path, (".block_count", ".attention.head_count",
                                     ".attention.head_count_kv", ".embedding_length",
                                     ".attention.key_length"))
        arch = meta.get("general.architecture")
        if arch is None:
            raise ValueError(f"{path}: GGUF file names no general.architecture")

        def get(name, default=None):
            v = meta.get(f"{arch}.{name}", default)
            if isinstance(v, list):
                v = max(v)
            return v

        layers, heads = get("block_count"), get("attention.head_count")
        if layers is None or heads is None:
            raise ValueError(f"{path}: GGUF metadata lacks {arch}.block_count or "
                             f"{arch}.attention.head_count")
        kv_heads = get("attention.head_count_kv", heads)
        head_dim = get("attention.key_length") or get("embedding_length") // heads
        return ModelInfo(int(layers), int(heads), int(kv_heads), int(head_dim), str(arch))
    import json

    cfg_path = Path(ref.directory) / "config.json"
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg = cfg.get("text_config", cfg)
    try:
        layers, heads = int(cfg["num_hidden_layers"]), int(cfg["num_attention_heads"])
        kv_heads = int(cfg.get("num_key_value_heads") or heads)
        head_dim = int(cfg.get("head_dim") or cfg["hidden_size"] // heads)
    except KeyError as exc:
        raise ValueError(f"{cfg_path}: lacks {exc.args[0]!r}") from None
    return ModelInfo(layers, heads, kv_heads, head_dim, str(cfg.get("model_type", "")))


def check_text_length(text, tokens):
    """Cheap pre-check before any tokeniser: a token is at least one character here."""
    if len(text) < tokens:
        raise ValueError(f"the text has {len(text)} characters, fewer than the {tokens} tokens "
                         "requested")


# ------------------------------------------------------------------------------------------------
# Methods (NumPy)

def _f32(x):
    return np.ascontiguousarray(x, dtype=np.float32)


def _fp16(x):
    return np.asarray(x, dtype=np.float64).astype(np.float16).astype(np.float64)


class Method:
    """A KV-cache method: ``keys(k, layer) -> k~`` and ``values(v, layer) -> v~``.

    ``k``/``v`` are ``[kv_heads, T, d]`` arrays of one layer and one window (the fp16-rounded
    cache, as float32); ``q`` (only for :attr:`needs_queries` methods) is ``[heads, T, d]``.
    :meth:`key_cutoff` / :meth:`value_cutoff` return ``None`` (every entry is read
    reconstructed) or an int array ``c`` of length T: query ``t`` reads entries ``j < c[t]``
    reconstructed and the others exact (an fp16 residual window).
    """

    name = "method"
    needs_queries = False

    def __init__(self, info, b=None, values="fp16"):
        if values not in VALUE_MODES:
            raise ValueError(f"values must be one of {', '.join(VALUE_MODES)}, not {values!r}")
        self.info, self.b, self.values_mode = info, b, values

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


class FP16(Method):
    name = "fp16"

    def keys(self, k, layer, q=None):
        return _f32(k)

    def _values(self, v, layer):
        return _f32(v)

    def bits_per_key(self):
        return 16 * self.d


def _check_signset(signs, info):
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

    def __init__(self, info, b=3, signs=None, values="fp16"):
        super().__init__(info, b, values)
        self.signs = _check_signset(signs if signs is not None
                                    else default_signs(info.head_dim, info.layers, 0), info)
        self.models = [FloatModel(self.d, b, self.signs.signs[layer])
                       for layer in range(info.layers)]

    def encode(self, k, layer):
        """``(idx, norms)`` of the keys ``k`` (..., d) flattened to (N, d)."""
        x = np.asarray(k, dtype=np.float64).reshape(-1, self.d)
        m = self.models[layer]
        return m.quantise(x), m.norms(x)

    def keys(self, k, layer, q=None):
        idx, norms = self.encode(k, layer)
        return _f32(self.models[layer].dequantise(idx, norms).reshape(np.shape(k)))

    def bits_per_key(self):
        return self.d * self.b + 16

    def describe(self):
        return {**super().describe(), "signs": self.signs.source}


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
        return _f32(self.decode(stored, scale, layer).reshape(np.shape(k)))

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

    def keys(self, k, layer, q=None):
        mu = self.mu[layer][:, None, :]
        x = np.asarray(k, dtype=np.float64) - mu
        return _f32(super().keys(x, layer) + mu)

    def _values(self, v, layer):
        return Axelram.keys(self, v, layer)


class TurboQuant(Method):
    """TurboQuant-MSE with a Haar-random rotation per layer and the Beta codebook."""

    name = "turboquant"

    def __init__(self, info, b=3, seed=0, values="fp16"):
        super().__init__(info, b, values)
        self.seed = seed
        cb = beta_codebook(b, self.d)
        self.c = np.array(cb.centroids) / math.sqrt(self.d)
        self.t = np.array(cb.thresholds) / math.sqrt(self.d)
        self.rotations = [self.rotation(self.d, seed, layer) for layer in range(info.layers)]

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
        return _f32(self.decode(idx, n, layer).reshape(np.shape(k)))

    def bits_per_key(self):
        return self.d * self.b + 16

    def describe(self):
        return {**super().describe(), "seed": self.seed}


def _minmax(x, bits, axis):
    """Asymmetric min/max quantise-dequantise of ``x`` along ``axis`` (fp16 scale and minimum)."""
    top = (1 << bits) - 1
    mn = _fp16(np.min(x, axis=axis, keepdims=True))
    mx = np.max(x, axis=axis, keepdims=True)
    scale = _fp16((mx - mn) / top)
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

    def __init__(self, info, b=2, group=32, residual=128, values="fp16"):
        super().__init__(info, b, values)
        if residual < 0 or residual % group:
            raise ValueError(f"residual {residual} must be a multiple of the group {group}")
        self.group, self.residual = group, residual

    @property
    def label(self):
        return f"{self.name}-{self.b}" + ("" if self.residual else " (no residual)")

    def keys(self, k, layer, q=None):
        return _f32(kivi_quantise_keys(k, self.b, self.group))

    def _values(self, v, layer):
        return _f32(kivi_quantise_values(v, self.b, min(self.group, self.d)))

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
        return _f32(np.stack([self.quantise_head(k[h], qhats[h]) for h in range(k.shape[0])]))

    def describe(self):
        return {**super().describe(), "rank": self.rank, "lambda": self.lam,
                "block": self.block, "prompt_fraction": self.prompt_fraction}


class SrftInt4(Method):
    """Sign-randomised Hadamard + calibrated per-channel scale + per-group abs-max int4."""

    name = "srft-int4"

    def __init__(self, info, calib, seed=0, group=32, values="fp16"):
        super().__init__(info, 4, values)
        self.seed, self.group = seed, min(group, self.d)
        self.signs = default_signs(self.d, info.layers, seed).signs.astype(np.float64)
        self.lam_k = self._calibrate(calib.k)
        self.lam_v = self._calibrate(calib.v) if values == "method" else None

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
        scale = _fp16(np.max(np.abs(g), axis=-1, keepdims=True) / 7)
        safe = np.where(scale > 0, scale, 1.0)
        yq = (np.clip(np.rint(g / safe), -7, 7) * scale).reshape(h, t, d)
        return self.signs[layer] * fwht(yq * lam[layer][:, None, :], normalise=True)

    def keys(self, k, layer, q=None):
        return _f32(self._code(k, layer, self.lam_k))

    def _values(self, v, layer):
        return _f32(self._code(v, layer, self.lam_v))

    def bits_per_key(self):
        return self.d * (4 + 16 / self.group)

    def describe(self):
        return {**super().describe(), "seed": self.seed, "group": self.group}


def make_method(name, info, b=None, *, signs=None, seed=0, calib=None, values="fp16",
                **options):
    """Build a method by name (see :data:`METHODS`); ``b=None`` picks the method's default.

    ``signs`` (a :class:`SignSet`) is used by ``axelram``/``axelram-fixed`` (default:
    ``default_signs(d, layers, seed)``); ``seed`` by those and by ``turboquant``/``srft-int4``;
    ``calib`` (a :class:`golden.kvdump.KVDump`) is required by ``srft-int4``; ``options`` go to
    the method's constructor (e.g. ``residual=0`` for ``kivi``/``squat``).
    """
    b = check_b(name, b)
    if name == "fp16":
        return FP16(info, None, values)
    if name.startswith("axelram"):
        signs = signs if signs is not None else default_signs(info.head_dim, info.layers, seed)
        if name == "axelram-centred":
            return AxelramCentred(info, b, signs, calib, values)
        return (Axelram if name == "axelram" else AxelramFixed)(info, b, signs, values)
    if name == "turboquant":
        return TurboQuant(info, b, seed, values)
    if name == "kivi":
        return Kivi(info, b, values=values, **options)
    if name == "squat":
        return SQuat(info, b, values=values, **options)
    if calib is None:
        raise ValueError("srft-int4 needs a calibration KV dump (--calib-kv) for its per-channel "
                         "scales")
    return SrftInt4(info, calib, seed, values=values)


# ------------------------------------------------------------------------------------------------
# The model side (torch)

_ACTIVE = None  # the _Hook of the running forward pass


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    if _ACTIVE is None:
        raise RuntimeError(f"the {ATTENTION_NAME} attention was called outside Evaluator")
    return _ACTIVE(module, query, key, value, attention_mask, scaling, kwargs)


def register_attention():
    """Register :data:`ATTENTION_NAME` (attention function and its eager float mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTENTION_NAME, _attention)
    AttentionMaskInterface.register(ATTENTION_NAME, eager_mask)


class _Hook:
    """Replaces a layer's keys (and values) by the method's reconstruction, then runs eager
    attention; accumulates the relative score error on every ``stride``-th query row."""

    def __init__(self, method, stride=8):
        self.method, self.stride = method, stride
        self.num, self.den = {}, {}
        self.num_c, self.den_c = {}, {}
        self.seconds = 0.0

    def __call__(self, module, query, key, value, attention_mask, scaling, kwargs):
        import torch

        if kwargs.get("s_aux") is not None:
            raise NotImplementedError("attention sinks (s_aux) are not supported")
        if query.shape[0] != 1:
            raise ValueError("the evaluation runs one window (batch 1) at a time")
        layer = module.layer_idx
        _, hq, t, d = query.shape
        rep = hq // key.shape[1]
        if scaling is None:
            scaling = d ** -0.5
        m = self.method
        start = time.perf_counter()
        k16 = key.detach().to(torch.float16).to(torch.float32)
        v16 = value.detach().to(torch.float16).to(torch.float32)
        q_np = query[0].detach().float().numpy() if m.needs_queries else None
        kt = torch.from_numpy(m.keys(k16[0].numpy(), layer, q=q_np))[None]
        vt = torch.from_numpy(m.values(v16[0].numpy(), layer))[None]
        self.seconds += time.perf_counter() - start

        def rk(x):
            return x if rep == 1 else x.repeat_interleave(rep, dim=1)

        qf = query.float()
        scores = torch.matmul(qf, rk(kt).transpose(2, 3)) * scaling
        kcut = m.key_cutoff(t)
        exact = None
        if kcut is not None:
            exact = torch.matmul(qf, rk(k16).transpose(2, 3)) * scaling
            use = torch.arange(t)[None, :] < torch.from_numpy(kcut)[:, None]
            scores = torch.where(use, scores, exact)
        if attention_mask is None:
            attention_mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
        mask = attention_mask[:, :, :, :t]

        # score error on sampled rows (pre-softmax, causal/visible entries only)
        rows = torch.arange(self.stride - 1, t, self.stride)
        if len(rows):
            ref = (exact[:, :, rows] if exact is not None
                   else torch.matmul(qf[:, :, rows], rk(k16).transpose(2, 3)) * scaling)
            visible = (mask[:, :, rows] == 0).to(ref.dtype)
            err = scores[:, :, rows] - ref
            diff = (err ** 2 * visible).sum().item()
            den = ((ref ** 2) * visible).sum().item()
            # centred: a per-query constant shift of the scores does not change the softmax
            count = visible.sum(-1, keepdim=True).clamp(min=1)
            err_c = err - (err * visible).sum(-1, keepdim=True) / count
            ref_c = ref - (ref * visible).sum(-1, keepdim=True) / count
            for acc, x in ((self.num, diff), (self.den, den),
                           (self.num_c, (err_c ** 2 * visible).sum().item()),
                           (self.den_c, (ref_c ** 2 * visible).sum().item())):
                acc[layer] = acc.get(layer, 0.0) + x

        softcap = kwargs.get("softcap")
        if softcap:
            scores = torch.tanh(scores / softcap) * softcap
        scores = scores + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        vcut = m.value_cutoff(t)
        if vcut is None:
            out = torch.matmul(probs, rk(vt))
        else:
            use = (torch.arange(t)[None, :] < torch.from_numpy(vcut)[:, None]).to(probs.dtype)
            out = torch.matmul(probs * use, rk(vt)) + torch.matmul(probs * (1 - use), rk(v16))
        return out.transpose(1, 2).contiguous().to(query.dtype), None

    def score_errors(self, centred=False):
        """Relative RMS score error per layer; ``centred`` removes each query row's mean over
        its visible keys from both the error and the scores first (softmax-invariant part)."""
        num, den = (self.num_c, self.den_c) if centred else (self.num, self.den)
        return {layer: math.sqrt(num[layer] / den[layer]) if den[layer] else 0.0
                for layer in sorted(num)}


class Evaluator:
    """Runs methods over fixed token windows of one model and compares them with the fp16 cache.

    Parameters
    ----------
    model : transformers causal LM (float32, CPU), e.g. from :func:`golden.kvdump.load_model`
    windows : int array [windows, ctx]
    progress : bool or None
        tqdm bar over windows; ``None`` = only when stderr is a terminal.
    chunk : int
        Rows of logits computed at a time (memory: chunk x vocab floats, twice).
    """

    def __init__(self, model, windows, *, info=None, progress=None, chunk=256, stride=8):
        import torch

        register_attention()
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(ATTENTION_NAME)
        else:  # pragma: no cover - older transformers
            model.config._attn_implementation = ATTENTION_NAME
        self.model = model
        self.windows = np.asarray(windows, dtype=np.int64)
        if self.windows.ndim != 2 or self.windows.shape[1] < 2:
            raise ValueError(f"windows must be [windows, ctx >= 2], not {self.windows.shape}")
        self.info = info
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.chunk, self.stride = chunk, stride
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.reference = None          # per window: final hidden states [ctx, hidden]
        self.reference_result = None
        self._torch = torch

    def _logprobs(self, h):
        torch = self._torch
        logits = self.head(h).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return torch.log_softmax(logits, dim=-1)

    def _hidden(self, hook, ids):
        global _ACTIVE
        torch = self._torch
        _ACTIVE = hook
        try:
            out = self.decoder(input_ids=torch.from_numpy(ids[None]), use_cache=False)
        finally:
            _ACTIVE = None
        return out.last_hidden_state[0]

    def run(self, method, fp16_method=None):
        """Evaluate ``method``; runs the fp16 reference first if it has not run yet (then
        ``fp16_method`` or a plain :class:`FP16` builds it). Returns a result dict."""
        from tqdm.auto import tqdm

        torch = self._torch
        if self.reference is None and not isinstance(method, FP16):
            self.run(fp16_method or FP16(method.info))
        is_ref = self.reference is None
        hook = _Hook(method, self.stride)
        nll = kl = 0.0
        agree = scored = 0
        hidden = []
        start = time.perf_counter()
        with torch.inference_mode():
            bar = tqdm(range(len(self.windows)), desc=method.label, unit="window",
                       disable=not self.progress, leave=False)
            for w in bar:
                ids = self.windows[w]
                h = self._hidden(hook, ids)
                if is_ref:
                    hidden.append(h)
                t = len(ids) - 1
                targets = torch.from_numpy(ids[1:])
                for c0 in range(0, t, self.chunk):
                    c1 = min(t, c0 + self.chunk)
                    lp = self._logprobs(h[c0:c1])
                    nll -= lp.gather(1, targets[c0:c1, None]).sum().item()
                    if not is_ref:
                        lr = self._logprobs(self.reference[w][c0:c1])
                        kl += (lr.exp() * (lr - lp)).sum().item()
                        agree += (lr.argmax(-1) == lp.argmax(-1)).sum().item()
                    else:
                        agree += c1 - c0
                scored += t
        seconds = time.perf_counter() - start
        if is_ref:
            self.reference = hidden
        errs = hook.score_errors()
        errc = hook.score_errors(centred=True)
        ppl = math.exp(nll / scored)
        result = {
            **method.describe(),
            "windows": int(len(self.windows)), "ctx": int(self.windows.shape[1]),
            "tokens_scored": int(scored),
            "nll": nll / scored, "ppl": ppl,
            "kl": kl / scored, "top1": agree / scored,
            "score_error_mean": float(np.mean(list(errs.values()))) if errs else 0.0,
            "score_error_max": float(max(errs.values())) if errs else 0.0,
            "score_error_max_layer": int(max(errs, key=errs.get)) if errs else None,
            "score_error_per_layer": [errs[k] for k in sorted(errs)],
            "score_error_centred_mean": float(np.mean(list(errc.values()))) if errc else 0.0,
            "score_error_centred_max": float(max(errc.values())) if errc else 0.0,
            "score_error_centred_per_layer": [errc[k] for k in sorted(errc)],
            "seconds": seconds, "quantise_seconds": hook.seconds,
        }
        if is_ref:
            self.reference_result = result
        ref = self.reference_result
        result["ppl_ref"] = ref["ppl"]
        result["dppl"] = ppl - ref["ppl"]
        return result


# ------------------------------------------------------------------------------------------------
# Reporting

def markdown_table(results):
    """A markdown table of result dicts (as :meth:`Evaluator.run` returns them)."""
    lines = ["| method | bits/key (per coord) | PPL | ΔPPL | KL | top-1 | score err (mean / max, "
             "layer) | tokens | s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        name = r.get("label", r["method"])
        if r.get("signs") and r["method"].startswith("axelram"):
            name += f" ({r['signs']})"
        lines.append(
            f"| {name} | {r['bits_per_key']:.0f} ({r['bits_per_coordinate']:.3f}) | "
            f"{r['ppl']:.4f} | {r['dppl']:+.4f} | {r['kl']:.5f} | {100 * r['top1']:.2f} % | "
            f"{r['score_error_mean']:.4f} / {r['score_error_max']:.4f} "
            f"(L{r['score_error_max_layer']}) | {r['tokens_scored']} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"
