"""Tests of golden.calibrate and ``axelram calibrate`` on small synthetic KV dumps."""

import sys

import numpy as np
import pytest

from axelram_hw import cli
from golden import calibrate as cal
from golden.codebook import gaussian_codebook, quantise_float
from golden.float_model import FloatModel
from golden.fwht import fwht
from golden.kvdump import FORMAT
from golden.signs import default_signs, read_signs, rom_words, sign_pattern

LAYERS, HEADS, TOKENS, SAMPLES, D = 4, 2, 150, 2, 16     # 300 tokens per layer
OUTLIER = 2                                              # the layer with a k_proj-like bias
SUFFIXES = (".json", ".hex", ".report.json", ".report.md", ".report.png")


def make_keys(d=D, layers=LAYERS, heads=HEADS, tokens=TOKENS * SAMPLES, seed=0, bias=None):
    """Anisotropic Gaussian keys; layer OUTLIER gets ``bias`` added to every key."""
    rng = np.random.default_rng(seed)
    k = {}
    for i in range(layers):
        scale = rng.uniform(0.3, 2.0, d)
        k[i] = (rng.standard_normal((heads, tokens, d)) * scale).astype(np.float32)
    if bias is not None:
        k[OUTLIER] += np.asarray(bias, dtype=np.float32)
    return k


def adversarial_bias(d=D, size=12.0):
    """A constant bias along the direction that the default pattern of layer OUTLIER maps onto a
    single Hadamard coordinate (s * 1): the worst case for the default signs."""
    return size * sign_pattern(d, 0, OUTLIER).astype(np.float64)


