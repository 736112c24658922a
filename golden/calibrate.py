"""Per-layer sign-pattern calibration: the paper's Algorithm 1, deterministic and portable.

For every layer, candidate ``c`` (0 .. candidates-1) is the generator pattern
``golden.signs.sign_pattern(d, seed=c, layer=l)``, so candidate 0 is the default sign set
(``golden.signs.default_signs(d, layers, seed=0)``). Each candidate gets an objective (lower is
better); the best one (ties: lowest seed) goes into the sign file.

Data used per layer
-------------------
The layer's keys ``[kv_heads, tokens, head_dim]`` (optionally only the first ``samples`` windows
of the dump) are split on the token axis: the **fit half** is tokens ``[0, T//2)`` and the
**held-out half** is tokens ``[T//2, T)``; with the dump's windows concatenated one after the
other, an even number of windows splits into whole windows (8 windows: 0-3 / 4-7). Heads and
tokens are pooled and zero-norm keys are dropped (a zero key is stored exactly, whatever the
signs). A per-layer generator ``np.random.default_rng([seed, layer])`` then draws, in this order:

* the **fit subsample**: ``subsample`` fit-half keys without replacement (all of them if there are
  fewer; the report records it and a note is printed);
* a permutation of the held-out keys: the first ``min(subsample, n // 2)`` are the **held-out
  keys**, all the others the **query proxies** (at least as many as keys).

Objectives (``b``-bit Gaussian Lloyd–Max codebook, :func:`golden.codebook.gaussian_codebook`)
------------------------------------------------------------------------------------------------
``mse`` (the paper's)
    Mean over the fit subsample of the squared quantisation error, summed over coordinates, of
    the unit key rotated by ``R = (1/sqrt d) H diag(s)`` and quantised with the N(0, 1/d)
    codebook: ``mean_k sum_i (y_i - Q(y_i))**2`` with ``y = R k/||k||``. About 0.0345 at b = 3 for
    isotropic keys (the codebook's MSE).
``score`` (ours)
    Relative RMS attention-score error on held-out data:
    ``||(q . k~ - q . k)|| / ||q . k||`` over all pairs (q, k) of query proxies and held-out keys,
    with ``k~ = ||k|| R^T c[idx]`` the dequantised key (exactly what the macro's table look-up
    scores). The dump holds no queries, so other held-out **keys** act as queries. Random Gaussian
    queries were rejected: they are isotropic, and for isotropic queries the expected squared
    score error is proportional to ``sum_k ||k||**2 ||Q(y) - y||**2``, i.e. the norm-weighted
    MSE objective again. Real queries and keys are projections of the same hidden states with the
    same RoPE, and share the outlier directions (Qwen2's q/k biases) that make some sign patterns
    bad, so keys are the better proxy.

Both objectives are computed for all candidates at once (see :func:`mse_objective` and
:func:`score_objective`): the sign flip is folded into the Hadamard matrix, the Hadamard transform
is split as ``H_d = H_a (x) H_b`` (two small matrix products instead of one ``d x d`` one), the
mse error is summed through a closed form (no per-coordinate index look-up), and candidate
chunks run on all cores (the result does not depend on the number of threads). Everything is
float64; the results equal a straightforward per-candidate loop to ~1e-13 relative
(``tests/golden/test_calibrate.py``).

Files (:meth:`Calibration.write`, for ``--out signs.json``)
-----------------------------------------------------------
``signs.json``
    The sign file (:mod:`golden.signs` format ``axelram-signs/1``), ``seeds`` = chosen seeds.
``signs.hex``
    Sign ROM image for ``$readmemh``: one line per layer (address = layer), the d-bit word of
    :func:`golden.signs.rom_words` (bit i set where coordinate i is -1; coordinate 0 = least
    significant bit) as ``d/4`` lower-case hex digits, most significant digit first. No comments.
``signs.report.json``
    Options, data used, the paper's guideline verdict and per layer: ``layer``,
    ``default_objective``, ``best_objective``, ``best_seed``, the spread over candidates
    (``min, median, max, std``), the key-norm statistics (mean, std, min, max of ||k||, max |k|,
    zero-norm keys; over every key of the layer used), the vectors used and both objectives for
    the default and the chosen pattern (``check``). Floats are rounded to 10 significant digits.
``signs.report.md`` / ``signs.report.png``
    A summary table, and a box plot of every layer's objective over the candidates with the
    default (red x) and the chosen pattern (green dot), rendered by
    :mod:`golden.calibration_report`. The PNG needs matplotlib (imported only when the PNG is
    rendered); without it only the PNG is skipped (with a warning).

Every file is rendered in memory first and written through a temporary file and a rename; the
same dump, options and seed give byte-identical files.
"""

