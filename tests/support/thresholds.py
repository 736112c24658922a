"""Threshold units: roots to feed them (keys' and the extremes), payloads with side data, and
an array comparison with a readable first difference."""

import numpy as np

from golden.fixed import root

__all__ = ["CONFIGS", "assert_same", "root_extremes", "serial_threshold_payloads"]


def assert_same(got, want, what):
    bad = np.argwhere(got != want)
    assert not bad.size, (f"{len(bad)} {what} differ; first at (key, coordinate) "
                          f"{tuple(bad[0])}: got {got[tuple(bad[0])]}, want {want[tuple(bad[0])]}")


def root_extremes(cfg, keys):
    """Roots of ``keys`` and of every exponent with the smallest and the largest mantissa."""
    m, z = root(cfg, keys)
    ms = cfg.sqrt_mant
    ez = np.arange(cfg.sqrt_z_min, cfg.sqrt_z_max + 1)
    em = np.concatenate([np.full(ez.size, 1 << (ms - 1)), np.full(ez.size, (1 << ms) - 1)])
    return np.concatenate([m, em]), np.concatenate([z, ez, ez])


def serial_threshold_payloads(m, z):
    """``{data: {m, z}, side}`` with the position as side data (it must come back with it)."""
    return [{"data": {"m": a, "z": b}, "side": n % 256}
            for n, (a, b) in enumerate(zip(m.tolist(), z.tolist(), strict=True))]


#: Configurations of the quantiser and threshold-unit tests.
CONFIGS = {
    "d8_b1": dict(d=8, b=1),
    "d8_b2": dict(d=8, b=2),
    "d16_b3_p4": dict(d=16, b=3, lanes=4),
    "d16_b4": dict(d=16, b=4),
    "d8_b4_p2_wide": dict(d=8, b=4, lanes=2, in_width=24, norm_mant=16, sqrt_mant=26,
                          thr_frac=24),
    "d16_b2_coarse": dict(d=16, b=2, in_width=8, norm_mant=4, sqrt_mant=4, thr_frac=4),
    "d128_b3_p128": dict(d=128, b=3),
    "d128_b3_p8": dict(d=128, b=3, lanes=8),
}
