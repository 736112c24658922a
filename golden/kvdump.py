"""The KV-dump file format: validated safetensors files of post-RoPE keys and values.

The calibration and evaluation code needs the keys (and values) that a real model puts in its
KV cache. :func:`write_kv_dump` stores such a cache and :func:`read_kv_dump` loads a file and
checks it; both are NumPy + safetensors only (no torch). Producing a dump from a real model is
the torch-side tooling's job (:mod:`golden.evaluation.capture`, ``axelram kv-dump``).

Dump format ``axelram-kv-dump/1``
---------------------------------
Tensors ``k.<layer>`` and ``v.<layer>`` for layer = 0 .. layers-1, each of shape
``[kv_heads, tokens * samples, head_dim]`` (float16 by default, or float32). The token axis is the
``samples`` windows one after the other; every window is an independent forward pass, so the
position of token ``t`` within its window is ``t % tokens`` (the keys are post-RoPE). String
metadata: ``format``, ``model``, ``layers``, ``kv_heads``, ``head_dim``, ``tokens`` (per window),
``samples``, ``text`` (source, split and sha256 of the text) and a few informational entries
(``dtype``, ``model_type``, ``num_heads``, ``bos``, library versions).

Windows are consecutive, non-overlapping slices of the text's tokens, starting at token 0 of the
text, tokenised without special tokens; no BOS token is prepended to a window (the text and its
split: :mod:`golden.evaluation.corpus`).

safetensors is imported inside the functions that read or write a file.
"""

import dataclasses
import re
from pathlib import Path

import numpy as np

from .signs import atomic_path

__all__ = ["FORMAT", "REQUIRED_META", "KVDump", "write_kv_dump", "read_kv_dump"]

#: The ``format`` metadata entry of every dump this module writes and accepts.
FORMAT = "axelram-kv-dump/1"

#: Metadata entries a dump must have.
REQUIRED_META = ("format", "model", "layers", "kv_heads", "head_dim", "tokens", "samples", "text")


@dataclasses.dataclass
class KVDump:
    """A KV dump in memory: metadata and per-layer arrays ``[kv_heads, tokens_total, head_dim]``.

    Members
    -------
    meta : dict of str to str
        The safetensors metadata.
    k, v : dict of int to numpy.ndarray
        Keys and values per layer (float32 from :func:`read_kv_dump`).
    """

    meta: dict
    k: dict
    v: dict

    @property
    def layers(self):
        return len(self.k)

    @property
    def kv_heads(self):
        return self.k[0].shape[0]

    @property
    def tokens_total(self):
        return self.k[0].shape[1]

    @property
    def head_dim(self):
        return self.k[0].shape[2]


def write_kv_dump(dump, path):
    """Write a :class:`KVDump` to ``path`` as safetensors, atomically (a temporary file in the
    same directory, then ``os.replace``). Tensors are stored in the arrays' own dtype."""
    from safetensors.numpy import save_file

    tensors = {}
    for i in sorted(dump.k):
        tensors[f"k.{i}"] = np.ascontiguousarray(dump.k[i])
        tensors[f"v.{i}"] = np.ascontiguousarray(dump.v[i])
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={key: str(val) for key, val in dump.meta.items()})
    return Path(path)


_NAME_RE = re.compile(r"^([kv])\.(0|[1-9][0-9]*)$")


def _meta_int(meta, key):
    try:
        value = int(meta[key])
    except ValueError:
        raise ValueError(f"metadata {key!r} must be an integer, not {meta[key]!r}") from None
    if value < 1:
        raise ValueError(f"metadata {key!r} must be positive, not {value}")
    return value