import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .calibration_report import render_markdown, render_png
from .checks import check_int_range
from .codebook import gaussian_codebook
from .fwht import hadamard
from .signs import SignSet, atomic_write_text, rom_words, sign_pattern, write_signs

__all__ = ["OBJECTIVES", "REPORT_FORMAT", "Calibration", "calibrate", "check_options",
           "candidate_signs", "mse_objective", "score_objective", "guideline", "output_paths"]

OBJECTIVES = ("mse", "score")
REPORT_FORMAT = "axelram-calibration-report/1"

#: Guideline of the paper: max/min ratio of layer-mean key norms.
GUIDELINE_FINE, GUIDELINE_CALIBRATE = 2.0, 5.0

_MAX_CANDIDATES = 1 << 20   # generous; each candidate costs d bytes of signs and one sweep step
_BLOCK_VECTORS = 128        # vectors per block: a chunk's buffers stay in the 2 MiB L2 cache
_CHUNK = 4                  # candidates per task
_DIGITS = 10                # significant digits of the floats in the report


# ------------------------------------------------------------------------------------------------
# Options and data checks

def check_options(b, candidates, subsample, seed, objective, samples=None, d=None):
    """Raise ValueError unless the calibration options are valid (cheap; call before any work)."""
    check_int_range("b", b, 1, 4)
    check_int_range("candidates", candidates, 1, _MAX_CANDIDATES)
    check_int_range("subsample", subsample, 1, 1 << 31)
    check_int_range("seed", seed, 0, (1 << 63) - 1)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    if samples is not None:
        check_int_range("samples", samples, 1, 1 << 31)
    if d is not None:
        check_int_range("d", d, 4, 1024, power_of_two=True)


def _meta_int(meta, key, where):
    try:
        value = int(meta[key])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: metadata {key!r} is missing or not an integer") from None
    return value


def _layer_keys(dump, samples, expect_d, where):
    """Validated per-layer key arrays (views, float32/float64) and the tokens used."""
    k = getattr(dump, "k", None)
    if not isinstance(k, dict) or not k:
        raise ValueError(f"{where}: no key tensors")
    layers = len(k)
    missing = [i for i in range(layers) if i not in k]
    if missing:
        raise ValueError(f"{where}: key tensors of layers {missing[:6]} are missing "
                         f"(expected layers 0..{layers - 1})")
    meta = dict(getattr(dump, "meta", {}) or {})
    if "layers" in meta and _meta_int(meta, "layers", where) != layers:
        raise ValueError(f"{where}: metadata says {meta['layers']} layers but there are "
                         f"{layers} key tensors")
    keys = []
    shape = None
    for i in range(layers):
        a = np.asarray(k[i])
        if a.ndim != 3:
            raise ValueError(f"{where}: keys of layer {i} have shape {a.shape}, expected "
                             "[kv_heads, tokens, head_dim]")
        if a.size == 0:
            raise ValueError(f"{where}: keys of layer {i} are empty (shape {a.shape})")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{where}: keys of layer {i} have dtype {a.dtype}, expected float")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise ValueError(f"{where}: keys of layer {i} have shape {a.shape}, layer 0 has "
                             f"{shape}")
        keys.append(a)
    heads, total, d = shape
    if expect_d is not None and d != expect_d:
        raise ValueError(f"{where}: head_dim is {d}, expected {expect_d} (--d)")
    if d < 4 or d > 1024 or d & (d - 1):
        raise ValueError(f"{where}: head_dim {d} is not a power of two between 4 and 1024; "
                         "pad the keys with zeros to the next power of two")
    used = total
    if samples is not None:
        have = _meta_int(meta, "samples", where)
        per = _meta_int(meta, "tokens", where)
        if samples > have:
            raise ValueError(f"{where}: --samples {samples} but the dump has only {have} "
                             "calibration sequences")
        if have * per != total:
            raise ValueError(f"{where}: metadata says {have} samples x {per} tokens but the "
                             f"tensors have {total} tokens")
        used = samples * per
    if used < 2:
        raise ValueError(f"{where}: need at least 2 tokens per layer (a fit half and a held-out "
                         f"half), the dump has {used}")
    for i, a in enumerate(keys):
        part = a[:, :used]
        finite = np.isfinite(part)
        if not finite.all():
            nan = int(np.isnan(part).sum())
            raise ValueError(f"{where}: keys of layer {i} have {nan} NaN and "
                             f"{int((~finite).sum()) - nan} Inf values")
        keys[i] = part
    return keys, used


