"""Sign patterns: a portable generator and the per-layer sign file.

Generator (documented so that any language reproduces it bit for bit): the pattern for
``(seed, layer)`` in ``d`` dimensions uses SplitMix64 (Steele, Lea, Flood 2014) started from the
64-bit state ``(seed << 32) | layer``; coordinate ``i`` (0-based) takes the ``i+1``-th output
``z`` and is ``-1`` if bit 63 of ``z`` is set, else ``+1``. ``seed`` is in 0..2**31-1 and
``layer`` in 0..2**32-1, so every (seed, layer) pair has its own stream. Test vector:
``sign_pattern(8, seed=0, layer=0)`` is ``[-1, +1, +1, -1, +1, +1, +1, -1]`` (pinned in
``tests/test_signs.py``).

Sign file (JSON, ``format = "axelram-signs/1"``)::

    {"format": "axelram-signs/1", "d": 128, "layers": 28,
     "signs": [[1, -1, ...], ...],          # layers x d entries, each +1 or -1
     "seeds": [0, 17, ...] or null,         # generator seed of each layer, when known
     "source": "free text"}

The RTL's sign ROM stores bit 1 for -1; :func:`rom_words` gives those words (coordinate 0 in
the least significant bit), :func:`word_signs` turns one back into a pattern. A macro built with
a sign port (``AxelramMacro(..., sign_port=True)``) takes such words at run time:
:meth:`SignSet.with_word` gives the set in force after one of those writes.
"""

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checks import check_int_range

__all__ = ["sign_pattern", "SignSet", "default_signs", "read_signs", "write_signs",
           "rom_words", "word_signs", "atomic_path", "atomic_write_text", "FORMAT"]