def save_dump(path, k, samples=SAMPLES, **meta_changes):
    from safetensors.numpy import save_file

    heads, total, d = next(iter(k.values())).shape
    tensors = {}
    for i, a in k.items():
        tensors[f"k.{i}"] = np.ascontiguousarray(a)
        tensors[f"v.{i}"] = np.ascontiguousarray(a)
    meta = {"format": FORMAT, "model": "synthetic", "layers": str(len(k)),
            "kv_heads": str(heads), "head_dim": str(d), "tokens": str(total // samples),
            "samples": str(samples), "text": "synthetic gaussian"}
    meta.update(meta_changes)
    save_file(tensors, str(path), metadata=meta)
    return path


@pytest.fixture
def dump_path(tmp_path):
    return save_dump(tmp_path / "kv.safetensors", make_keys(bias=adversarial_bias()))


def outputs(out):
    stem = out.with_suffix("")
    return [stem.with_name(stem.name + s) if s != ".json" else out for s in SUFFIXES]


# ------------------------------------------------------------------------------------------------
# Straightforward references (one candidate at a time, through golden.fwht / golden.float_model)

def reference_mse(units, signs, b):
    d = units.shape[1]
    c, t = gaussian_codebook(b).scaled(d)
    c = np.array(c)
    values = []
    for s in signs:
        y = fwht(s * units, normalise=True)
        e = y - c[quantise_float(y, t)]
        values.append(np.mean(np.sum(e * e, axis=1)))
    return np.array(values)


def reference_score(keys, queries, signs, b):
    d = keys.shape[1]
    values = []
    for s in signs:
        model = FloatModel(d, b, s)
        deq = model.dequantise(model.quantise_normalised(keys), model.norms(keys))
        values.append(np.linalg.norm(queries @ (deq - keys).T) / np.linalg.norm(queries @ keys.T))
    return np.array(values)


@pytest.mark.parametrize("d", [16, 32])
@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_vectorised_objectives_equal_reference(d, b):
    rng = np.random.default_rng(d * 10 + b)
    keys = rng.standard_normal((300, d)) * rng.uniform(0.3, 2, d) + 3 * rng.standard_normal(d)
    queries = rng.standard_normal((170, d)) + keys[0]
    units = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    signs = cal.candidate_signs(d, 37, layer=3)
    for threads in (1, 2):
        np.testing.assert_allclose(cal.mse_objective(units, signs, b, threads),
                                   reference_mse(units, signs, b), rtol=1e-12, atol=0)
        np.testing.assert_allclose(cal.score_objective(keys, queries, signs, b, threads),
                                   reference_score(keys, queries, signs, b), rtol=1e-12, atol=0)


def test_score_zero_coordinate_takes_negative_centroid():
    # x = e0 + e1 rotates (d=4, signs +1) to (2, 0, 2, 0)/|x|: exact zeros in the rotated domain
    keys = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    queries = np.array([[1.0, -2.0, 0.5, 3.0], [0.3, 1.0, -1.0, 2.0]])
    signs = np.ones((1, 4), dtype=np.int8)
    for b in (1, 2, 3):
        np.testing.assert_allclose(cal.score_objective(keys, queries, signs, b),
                                   reference_score(keys, queries, signs, b), rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Calibration behaviour

def test_outlier_layer_beats_default_by_clear_margin(dump_path, tmp_path):
    res = cal.calibrate(dump_path, 3, candidates=50, subsample=200, progress=False)
    row = res.report["layers"][OUTLIER]
    # the default pattern puts the bias on one coordinate: its error is several times the best
    assert row["best_objective"] < 0.5 * row["default_objective"]
    assert row["best_seed"] != 0
    assert row["check"]["score"]["best"] < 0.7 * row["check"]["score"]["default"]  # held out too
    assert res.report["guideline"]["verdict"].startswith("calibrate")
    # the score objective agrees on that layer
    res2 = cal.calibrate(dump_path, 3, candidates=50, subsample=200, objective="score",
                         progress=False)
    row2 = res2.report["layers"][OUTLIER]
    assert row2["best_objective"] < 0.5 * row2["default_objective"]


def test_natural_bias_never_worse_and_norm_stats(tmp_path):
    bias = 10 * np.random.default_rng(7).standard_normal(D)
    path = save_dump(tmp_path / "kv.safetensors", make_keys(bias=bias))
    res = cal.calibrate(path, 2, candidates=40, subsample=150, progress=False)
    keys = make_keys(bias=bias)
    for row, values in zip(res.report["layers"], res.objectives, strict=True):
        assert row["best_objective"] <= row["default_objective"]
        assert row["best_objective"] == pytest.approx(values.min(), rel=1e-9)
        n = np.linalg.norm(keys[row["layer"]].astype(np.float64), axis=2)
        assert row["norms"]["mean"] == pytest.approx(n.mean(), rel=1e-9)
        assert row["norms"]["max"] == pytest.approx(n.max(), rel=1e-9)
        assert row["norms"]["max_abs"] == pytest.approx(np.abs(keys[row["layer"]]).max(), rel=1e-6)
        assert row["vectors"] == 150


def test_determinism_byte_identical(dump_path, tmp_path):
    files = []
    for run, threads in (("a", 1), ("b", 2)):
        out = tmp_path / run / "signs.json"
        cal.calibrate(dump_path, 3, candidates=30, subsample=120, seed=5, progress=False,
                      threads=threads, out=out)
        files.append([p.read_bytes() for p in outputs(out)])
    assert files[0] == files[1]
    other = tmp_path / "c" / "signs.json"
    cal.calibrate(dump_path, 3, candidates=30, subsample=120, seed=6, progress=False, out=other)
    assert other.with_name("signs.report.json").read_bytes() != files[0][2]  # the seed matters


def test_candidate_zero_is_default_sign_set(dump_path):
    for layer in range(LAYERS):
        np.testing.assert_array_equal(cal.candidate_signs(D, 3, layer)[0],
                                      default_signs(D, LAYERS, seed=0).signs[layer])
    res = cal.calibrate(dump_path, 3, candidates=1, subsample=50, progress=False)
    np.testing.assert_array_equal(res.signset.signs, default_signs(D, LAYERS).signs)
    assert res.signset.seeds == (0,) * LAYERS


def test_ties_choose_lowest_seed(tmp_path):
    # d = 4 has only 16 patterns, and s and -s always tie: 60 candidates are full of exact ties
    path = save_dump(tmp_path / "kv.safetensors", make_keys(d=4))
    res = cal.calibrate(path, 2, candidates=60, subsample=100, progress=False)
    for layer, values in enumerate(res.objectives):
        best = res.signset.seeds[layer]
        assert values[best] == values.min()
        assert np.all(values[:best] > values.min())
        assert np.count_nonzero(values == values.min()) >= 2


def test_sign_file_round_trip_and_rom(dump_path, tmp_path):
    out = tmp_path / "out" / "signs.json"
    res = cal.calibrate(dump_path, 3, candidates=20, subsample=100, progress=False, out=out)
    got = read_signs(out, d=D, layers=LAYERS)
    np.testing.assert_array_equal(got.signs, res.signset.signs)
    assert got.seeds == res.signset.seeds
    assert "kv.safetensors" in got.source and "candidates=20" in got.source
    for layer, seed in enumerate(got.seeds):
        np.testing.assert_array_equal(got.signs[layer], sign_pattern(D, seed, layer))
    lines = out.with_name("signs.hex").read_text().splitlines()
    assert lines == [f"{w:04x}" for w in rom_words(got)]
    assert out.with_name("signs.report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = out.with_name("signs.report.md").read_text()
    assert "guideline" in md and md.count("\n| ") == LAYERS + 1


def test_subsample_larger_than_data_is_noted(dump_path, capsys):
    res = cal.calibrate(dump_path, 3, candidates=5, subsample=10_000, progress=False)
    err = capsys.readouterr().err
    assert "note: subsample 10000 is larger than the data" in err
    assert res.report["subsample_short_layers"] == list(range(LAYERS))
    # fit half: 2 heads x 150 tokens; held-out keys: half of the other 300
    assert {r["vectors"] for r in res.report["layers"]} == {HEADS * TOKENS}
    assert {r["held_out_keys"] for r in res.report["layers"]} == {HEADS * TOKENS // 2}


def test_zero_norm_keys_are_dropped(tmp_path):
    k = make_keys()
    k[1][:, :10] = 0.0
    path = save_dump(tmp_path / "kv.safetensors", k)
    res = cal.calibrate(path, 3, candidates=5, subsample=10_000, progress=False)
    row = res.report["layers"][1]
    assert row["norms"]["zero"] == HEADS * 10
    assert row["fit_vectors"] == HEADS * (TOKENS - 10)


def test_samples_option_uses_first_windows(tmp_path):
    path = save_dump(tmp_path / "kv.safetensors", make_keys(tokens=4 * 50), samples=4)
    res = cal.calibrate(path, 3, candidates=5, subsample=1000, samples=2, progress=False)
    assert res.report["data"]["tokens_used"] == 100
    assert res.report["data"]["fit_tokens"] == [0, 50]
    assert res.report["options"]["samples"] == 2
    with pytest.raises(ValueError, match="only 4 calibration sequences"):
        cal.calibrate(path, 3, samples=5, progress=False)


def test_png_skipped_without_matplotlib(dump_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    out = tmp_path / "signs.json"
    cal.calibrate(dump_path, 3, candidates=5, subsample=50, progress=False, out=out)
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "kv.safetensors") == [
        "signs.hex", "signs.json", "signs.report.json", "signs.report.md"]


def test_guideline_thresholds():
    assert cal.guideline([10, 19])[1].startswith("default signs are fine")
    assert cal.guideline([10, 30])[1].startswith("borderline")
    assert cal.guideline([10, 51])[1].startswith("calibrate")
    assert cal.guideline([22, 172])[0] == pytest.approx(172 / 22)


# ------------------------------------------------------------------------------------------------
# Bad input: a clear ValueError before any work, nothing written

def _nan(k):
    k[1][0, 3, 2] = np.nan


def _inf(k):
    k[2][1, 0, 0] = np.inf


BAD_DUMPS = {
    "nan": (_nan, {}, "NaN"),
    "inf": (_inf, {}, "Inf"),
    "missing layer": (lambda k: k.pop(3), {"layers": "4"}, "missing"),
    "empty": (lambda k: k.update({i: np.zeros((HEADS, 0, D), np.float32) for i in k}),
              {"tokens": "0"}, "empty|positive"),
}


@pytest.mark.parametrize("case", list(BAD_DUMPS))
def test_bad_dump_rejected_nothing_written(tmp_path, case):
    change, meta, message = BAD_DUMPS[case]
    k = make_keys()
    change(k)
    path = save_dump(tmp_path / "kv.safetensors", k, **meta)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ValueError, match=message):
        cal.calibrate(path, 3, progress=False, out=out_dir / "signs.json")
    assert list(out_dir.iterdir()) == []


BAD_OPTIONS = {
    "head_dim != d": ({"expect_d": 32}, "head_dim is 16, expected 32"),
    "candidates < 1": ({"candidates": 0}, "candidates must be"),
    "subsample < 1": ({"subsample": 0}, "subsample must be"),
    "b = 0": ({"b": 0}, "b must be"),
    "b = 5": ({"b": 5}, "b must be"),
    "objective": ({"objective": "mae"}, "objective must be"),
    "samples": ({"samples": 0}, "samples must be"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_options_rejected_nothing_written(dump_path, tmp_path, case):
    options, message = BAD_OPTIONS[case]
    kwargs = {"b": 3, "progress": False, **options}
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ValueError, match=message):
        cal.calibrate(dump_path, out=out_dir / "signs.json", **kwargs)
    assert list(out_dir.iterdir()) == []


def test_non_power_of_two_head_dim_rejected(tmp_path):
    path = save_dump(tmp_path / "kv.safetensors", make_keys(d=12))
    with pytest.raises(ValueError, match="not a power of two"):
        cal.calibrate(path, 3, progress=False)


def test_in_memory_dump_checked_too():
    class Dump:
        meta = {}
        k = {0: np.full((1, 4, 8), np.nan)}

    with pytest.raises(ValueError, match="NaN"):
        cal.calibrate(Dump(), 3, progress=False)


# ------------------------------------------------------------------------------------------------
# Command line

def test_cli_writes_all_files(dump_path, tmp_path, capsys):
    out = tmp_path / "calib" / "signs.json"
    code = cli.main(["calibrate", "--kv", str(dump_path), "--b", "3", "--candidates", "20",
                     "--subsample", "100", "--d", str(D), "--samples", "2", "--out", str(out)])
    assert code == 0
    assert all(p.is_file() for p in outputs(out))
    text = capsys.readouterr().out
    assert "paper's guideline" in text and f"wrote {out}" in text


@pytest.mark.parametrize("argv, message", [
    (["--b", "0"], "b must be"),
    (["--b", "3", "--candidates", "0"], "candidates must be"),
    (["--b", "3", "--subsample", "0"], "subsample must be"),
    (["--b", "3", "--d", "32"], "head_dim is 16, expected 32"),
])
def test_cli_bad_input(dump_path, tmp_path, capsys, argv, message):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = cli.main(["calibrate", "--kv", str(dump_path), *argv,
                     "--out", str(out_dir / "signs.json")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []


def test_cli_missing_dump(tmp_path, capsys):
    code = cli.main(["calibrate", "--kv", str(tmp_path / "nope.safetensors"), "--b", "3",
                     "--out", str(tmp_path / "signs.json")])
    assert code == 2 and "not found" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
