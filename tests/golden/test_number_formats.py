"""Pins the worked example of docs/number-formats.md, so the document cannot drift."""

import numpy as np

from golden.config import AxelramConfig
from golden.fixed import FixedModel, encode_norm, root, scaled_thresholds
from golden.signs import SignSet


def test_worked_example():
    cfg = AxelramConfig(d=8, b=3, in_width=8)
    model = FixedModel(cfg, SignSet(np.array([[1, -1, 1, 1, -1, 1, -1, -1]])))
    k = np.array([[37, -12, 5, 90, -64, 3, -7, 22]])
    q = np.array([10, -3, 25, -40, 8, 0, 17, -5])
    assert model.rotate(k, 0).tolist() == [[196, 30, 36, 142, 92, -150, -128, 78]]
    m, z = root(cfg, k)
    assert (m.tolist(), z.tolist()) == ([978798], [-13])
    assert [x.tolist() for x in encode_norm(cfg, m, z)] == [[1912], [6]]
    assert cfg.threshold_rom == (524864, 1100960, 1832835)
    assert cfg.centroid_rom == (1004, 3097, 5505, 8814)
    assert scaled_thresholds(cfg, m, z).tolist() == [[59, 125, 208]]
    stored = model.write(k)
    assert stored.idx.tolist() == [[6, 4, 4, 6, 5, 1, 1, 5]]
    assert model.rotate(q, 0).tolist() == [-22, 42, 32, -44, 18, 102, 24, -72]
    table = model.query(q)
    assert table.qs == 6 and table.entries[5].tolist() == [1600, 4936, 8774, 14047]
    sc = model.score(table, stored)
    assert sc.mant.tolist() == [-34352904] and sc.exp.tolist() == [12]
    assert cfg.score_exp_offset == -25 and AxelramConfig().score_exp_offset == -29
    assert abs(sc.value[0] - (-4193.46972656)) < 1e-6