# ------------------------------------------------------------------------------------------------
# Candidate evaluation (vectorised over candidates)

def candidate_signs(d, candidates, layer):
    """The candidate sign patterns of ``layer``: row c is ``sign_pattern(d, seed=c, layer)``."""
    return np.stack([sign_pattern(d, c, layer) for c in range(candidates)])


def _split(d):
    """H_d = H_a (x) H_b with b = min(d, 16): index i = i_a * b + i_b."""
    b = min(d, 16)
    return d // b, b


class _Engine:
    """Rotates vector blocks by ``x diag(s_c) H`` (unnormalised) for many candidates ``c``.

    Vectors are stored per block in the layout (a, m, b) of ``x.reshape(m, a, b)``; a candidate's
    rotated block has the same layout: entry [j_a, n, j_b] is coordinate ``j_a * b + j_b`` of
    ``x_n diag(s) H``. Step 1 multiplies each b-slice by ``diag(s slice) H_b``; step 2 combines the
    a slices with ``H_a`` (H[i][j] = H_a[i_a][j_a] * H_b[i_b][j_b] in Sylvester order).
    """

    def __init__(self, vectors, signs, threads=None):
        vectors = np.asarray(vectors, dtype=np.float64)
        signs = np.asarray(signs, dtype=np.float64)
        self.n, self.d = vectors.shape
        self.count = signs.shape[0]
        self.a, self.b = _split(self.d)
        self.ha = hadamard(self.a).astype(np.float64)
        hb = hadamard(self.b).astype(np.float64)
        self.blocks = np.ascontiguousarray(
            signs.reshape(self.count, self.a, self.b)[:, :, :, None] * hb)   # (C, a, b, b)
        self.vector_blocks = [
            np.ascontiguousarray(vectors[i:i + _BLOCK_VECTORS].reshape(-1, self.a, self.b)
                                 .transpose(1, 0, 2))
            for i in range(0, self.n, _BLOCK_VECTORS)]
        self.threads = threads if threads is not None else _default_threads()

    def rotate(self, xb, c0, c1, w, z):
        """Rotated block (k, a, m*b) of ``xb`` (a, m, b) for candidates c0..c1-1, into ``z``."""
        k = c1 - c0
        np.matmul(xb[None], self.blocks[c0:c1], out=w)
        if self.a == 1:
            z[...] = w.reshape(z.shape)
        else:
            np.matmul(self.ha, w.reshape(k, self.a, -1), out=z)
        return z

    def run(self, task):
        """Run ``task(c0, c1)`` over candidate chunks on ``threads`` threads.

        Each chunk writes only its own candidates' results, so the result does not depend on the
        number of threads. Worker threads ask OpenBLAS for single-threaded calls (their own
        matrices are small; nested BLAS threads only oversubscribe the cores).
        """
        chunks = [(c, min(c + _CHUNK, self.count)) for c in range(0, self.count, _CHUNK)]
        workers = max(1, min(self.threads, len(chunks)))
        with ThreadPoolExecutor(workers, initializer=_single_threaded_blas) as pool:
            list(pool.map(lambda ch: task(*ch), chunks))


def _openblas_local_setter():
    """``openblas_set_num_threads_local`` of the OpenBLAS that NumPy bundles, or None.

    (OpenBLAS >= 0.3.27: sets the thread count of the calling thread only.) Best effort: any
    other BLAS, or a missing symbol, just means the worker threads keep the BLAS default.
    """
    import ctypes

    libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for lib in sorted(libdir.glob("libscipy_openblas*.so*")):
        try:
            fn = ctypes.CDLL(str(lib)).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


_SET_LOCAL_THREADS = []


def _single_threaded_blas():
    if not _SET_LOCAL_THREADS:
        _SET_LOCAL_THREADS.append(_openblas_local_setter())
    if _SET_LOCAL_THREADS[0] is not None:
        _SET_LOCAL_THREADS[0](1)


