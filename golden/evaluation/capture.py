"""Capturing a real model's post-RoPE KV cache over token windows, as a :class:`KVDump`.

Every window is one independent forward pass with ``use_cache=True``; the keys and values of
every layer are read back from the cache and concatenated on the token axis (the file format is
:mod:`golden.kvdump`). torch is imported inside :func:`dump_kv_windows` only.
"""

import hashlib
import sys

import numpy as np

from ..kvdump import FORMAT, KVDump
from .corpus import token_windows

__all__ = ["dump_kv", "dump_kv_windows"]


def _cache_layers(cache):
    """``[(keys, values), ...]`` per layer from a transformers cache (5.x ``.layers``, 4.x
    ``key_cache``/``value_cache``, or the legacy tuple of tuples)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(kv[0], kv[1]) for kv in cache]


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


def _check_windows(windows, dtype):
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', not {dtype!r}")
    windows = np.asarray(windows, dtype=np.int64)
    if windows.ndim != 2 or windows.size == 0:
        raise ValueError(f"windows must be a non-empty [samples, tokens] array, "
                         f"not shape {windows.shape}")
    return windows


def _store_window(layers, k, v, s, tokens):
    """Copy window ``s``'s cached keys and values of every layer into ``k``/``v``, checking that
    each has the shape of an uncompressed full-attention cache."""
    if len(layers) != len(k):
        raise ValueError(f"the cache has {len(layers)} layers in window {s}, "
                         f"{len(k)} in window 0")
    for i, (keys, values) in enumerate(layers):
        for label, t, dst in (("keys", keys, k[i]), ("values", values, v[i])):
            want = (1, dst.shape[0], tokens, dst.shape[2])
            if tuple(t.shape) != want:
                raise ValueError(
                    f"layer {i} cached {label} have shape {tuple(t.shape)}, expected "
                    f"{want} (sliding-window or compressed caches are not supported)")
            dst[:, s * tokens : (s + 1) * tokens] = t[0].float().numpy()


def _run_windows(model, windows, dtype, progress):
    """Per-layer key and value arrays ``[kv_heads, samples * tokens, head_dim]`` of ``dtype``,
    one forward pass per window."""
    import torch
    from tqdm.auto import tqdm

    samples, tokens = windows.shape
    k = v = None
    with torch.inference_mode():
        for s in tqdm(range(samples), desc="kv-dump", unit="window", disable=not progress):
            ids = torch.from_numpy(windows[s : s + 1])
            try:
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            except TypeError:  # models without logits_to_keep
                out = model(input_ids=ids, use_cache=True)
            layers = _cache_layers(out.past_key_values)
            if k is None:
                shape = tuple(layers[0][0].shape)
                kv_heads, head_dim = shape[1], shape[3]
                k = [np.empty((kv_heads, samples * tokens, head_dim), dtype) for _ in layers]
                v = [np.empty((kv_heads, samples * tokens, head_dim), dtype) for _ in layers]
            _store_window(layers, k, v, s, tokens)
            del out, layers
    return k, v


def _dump_meta(config, k, tokens, samples, dtype, model_name, text_description):
    return {
        "format": FORMAT,
        "model": model_name or getattr(config, "_name_or_path", "") or "unknown",
        "layers": str(len(k)),
        "kv_heads": str(k[0].shape[0]),
        "head_dim": str(k[0].shape[2]),
        "tokens": str(tokens),
        "samples": str(samples),
        "text": text_description,
        "dtype": dtype,
        "model_type": str(getattr(config, "model_type", "unknown")),
        "num_heads": str(getattr(config, "num_attention_heads", "unknown")),
        "bos": "none (windows are raw slices of the text's tokens)",
        "versions": f"torch {_version('torch')}, transformers {_version('transformers')}",
    }


def dump_kv_windows(model, windows, *, dtype="float16", model_name=None, text_description="",
                    progress=None):
    """Run ``model`` once per row of ``windows`` (``[samples, tokens]`` token ids) with
    ``use_cache=True`` and collect every layer's post-RoPE keys and values from the cache.

    Parameters
    ----------
    model : transformers causal LM
    windows : array of int, shape [samples, tokens]
    dtype : "float16" or "float32"
        Storage type of the returned arrays.
    model_name, text_description : str
        Recorded in the metadata (``model`` and ``text``).
    progress : bool or None
        Show a tqdm bar; ``None`` shows it only when stderr is a terminal.

    Returns
    -------
    KVDump
    """
    windows = _check_windows(windows, dtype)
    samples, tokens = windows.shape
    if progress is None:
        progress = sys.stderr.isatty()
    k, v = _run_windows(model, windows, dtype, progress)
    meta = _dump_meta(model.config, k, tokens, samples, dtype, model_name, text_description)
    return KVDump(meta, dict(enumerate(k)), dict(enumerate(v)))


def dump_kv(model, tokenizer, text, tokens, samples, *, dtype="float16", model_name=None,
            text_description="", progress=None):
    """Tokenise ``text``, take ``samples`` windows of ``tokens`` tokens (:func:`token_windows`)
    and collect the model's KV cache (:func:`dump_kv_windows`). Returns a :class:`KVDump`."""
    windows = token_windows(tokenizer, text, tokens, samples)
    if not text_description:
        text_description = f"sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()}"
    return dump_kv_windows(model, windows, dtype=dtype, model_name=model_name,
                           text_description=text_description, progress=progress)