FORMAT = "axelram-signs/1"
_MASK = (1 << 64) - 1
_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(state, count):
    """The first ``count`` outputs of SplitMix64 from ``state`` (uint64 arithmetic, wrapping)."""
    x = np.uint64(state) + _GAMMA * np.arange(1, count + 1, dtype=np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def sign_pattern(d, seed, layer=0):
    """The +-1 pattern (int8 array of length ``d``) for ``seed`` and ``layer``."""
    check_int_range("d", d, 1, 1 << 20)
    check_int_range("seed", seed, 0, (1 << 31) - 1)
    check_int_range("layer", layer, 0, (1 << 32) - 1)
    z = _splitmix64((seed << 32) | layer, d)
    return np.where((z >> np.uint64(63)) == 1, -1, 1).astype(np.int8)


@dataclass(frozen=True)
class SignSet:
    """Per-layer sign patterns: ``signs`` is an int8 array of shape (layers, d) of +-1."""

    signs: np.ndarray
    seeds: tuple | None = None
    source: str = ""

    def __post_init__(self):
        s = np.asarray(self.signs)
        if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1:
            raise ValueError(f"signs must be a non-empty (layers, d) array, not shape {s.shape}")
        if not np.all((s == 1) | (s == -1)):
            bad = np.argwhere((s != 1) & (s != -1))[0]
            raise ValueError(f"signs must be +1 or -1; layer {bad[0]} coordinate {bad[1]} is "
                             f"{s[tuple(bad)]!r}")
        object.__setattr__(self, "signs", s.astype(np.int8))
        if self.seeds is not None:
            if len(self.seeds) != s.shape[0]:
                raise ValueError(f"seeds must have one entry per layer ({s.shape[0]}), not "
                                 f"{len(self.seeds)}")
            object.__setattr__(self, "seeds", tuple(int(x) for x in self.seeds))

    @property
    def layers(self):
        return self.signs.shape[0]

    @property
    def d(self):
        return self.signs.shape[1]

    def check(self, d, layers):
        """Raise ValueError unless this set has exactly ``d`` coordinates and ``layers`` layers."""
        if self.d != d:
            raise ValueError(f"sign set has d={self.d}, but the configuration has d={d}")
        if self.layers != layers:
            raise ValueError(f"sign set has {self.layers} layers, but the configuration has "
                             f"layers={layers}")
        return self

    def with_word(self, layer, word):
        """The set after the macro's sign port writes ``word`` (a :func:`rom_words` word) to
        ``layer``; a ``layer`` at or beyond ``layers`` is ignored, as the port ignores it. The
        written layer's seed is unknown, so ``seeds`` becomes ``None`` if the row changed."""
        check_int_range("layer", layer, 0, (1 << 32) - 1)
        if layer >= self.layers:
            return self
        row = word_signs(word, self.d)
        if np.array_equal(row, self.signs[layer]):
            return self
        signs = self.signs.copy()
        signs[layer] = row
        return SignSet(signs, seeds=None,
                       source=f"{self.source}; layer {layer} written at run time")


def default_signs(d, layers, seed=0):
    """Sign set from the generator: layer l uses ``sign_pattern(d, seed, l)``."""
    return SignSet(np.stack([sign_pattern(d, seed, layer) for layer in range(layers)]),
                   seeds=(seed,) * layers, source=f"generator seed {seed}")


def rom_words(signset):
    """Sign ROM contents: one d-bit int per layer, bit i set where coordinate i is -1."""
    weights = [1 << i for i in range(signset.d)]
    return [sum(w for w, s in zip(weights, row, strict=True) if s < 0)
            for row in signset.signs.tolist()]


def word_signs(word, d):
    """The +-1 pattern (int8, length ``d``) of one sign word: bit i set means -1."""
    check_int_range("d", d, 1, 1 << 20)
    check_int_range("word", word, 0, (1 << d) - 1)
    return np.array([-1 if (word >> i) & 1 else 1 for i in range(d)], dtype=np.int8)


def write_signs(path, signset):
    """Write ``signset`` as a sign file, atomically (a temp file renamed into place)."""
    doc = {"format": FORMAT, "d": signset.d, "layers": signset.layers,
           "signs": signset.signs.tolist(),
           "seeds": list(signset.seeds) if signset.seeds is not None else None,
           "source": signset.source}
    text = "{\n" + ",\n".join(
        f"  {json.dumps(k)}: " + (
            "[\n" + ",\n".join("    " + json.dumps(r, separators=(",", ":")) for r in v) + "\n  ]"
            if k == "signs" else json.dumps(v))
        for k, v in doc.items()) + "\n}\n"
    atomic_write_text(path, text)


def read_signs(path, d=None, layers=None):
    """Read and validate a sign file; optionally check its ``d`` and layer count."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON sign file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sign file (expected \"format\": \"{FORMAT}\")")
    for key in ("d", "layers", "signs"):
        if key not in doc:
            raise ValueError(f"{path}: missing key {key!r}")
    rows = doc["signs"]
    if not isinstance(rows, list) or len(rows) != doc["layers"]:
        raise ValueError(f"{path}: 'layers' says {doc['layers']} but 'signs' has "
                         f"{len(rows) if isinstance(rows, list) else 'no list of'} rows")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != doc["d"]:
            n = len(row) if isinstance(row, list) else "not a list"
            raise ValueError(f"{path}: layer {i} has {n} entries, 'd' says {doc['d']}")
        for j, v in enumerate(row):
            if v not in (1, -1) or isinstance(v, bool):
                raise ValueError(f"{path}: layer {i} coordinate {j} is {v!r}, not +1 or -1")
    try:
        ss = SignSet(np.array(rows, dtype=np.int8), seeds=doc.get("seeds"),
                     source=str(doc.get("source", "")))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if d is not None or layers is not None:
        try:
            ss.check(ss.d if d is None else d, ss.layers if layers is None else layers)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return ss


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    The temporary file lives in the same directory (created if missing, so ``os.replace`` is
    atomic), gets the usual mode (0666 less the umask) and is removed if the body raises, so an
    interrupted write never leaves a truncated ``path`` behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield Path(tmp)
        # mkstemp (and writers that recreate the file, e.g. safetensors) make 0600
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    """Write ``text`` (str, or bytes) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text)