def _default_threads():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Buffers:
    """Per-thread scratch arrays for one chunk of candidates, one set per block size."""

    def __init__(self, engine, **dtypes):
        self.engine, self.dtypes, self.sets = engine, dtypes, {}

    def get(self, m, k):
        if m not in self.sets:
            e = self.engine
            arrays = {"w": np.empty((_CHUNK, e.a, m, e.b))}
            for name, dtype in self.dtypes.items():
                arrays[name] = np.empty((_CHUNK, e.a, m * e.b), dtype)
            self.sets[m] = arrays
        return {name: a[:k] for name, a in self.sets[m].items()}


def _positive_half(b):
    cb = gaussian_codebook(b)
    half = 1 << (b - 1)
    c = np.array(cb.centroids[half:])          # the 2**(b-1) positive centroids, ascending
    t = np.array(cb.thresholds[half:])         # the 2**(b-1)-1 positive thresholds (0 excluded)
    return c, t


def _check_vectors(x, what):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"{what} must be a non-empty (n, d) array, not shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contain NaN or Inf")
    return x


def _check_signs(signs, d):
    s = np.asarray(signs)
    if s.ndim != 2 or s.shape[1] != d or s.shape[0] < 1:
        raise ValueError(f"signs must be a non-empty (candidates, {d}) array, not shape {s.shape}")
    if not np.all((s == 1) | (s == -1)):
        raise ValueError("signs must be +1 or -1")
    check_int_range("d", d, 4, 1024, power_of_two=True)
    return s


def mse_objective(units, signs, b, threads=None):
    """The paper's objective for every candidate: mean over ``units`` (n, d) of
    ``sum_i (y_i - Q(y_i))**2`` with ``y = (1/sqrt d) H diag(s) x`` and ``Q`` the b-bit N(0, 1/d)
    Lloyd–Max quantiser. ``signs`` is (C, d) of +-1; returns (C,) float64.

    Closed form used (scale-free ``z = sqrt(d) y``, ``a = |z|``, positive centroids
    ``c_0 < .. < c_top``, positive thresholds ``t_j`` between ``c_{j-1}`` and ``c_j``): the nearest-
    centroid error is ``a**2 - max_j(2 a c_j - c_j**2)`` and the max of these lines is
    ``2 c_top a - c_0**2 - 2 sum_j (c_j - c_{j-1}) min(a, t_j)``; so the error sum needs only
    ``sum a`` and ``sum min(a, t_j)``, and ``sum z**2 = d ||x||**2``.
    """
    x = _check_vectors(units, "unit keys")
    s = _check_signs(signs, x.shape[1])
    n, d = x.shape
    c, t = _positive_half(b)
    steps = np.diff(c)
    engine = _Engine(x, s, threads)
    sum_z2 = d * float(np.sum(x * x))
    s1 = np.zeros(engine.count)
    mins = np.zeros((len(t), engine.count))
    local = {}

    def task(c0, c1):
        buf = local.setdefault(threading.get_ident(), _Buffers(engine, z=float, tmp=float))
        k = c1 - c0
        acc1 = np.zeros(k)
        accm = np.zeros((len(t), k))
        for xb in engine.vector_blocks:
            bufs = buf.get(xb.shape[1], k)
            z, tmp = bufs["z"], bufs["tmp"]
            engine.rotate(xb, c0, c1, bufs["w"], z)
            np.abs(z, out=z)
            acc1 += z.reshape(k, -1).sum(axis=1)
            for j, tj in enumerate(t):
                np.minimum(z, tj, out=tmp)
                accm[j] += tmp.reshape(k, -1).sum(axis=1)
        s1[c0:c1] = acc1
        mins[:, c0:c1] = accm

    engine.run(task)
    total = sum_z2 - 2 * c[-1] * s1 + n * d * c[0] ** 2 + 2 * (steps @ mins)
    return np.maximum(total, 0.0) / (n * d)


