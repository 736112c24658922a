"""FWHT against the explicit Sylvester–Hadamard matrix; exactness and orthogonality."""

import numpy as np
import pytest

from golden.fwht import fwht, hadamard


def test_hadamard_definition():
    h = hadamard(8)
    for i in range(8):
        for j in range(8):
            assert h[i, j] == (-1) ** bin(i & j).count("1")
    np.testing.assert_array_equal(h @ h.T, 8 * np.eye(8, dtype=np.int64))


@pytest.mark.parametrize("d", [1, 2, 4, 16, 128, 1024])
def test_integer_matches_matrix(d):
    rng = np.random.default_rng(d)
    x = rng.integers(-2**23, 2**23, size=(7, d))
    np.testing.assert_array_equal(fwht(x), x @ hadamard(d).T)


def test_integer_butterfly_path_is_exact_beyond_float():
    """Values too large for the float64 shortcut use the butterflies, still exact."""
    d = 16
    x = np.full((2, d), 2**55, dtype=np.int64)
    x[1, ::2] = -2**55
    assert fwht(x).dtype == np.int64
    expect = [[sum(int(v) * int(h) for v, h in zip(row, hrow, strict=True)) for hrow in hadamard(d)]
              for row in x]
    assert fwht(x).tolist() == expect


def test_float_orthonormal_and_involution():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 64))
    y = fwht(x, normalise=True)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-13)
    np.testing.assert_allclose(fwht(y, normalise=True), x, atol=1e-13)
    q = rng.standard_normal(64)
    np.testing.assert_allclose(y @ fwht(q, normalise=True), x @ q, rtol=1e-12)


def test_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="power of two, not 12"):
        fwht(np.zeros(12))
