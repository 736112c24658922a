"""Lloyd–Max codebooks against published tables, optimality conditions and closed forms."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from golden.codebook import beta_codebook, gaussian_codebook, quantise_float

# Max (1960), Table I: positive output levels / thresholds and MSE, as printed (4 significant
# digits).
MAX_1960 = {
    1: ([0.7979], [], 0.3634),
    2: ([0.4528, 1.510], [0.9816], 0.1175),
    3: ([0.2451, 0.7560, 1.344, 2.152], [0.5006, 1.050, 1.748], 0.03454),
    4: ([0.1284, 0.3881, 0.6568, 0.9424, 1.256, 1.618, 2.069, 2.733],
        [0.2582, 0.5224, 0.7996, 1.099, 1.437, 1.844, 2.401], 0.009497),
}
# The same quantisers to 6 decimals (independently re-derived, ../shared/spec/axelram.md §2).
SIX_DIGITS = {
    1: ([0.797885], [], 0.363380),
    2: ([0.452780, 1.510418], [0.981599], 0.117482),
    3: ([0.245094, 0.756005, 1.343909, 2.151946], [0.500550, 1.049957, 1.747927], 0.034548),
    4: ([0.128395, 0.388048, 0.656759, 0.942340, 1.256231, 1.618046, 2.069017, 2.732590],
        [0.258222, 0.522404, 0.799550, 1.099286, 1.437139, 1.843532, 2.400803], 0.009501),
}


def _halves(cb):
    h = 1 << (cb.b - 1)
    return list(cb.centroids[h:]), list(cb.thresholds[h:])


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_gaussian_matches_max_1960(b):
    c, t = _halves(gaussian_codebook(b))
    mc, mt, mmse = MAX_1960[b]
    for ours, theirs in zip(c + t, mc + mt, strict=True):
        assert ours == pytest.approx(theirs, abs=6e-4, rel=6e-4)
    assert gaussian_codebook(b).mse == pytest.approx(mmse, rel=5e-4)


@pytest.mark.parametrize("b", [1, 2, 3, 4])
def test_gaussian_matches_six_digit_values(b):
    c, t = _halves(gaussian_codebook(b))
    sc, st, smse = SIX_DIGITS[b]
    np.testing.assert_allclose(c, sc, atol=1e-6)
    np.testing.assert_allclose(t, st, atol=1e-6)
    assert gaussian_codebook(b).mse == pytest.approx(smse, abs=1e-6)


@pytest.mark.parametrize("b", [1, 2, 3, 4, 5])
def test_optimality_conditions(b):
    """Each centroid is its cell's conditional mean; each threshold is a midpoint; the MSE is
    the integral of the squared error (all by independent numerical quadrature)."""
    cb = gaussian_codebook(b)
    c, t = np.array(cb.centroids), np.array(cb.thresholds)
    np.testing.assert_allclose(t, (c[:-1] + c[1:]) / 2, atol=1e-14)
    edges = [-np.inf, *t, np.inf]
    mse = 0.0
    for i in range(len(c)):
        lo, hi = edges[i], edges[i + 1]
        mass = stats.norm.cdf(hi) - stats.norm.cdf(lo)
        mean = integrate.quad(lambda x: x * stats.norm.pdf(x), lo, hi)[0] / mass
        assert mean == pytest.approx(c[i], abs=1e-10)
        mse += integrate.quad(lambda x, ci=c[i]: (x - ci) ** 2 * stats.norm.pdf(x), lo, hi)[0]
    assert cb.mse == pytest.approx(mse, abs=1e-10)


def test_antisymmetric():
    for b in range(1, 5):
        cb = gaussian_codebook(b)
        np.testing.assert_allclose(cb.centroids, -np.array(cb.centroids[::-1]), atol=0)
        assert cb.thresholds[(1 << (b - 1)) - 1] == 0.0


def test_beta_codebook_paper_value_and_limit():
    # ../shared/spec/axelram.md: d=128, b=3 outer centroid 0.18840 (Beta) vs 0.19021 (Gaussian)
    # in N(0,1/d) units.
    assert beta_codebook(3, 128).scaled(128)[0][-1] == pytest.approx(0.18840, abs=5e-6)
    assert gaussian_codebook(3).scaled(128)[0][-1] == pytest.approx(0.19021, abs=5e-6)
    # The Beta marginal tends to the Gaussian as d grows.
    big = beta_codebook(3, 1 << 16)
    np.testing.assert_allclose(big.centroids, gaussian_codebook(3).centroids, atol=1e-4)


def test_beta_conditional_means_by_quadrature():
    d, b = 16, 2
    cb = beta_codebook(b, d)
    norm = math.gamma(d / 2) / (math.gamma((d - 1) / 2) * math.sqrt(math.pi * d))

    def pdf(x):
        return norm * (1 - x * x / d) ** ((d - 3) / 2)

    edges = [-math.sqrt(d), *cb.thresholds, math.sqrt(d)]
    for i, c in enumerate(cb.centroids):
        mass = integrate.quad(pdf, edges[i], edges[i + 1])[0]
        mean = integrate.quad(lambda x: x * pdf(x), edges[i], edges[i + 1])[0] / mass
        assert mean == pytest.approx(c, abs=1e-9)


def test_empirical_mse_of_rotated_unit_vectors():
    """Quantising real rotated unit vectors gives the tabulated MSE (Beta codebook, d=64)."""
    rng = np.random.default_rng(0)
    d, b = 64, 3
    x = rng.standard_normal((20000, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = x * math.sqrt(d)  # a uniform unit vector is already "rotated"
    cb = beta_codebook(b, d)
    idx = quantise_float(y, cb.thresholds)
    mse = np.mean((np.array(cb.centroids)[idx] - y) ** 2)
    assert mse == pytest.approx(cb.mse, rel=0.02)


def test_quantise_float_counts_thresholds_strictly_below():
    t = [-1.0, 0.0, 1.0]
    assert quantise_float(np.array([-2, -1, -0.5, 0, 0.5, 1, 2]), t).tolist() == \
        [0, 0, 1, 1, 2, 2, 3]


def test_bad_b():
    with pytest.raises(ValueError, match="b must be an integer between 1 and 8, not 0"):
        gaussian_codebook(0)