def score_objective(keys, queries, signs, b, threads=None):
    """Our objective for every candidate: relative RMS score error
    ``||Qry (K~ - K)^T||_F / ||Qry K^T||_F`` of raw ``keys`` (n, d) against ``queries`` (m, d),
    ``K~`` the dequantised keys ``||k|| R^T c_d[idx]``. Returns (C,) float64.

    With ``G = Qry^T Qry`` and ``e_k = Q(z) - z`` the scale-free error of the unit key
    (``z = x diag(s) H``), the numerator is ``<H S G S H, sum_k ||k||**2 e_k e_k^T> / d**2``.
    Indices follow the hardware's convention (number of thresholds strictly below the value, so
    a zero coordinate takes the negative centroid).
    """
    kx = _check_vectors(keys, "keys")
    qx = _check_vectors(queries, "queries")
    d = kx.shape[1]
    if qx.shape[1] != d:
        raise ValueError(f"queries have {qx.shape[1]} coordinates, keys have {d}")
    s = _check_signs(signs, d)
    norms = np.linalg.norm(kx, axis=1)
    if not np.all(norms > 0):
        raise ValueError("keys must not be zero (drop zero-norm keys first)")
    gram = qx.T @ qx
    denominator = float(np.sum(gram * (kx.T @ kx)))
    if not denominator > 0:
        raise ValueError("every query is orthogonal to every key: the relative score error is "
                         "undefined")
    units = kx / norms[:, None]
    cb = gaussian_codebook(b)
    centroids, thresholds = np.array(cb.centroids), np.array(cb.thresholds)
    engine = _Engine(units, s, threads)
    a_, b_ = engine.a, engine.b
    blocks_norms = [norms[i:i + _BLOCK_VECTORS] for i in range(0, engine.n, _BLOCK_VECTORS)]
    moments = np.zeros((engine.count, d, d))
    local = {}

    def task(c0, c1):
        buf = local.setdefault(threading.get_ident(), _Buffers(
            engine, z=float, err=float, mask=bool, idx=np.int8, idxp=np.intp))
        k = c1 - c0
        for xb, nb in zip(engine.vector_blocks, blocks_norms, strict=True):
            m = xb.shape[1]
            bufs = buf.get(m, k)
            z, err, mask, idx, idxp = (bufs[n] for n in ("z", "err", "mask", "idx", "idxp"))
            engine.rotate(xb, c0, c1, bufs["w"], z)
            # index = number of thresholds strictly below z (the hardware's convention, ties
            # and z == 0 included), summed in int8
            idx[...] = 0
            for tj in thresholds:
                np.greater(z, tj, out=mask)
                np.add(idx, mask.view(np.int8), out=idx)
            idxp[...] = idx
            np.take(centroids, idxp, out=err)
            np.subtract(err, z, out=err)                    # e = Q(z) - z
            # rows of ||k|| * e_k in coordinate order: (a, m, b) -> (m, a, b) = (m, d)
            rows = np.multiply(err.reshape(k, a_, m, b_).transpose(0, 2, 1, 3),
                               nb[None, :, None, None]).reshape(k, m, d)
            moments[c0:c1] += np.matmul(rows.transpose(0, 2, 1), rows)

    engine.run(task)
    h = hadamard(d).astype(np.float64)
    numerator = np.empty(engine.count)
    for c0 in range(0, engine.count, 64):
        sc = s[c0:c0 + 64].astype(np.float64)
        g = gram[None] * sc[:, :, None] * sc[:, None, :]
        g = np.matmul(np.matmul(h, g), h)
        numerator[c0:c0 + 64] = np.einsum("cij,cij->c", g, moments[c0:c0 + 64])
    return np.sqrt(np.maximum(numerator, 0.0) / d ** 2 / denominator)


# ------------------------------------------------------------------------------------------------
# Calibration

