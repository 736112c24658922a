"""Float reference: look-up scoring equals dequantise-then-dot; both forms agree."""

import numpy as np
import pytest

from golden.codebook import gaussian_codebook
from golden.float_model import FloatModel
from golden.signs import sign_pattern


def _model(d=64, b=3, seed=3):
    return FloatModel(d, b, sign_pattern(d, seed))


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_lookup_equals_dequantise_then_dot(b):
    m = _model(b=b)
    rng = np.random.default_rng(b)
    keys = rng.standard_normal((300, 64)) * rng.uniform(0.1, 50, (300, 1))
    q = rng.standard_normal(64)
    idx, n = m.quantise(keys), m.norms(keys)
    lookup = m.score_lookup(q, idx, n)
    np.testing.assert_allclose(lookup, m.dequantise(idx, n) @ q, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(m.score_scale_free(q, idx, n), lookup, rtol=1e-10, atol=1e-10)


def test_normalised_and_scale_free_indices_agree():
    """Identical indices except at exact ties (u = 0 or u = n*gamma), where the normalised form's
    rounding of k/||k|| decides; the scale-free form is exact on integer keys."""
    m = _model(d=128)
    rng = np.random.default_rng(0)
    keys = np.rint(rng.standard_normal((2000, 128)) * 1000)
    keys[:500, :3] *= 100  # outlier channels
    a, b = m.quantise_normalised(keys), m.quantise(keys)
    u = m.rotate(keys / m.norms(keys)[:, None])
    t = np.array(m.cb.thresholds) / np.sqrt(128)
    near_tie = np.min(np.abs(u[..., None] - t), axis=-1) < 1e-12
    assert np.all((a == b) | near_tie)
    assert np.mean(a == b) > 0.9999


def test_rotation_concentrates_to_codebook_mse():
    """Rotated unit keys have the tabulated per-vector MSE for anisotropic Gaussian keys
    (channel scales spread over 4x); a single dominant direction does not (it rotates to a
    flat +-1/sqrt(d) vector) — the data dependence behind sign-pattern calibration."""
    m = _model(d=128)
    rng = np.random.default_rng(1)
    keys = rng.standard_normal((4000, 128)) * np.geomspace(0.5, 2, 128)

    def mse(k):
        n = m.norms(k)
        return np.mean(np.sum((m.dequantise(m.quantise(k), n) - k) ** 2, axis=1) / n ** 2)

    assert mse(keys) == pytest.approx(gaussian_codebook(3).mse, rel=0.05)
    spiky = rng.standard_normal((4000, 128))
    spiky[:, 5] += 100.0
    assert abs(mse(spiky) - gaussian_codebook(3).mse) > 0.2 * gaussian_codebook(3).mse


def test_relative_score_error_matches_spec():
    """../shared/spec/axelram.md §2: relative RMS score error on Gaussian data, d=128:
    about 0.60 / 0.34 / 0.18 / 0.095 for b = 1..4."""
    rng = np.random.default_rng(2)
    keys = rng.standard_normal((3000, 128))
    q = rng.standard_normal((20, 128))
    for b, expect in zip(range(1, 5), (0.60, 0.34, 0.18, 0.095), strict=True):
        m = _model(d=128, b=b)
        idx, n = m.quantise(keys), m.norms(keys)
        est = np.stack([m.score_lookup(qi, idx, n) for qi in q])
        exact = q @ keys.T
        rel = np.sqrt(np.mean((est - exact) ** 2) / np.mean(exact ** 2))
        assert rel == pytest.approx(expect, rel=0.08)


def test_zero_key_and_bad_values():
    m = _model(d=16)
    keys = np.zeros((1, 16))
    assert m.quantise(keys).tolist() == [[0] * 16]
    assert m.score_lookup(np.ones(16), m.quantise(keys), m.norms(keys)).tolist() == [0.0]
    with pytest.raises(ValueError, match="keys contain NaN or Inf"):
        m.quantise(np.full((1, 16), np.nan))
    with pytest.raises(ValueError, match="query contain NaN or Inf"):
        m.score_scale_free(np.full(16, np.inf), m.quantise(keys), [0.0])
    with pytest.raises(ValueError, match=r"signs must have shape \(16,\)"):
        FloatModel(16, 3, np.ones(8))
