"""The frozen configuration: validation messages and derived widths."""

import dataclasses

import numpy as np
import pytest

from golden.config import AxelramConfig
from golden.fixed import FixedModel


@pytest.mark.parametrize("kwargs,message", [
    ({"d": 100}, "d must be a power of two between 4 and 1024, not 100"),
    ({"d": 2048}, "d must be a power of two between 4 and 1024, not 2048"),
    ({"b": 0}, "b must be an integer between 1 and 4, not 0"),
    ({"b": 5}, "b must be an integer between 1 and 4, not 5"),
    ({"t": 1}, "t must be an integer between 2 and 65536, not 1"),
    ({"lanes": 3}, "lanes must be a power of two between 1 and 128, not 3"),
    ({"lanes": 256}, "lanes must be a power of two between 1 and 128, not 256"),
    ({"layers": 0}, "layers must be an integer between 1 and 256, not 0"),
    ({"in_width": 1}, "in_width must be an integer between 2 and 24, not 1"),
    ({"b": True}, "b must be an integer between 1 and 4, not True"),
    ({"sqrt_mant": 8}, "sqrt_mant must be at least norm_mant \\(11\\), not 8"),
    ({"table_width": 14}, "table_width must be larger than the centroid ROM word width"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AxelramConfig(**kwargs)


def test_frozen_and_defaults():
    cfg = AxelramConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.d = 64
    assert cfg.lanes == 128 and cfg.beats == 1 and cfg.name == "axelram_d128_b3"
    assert AxelramConfig(lanes=None) == AxelramConfig(lanes=128)
    # d*b index bits + a 16-bit norm: the paper's 400 bits per key at d=128, b=3
    assert cfg.row_width == 400 and cfg.norm_width == 16


@pytest.mark.parametrize("cfg", [AxelramConfig(), AxelramConfig(d=1024, b=4, in_width=24),
                                 AxelramConfig(d=4, b=1, in_width=2)])
def test_widths_hold_extreme_values(cfg):
    """Worst-case inputs fit every derived width (checked through the golden model)."""
    top = 1 << (cfg.in_width - 1)
    model = FixedModel(cfg)
    keys = np.stack([np.full(cfg.d, -top), np.full(cfg.d, top - 1),
                     np.where(np.arange(cfg.d) % 2, -top, top - 1)])
    u = model.rotate(keys, 0)
    assert np.abs(u).max() < 1 << (cfg.u_width - 1)
    assert int((keys * keys).sum(axis=1).max()).bit_length() <= cfg.sumsq_width
    st = model.write(keys)
    assert st.exp.max() <= cfg.norm_exp_max
    for q in keys:
        t = model.query(q)
        assert t.qs <= cfg.table_shift_max
        sc = model.score(t, st)
        assert np.abs(sc.mant).max() < 1 << (cfg.score_mant_width - 1)
        assert sc.exp.max() < 1 << cfg.score_exp_width