def guideline(layer_mean_norms):
    """The paper's guideline from the layer-mean key norms: (max/min ratio, verdict)."""
    m = np.asarray(layer_mean_norms, dtype=np.float64)
    ratio = float(m.max() / m.min()) if m.min() > 0 else math.inf
    if ratio < GUIDELINE_FINE:
        verdict = "default signs are fine (ratio < 2)"
    elif ratio > GUIDELINE_CALIBRATE:
        verdict = "calibrate (ratio > 5)"
    else:
        verdict = "borderline (2 <= ratio <= 5)"
    return ratio, verdict


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    Members
    -------
    signset : SignSet
        The chosen pattern of every layer (``seeds`` = chosen candidate seeds).
    report : dict
        Everything ``signs.report.json`` holds.
    objectives : numpy.ndarray
        (layers, candidates): the selection objective of every candidate.
    seconds : tuple of float
        Wall time of each layer's candidate sweep (not written to any file).
    cpu_seconds : tuple of float
        CPU time (all threads) of each layer's candidate sweep (not written to any file).
    notes : tuple of str
        Notes printed during the run (also in the report).
    """

    signset: SignSet
    report: dict
    objectives: np.ndarray
    seconds: tuple = ()
    notes: tuple = field(default=())
    cpu_seconds: tuple = ()

    def render(self):
        """{suffix: text or bytes} of every output file (the PNG is None without matplotlib)."""
        ss = self.signset
        hexdigits = max(1, ss.d // 4)
        files = {
            ".hex": "".join(f"{w:0{hexdigits}x}\n" for w in rom_words(ss)),
            ".report.json": json.dumps(self.report, indent=2) + "\n",
            ".report.md": render_markdown(self.report),
            ".report.png": render_png(self.report, self.objectives),
        }
        return files

    def write(self, out):
        """Write the sign file ``out`` and its siblings (see the module docstring); returns the
        paths written. Every file goes through a temporary file and a rename."""
        paths = output_paths(out)
        files = self.render()           # everything rendered before anything is written
        paths["json"].parent.mkdir(parents=True, exist_ok=True)
        written = []
        for suffix, content in files.items():
            if content is None:
                print(f"warning: matplotlib is not installed; {paths[suffix].name} not written "
                      "(pip install matplotlib)", file=sys.stderr)
                continue
            atomic_write_text(paths[suffix], content)
            written.append(paths[suffix])
        write_signs(paths["json"], self.signset)
        written.insert(0, paths["json"])
        return written


def output_paths(out):
    """{"json": out, ".hex": ..., ".report.json": ..., ".report.md": ..., ".report.png": ...}."""
    out = Path(out)
    stem = out.name[:-len(out.suffix)] if out.suffix else out.name
    paths = {"json": out}
    for suffix in (".hex", ".report.json", ".report.md", ".report.png"):
        paths[suffix] = out.with_name(stem + suffix)
    return paths


def _round(x):
    if x is None:
        return None
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return x if math.isfinite(x) else None
    return float(f"{x:.{_DIGITS}g}")


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _describe_dump(dump, name):
    meta = dict(getattr(dump, "meta", {}) or {})
    return {"file": name, "model": meta.get("model", ""), "text": meta.get("text", ""),
            "format": meta.get("format", "")}


def _load(dump, name, expect_d):
    """``(dump, name)``: a path is read and checked by :func:`golden.kvdump.read_kv_dump`."""
    if isinstance(dump, (str, os.PathLike)):
        from .kvdump import read_kv_dump

        path = Path(dump)
        name = name or path.name
        dump = read_kv_dump(path, expect_d=expect_d)
    return dump, name or "in-memory dump"


def _layer_norms(keys, half, used, objective, where):
    """Key norms (heads, used) of every layer; a cheap pass over all layers first that checks
    each has enough non-zero keys in its fit (and, for ``score``, held-out) half."""
    norms = []
    for i, a in enumerate(keys):
        n = np.linalg.norm(a.astype(np.float64), axis=2)      # (heads, used)
        fit_nz = int(np.count_nonzero(n[:, :half]))
        held_nz = int(np.count_nonzero(n[:, half:]))
        if fit_nz == 0:
            raise ValueError(f"{where}: layer {i} has no non-zero key in its fit half "
                             f"(tokens 0..{half - 1})")
        if objective == "score" and held_nz < 2:
            raise ValueError(f"{where}: layer {i} has {held_nz} non-zero held-out keys "
                             f"(tokens {half}..{used - 1}); the score objective needs at least 2")
        norms.append(n)
    return norms


@dataclass(frozen=True)
class _LayerData:
    """The vectors one layer's search uses (module docstring, "Data used per layer")."""

    units: np.ndarray           # the fit subsample, normalised to unit length
    held_keys: np.ndarray       # held-out keys
    held_queries: np.ndarray    # the other held-out keys: query proxies