def _check_meta(meta, where, expect_d):
    """``(layers, shape)`` from validated metadata; ``shape`` is every tensor's
    ``(kv_heads, tokens x samples, head_dim)``."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"{where}: metadata 'format' is {meta.get('format')!r}, "
                         f"expected {FORMAT!r}")
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise ValueError(f"{where}: metadata lacks {', '.join(missing)}")
    layers, kv_heads, head_dim, tokens, samples = (
        _meta_int(meta, key) for key in ("layers", "kv_heads", "head_dim", "tokens", "samples"))
    if expect_d is not None and head_dim != expect_d:
        raise ValueError(f"{where}: head_dim is {head_dim}, expected {expect_d}")
    return layers, (kv_heads, tokens * samples, head_dim)


def _check_names(names, layers, where):
    """Exactly the tensors ``k.0`` .. ``k.{layers-1}`` and the same ``v.*``."""
    expected = {f"{kind}.{i}" for kind in "kv" for i in range(layers)}
    absent = sorted(expected - names, key=lambda n: (n[0], int(n.split(".")[1])))
    if absent:
        shown = ", ".join(absent[:6]) + (", ..." if len(absent) > 6 else "")
        raise ValueError(f"{where}: metadata says {layers} layers but tensor(s) {shown} "
                         "are missing")
    extra = sorted(names - expected)
    if extra:
        raise ValueError(f"{where}: unexpected tensor(s) {', '.join(extra[:6])} "
                         f"(metadata says {layers} layers)")


def _check_tensor(a, name, shape, where):
    """Tensor ``name`` as float32, after checking its size, rank, dtype, shape and values."""
    head_dim = shape[2]
    if a.size == 0:
        raise ValueError(f"{where}: tensor {name} is empty (shape {a.shape})")
    if a.ndim != 3:
        raise ValueError(f"{where}: tensor {name} has {a.ndim} dimensions "
                         f"(shape {a.shape}), expected 3 [kv_heads, tokens, head_dim]")
    if a.dtype not in (np.float16, np.float32):
        raise ValueError(f"{where}: tensor {name} has dtype {a.dtype}, "
                         "expected float16 or float32")
    if a.shape[2] != head_dim:
        raise ValueError(f"{where}: tensor {name} has head_dim {a.shape[2]}, "
                         f"metadata says {head_dim}")
    if a.shape != shape:
        raise ValueError(f"{where}: tensor {name} has shape {a.shape}, expected "
                         f"{shape} = (kv_heads, tokens x samples, head_dim)")
    a = a.astype(np.float32, copy=False)
    finite = np.isfinite(a)
    if not finite.all():
        nan = int(np.isnan(a).sum())
        raise ValueError(f"{where}: tensor {name} has {nan} NaN and "
                         f"{int((~finite).sum()) - nan} Inf values")
    return a


def read_kv_dump(path, expect_d=None):
    """Load and validate a KV dump written by :func:`write_kv_dump`.

    Parameters
    ----------
    path : path-like
    expect_d : int or None
        If given, the head dimension the caller needs.

    Returns
    -------
    KVDump
        With float32 arrays.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the problem: not a safetensors file, missing/wrong metadata (``format`` must be
        ``axelram-kv-dump/1``), missing or unexpected tensors (``k.0`` .. ``k.{layers-1}`` and the
        same ``v.*`` must all exist), tensors that are not 3-D, empty, of a non-float dtype, of a
        shape that disagrees with the metadata, head_dim != ``expect_d``, or NaN/Inf values.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"KV dump {str(path)!r} not found")
    where = f"KV dump {path.name}"
    try:
        handle = safe_open(str(path), framework="np")
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise ValueError(f"{where} is not a readable safetensors file ({exc})") from None
    with handle as f:
        meta = dict(f.metadata() or {})
        layers, shape = _check_meta(meta, where, expect_d)
        _check_names(set(f.keys()), layers, where)
        arrays = {"k": {}, "v": {}}
        for kind in "kv":
            for i in range(layers):
                name = f"{kind}.{i}"
                arrays[kind][i] = _check_tensor(f.get_tensor(name), name, shape, where)
    return KVDump(meta, arrays["k"], arrays["v"])