def _layer_data(a, n, half, subsample, rng):
    """Draw the fit subsample, then split the held-out keys, in that order from ``rng``."""
    d = a.shape[2]
    fit = a[:, :half].reshape(-1, d)
    fit_n = n[:, :half].reshape(-1)
    fit = fit[fit_n > 0]
    fit_n = fit_n[fit_n > 0]
    if len(fit) > subsample:
        pick = np.sort(rng.choice(len(fit), size=subsample, replace=False))
        fit, fit_n = fit[pick], fit_n[pick]
    units = fit / fit_n[:, None]

    held = a[:, half:].reshape(-1, d)
    held = held[n[:, half:].reshape(-1) > 0]
    perm = rng.permutation(len(held))
    n_keys = min(subsample, len(held) // 2)
    return _LayerData(units, held[perm[:n_keys]], held[perm[n_keys:]])


def _both_objectives(data, values, best, signs, b, objective):
    """Both objectives of the default (candidate 0) and the chosen pattern (``check``)."""
    pair = signs[[0, best]]
    check = {"mse": None, "score": None}
    mse_pair = (values[[0, best]] if objective == "mse"
                else mse_objective(data.units, pair, b, 1))
    check["mse"] = {"default": _round(mse_pair[0]), "best": _round(mse_pair[1])}
    if len(data.held_keys) >= 1 and len(data.held_queries) >= 1:
        try:
            sc = (values[[0, best]] if objective == "score"
                  else score_objective(data.held_keys, data.held_queries, pair, b, 1))
            check["score"] = {"default": _round(sc[0]), "best": _round(sc[1])}
        except ValueError:
            check["score"] = None
    return check


def _layer_row(layer, a, n, data, values, best, objective, check):
    """The report entry of one layer."""
    flat = n.reshape(-1)
    n_keys = len(data.held_keys)
    return {
        "layer": layer,
        "default_objective": _round(values[0]),
        "best_objective": _round(values[best]),
        "best_seed": best,
        "improvement": _round(1 - values[best] / values[0]) if values[0] > 0 else 0.0,
        "candidates_better_than_default": int(np.count_nonzero(values < values[0])),
        "spread": {"min": _round(values.min()), "median": _round(np.median(values)),
                   "max": _round(values.max()), "std": _round(values.std())},
        "norms": {"mean": _round(flat.mean()), "std": _round(flat.std()),
                  "min": _round(flat.min()), "max": _round(flat.max()),
                  "max_abs": _round(np.max(np.abs(a))),
                  "zero": int(flat.size - np.count_nonzero(flat)), "keys": int(flat.size)},
        "vectors": int(len(data.units) if objective == "mse" else n_keys),
        "fit_vectors": int(len(data.units)),
        "held_out_keys": int(n_keys),
        "query_proxies": int(len(data.held_queries)),
        "check": check,
    }


@dataclass
class _Search:
    """What the per-layer searches collect."""

    rows: list = field(default_factory=list)
    objectives: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    chosen: list = field(default_factory=list)
    short_fit: list = field(default_factory=list)
    short_held: list = field(default_factory=list)


def _search_layer(search, layer, a, n, half, b, candidates, subsample, seed, objective,
                  threads):
    """Evaluate every candidate of ``layer`` and record the best one in ``search``."""
    a = a.astype(np.float64)
    d = a.shape[2]
    data = _layer_data(a, n, half, subsample, np.random.default_rng([seed, layer]))
    if len(data.units) < subsample:
        search.short_fit.append(layer)
    if len(data.held_keys) < subsample:
        search.short_held.append(layer)

    signs = candidate_signs(d, candidates, layer)
    start, start_cpu = time.perf_counter(), time.process_time()
    if objective == "mse":
        values = mse_objective(data.units, signs, b, threads)
    else:
        values = score_objective(data.held_keys, data.held_queries, signs, b, threads)
    search.seconds.append(time.perf_counter() - start)
    search.cpu.append(time.process_time() - start_cpu)
    best = int(np.argmin(values))                  # first minimum: ties -> lowest seed
    search.chosen.append(best)
    search.objectives.append(values)
    check = _both_objectives(data, values, best, signs, b, objective)
    search.rows.append(_layer_row(layer, a, n, data, values, best, objective, check))


def _short_notes(search, subsample, objective):
    """The note on layers with fewer vectors than ``subsample`` (printed and reported)."""
    short = search.short_fit if objective == "mse" else search.short_held
    notes = []
    if short:
        avail = {r["layer"]: (r["fit_vectors"] if objective == "mse" else r["held_out_keys"])
                 for r in search.rows}
        shown = ", ".join(f"{i} ({avail[i]})" for i in short[:8]) + (", ..." if len(short) > 8
                                                                     else "")
        notes.append(f"subsample {subsample} is larger than the data of {len(short)} layer(s); "
                     f"all their vectors were used: layer (vectors) {shown}")
    return short, notes


def _report(dump, name, options, shape, used, norms, search, short, notes):
    """Everything ``signs.report.json`` holds."""
    layers, heads, d = shape
    half = used // 2
    objectives, chosen = search.objectives, search.chosen
    ratio, verdict = guideline([float(np.mean(n)) for n in norms])
    meta = dict(getattr(dump, "meta", {}) or {})
    return {
        "format": REPORT_FORMAT,
        "dump": _describe_dump(dump, name),
        "options": {**options,
                    "samples": (options["samples"] if options["samples"] is not None
                                else _int_or_none(meta.get("samples")))},
        "data": {"layers": layers, "kv_heads": heads, "head_dim": d, "tokens_used": used,
                 "fit_tokens": [0, half], "held_out_tokens": [half, used],
                 "queries": "held-out keys (the dump has no queries)"},
        "objective": {
            "mse": "mean over unit keys of the squared quantisation error summed over "
                   "coordinates, rotated domain, N(0,1/d) Gaussian Lloyd-Max codebook",
            "score": "relative RMS score error ||q.k~ - q.k|| / ||q.k||, held-out keys vs "
                     "held-out query proxies",
        }[options["objective"]],
        "guideline": {"layer_mean_norm_ratio": _round(ratio), "verdict": verdict,
                      "layer_mean_norms": [r["norms"]["mean"] for r in search.rows]},
        "summary": {
            "layers_changed": int(sum(1 for s in chosen if s != 0)),
            "mean_default_objective": _round(np.mean([v[0] for v in objectives])),
            "mean_best_objective": _round(np.mean([v.min() for v in objectives])),
            "worst_default_objective": _round(max(v[0] for v in objectives)),
            "worst_best_objective": _round(max(v.min() for v in objectives)),
        },
        "subsample_short_layers": short,
        "notes": notes,
        "layers": search.rows,
    }


def calibrate(dump, b, candidates=200, subsample=2000, seed=0, objective="mse", progress=True,
              *, samples=None, expect_d=None, threads=None, out=None, name=None):
    """Choose each layer's sign pattern among ``candidates`` generator seeds.

    Parameters
    ----------
    dump : path-like or KVDump
        A KV dump (:func:`golden.kvdump.read_kv_dump` reads and checks a path) or an object with
        ``meta`` (dict) and ``k`` ({layer: [kv_heads, tokens, head_dim] array}).
    b : int
        Bits per coordinate, 1..4.
    candidates, subsample, seed : int
        Candidate c of layer l is ``sign_pattern(d, seed=c, layer=l)``; ``subsample`` vectors
        per layer, drawn with ``np.random.default_rng([seed, layer])``.
    objective : "mse" or "score"
        Selection objective (module docstring).
    progress : bool
        tqdm progress bar over layers (only when stderr is a terminal).
    samples : int or None
        Use only the first ``samples`` calibration windows of the dump (metadata ``samples`` and
        ``tokens``; windows are concatenated on the token axis).
    expect_d : int or None
        Required head dimension.
    threads : int or None
        Worker threads (default: the CPUs this process may use).
    out : path-like or None
        If given, write the files (:meth:`Calibration.write`).
    name : str or None
        Dump name recorded in the files (default: the file name, or "in-memory dump").

    Raises
    ------
    ValueError
        Before any work, for bad options or a bad dump (NaN/Inf, missing layers, empty tensors,
        wrong head_dim, too few tokens, a layer without non-zero keys).
    """
    check_options(b, candidates, subsample, seed, objective, samples, expect_d)
    dump, name = _load(dump, name, expect_d)
    where = f"KV dump {name}"
    keys, used = _layer_keys(dump, samples, expect_d, where)
    layers = len(keys)
    heads, _, d = keys[0].shape
    half = used // 2
    norms = _layer_norms(keys, half, used, objective, where)

    from tqdm import tqdm

    bar = tqdm(range(layers), desc="calibrate", unit="layer",
               disable=not (progress and sys.stderr.isatty()))
    search = _Search()
    for layer in bar:
        _search_layer(search, layer, keys[layer], norms[layer], half, b, candidates, subsample,
                      seed, objective, threads)
    bar.close()
    short, notes = _short_notes(search, subsample, objective)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    chosen = search.chosen
    signset = SignSet(np.stack([sign_pattern(d, s, i) for i, s in enumerate(chosen)]),
                      seeds=tuple(chosen),
                      source=(f"axelram calibrate: {name}, b={b}, objective={objective}, "
                              f"candidates={candidates}, subsample={subsample}, seed={seed}, "
                              f"samples={samples if samples is not None else 'all'}"))
    options = {"b": b, "candidates": candidates, "subsample": subsample, "seed": seed,
               "objective": objective, "samples": samples}
    report = _report(dump, name, options, (layers, heads, d), used, norms, search, short, notes)
    result = Calibration(signset, report, np.stack(search.objectives), tuple(search.seconds),
                         tuple(notes), tuple(search.cpu))
    if out is not None:
        result.write(out)
    return result
