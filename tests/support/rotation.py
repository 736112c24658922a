"""Front end (sign flip + FWHT): stream payloads, the golden reference and the check."""

import numpy as np

from golden.fwht import fwht

__all__ = ["beats", "expected", "check"]


def beats(cfg, x, neg):
    """Stream payloads: ``beats`` per vector, ``{data, neg}`` with neg bit p for lane p."""
    p = cfg.lanes
    return [{"data": xv[c * p:(c + 1) * p].tolist(),
             "neg": sum(int(bit) << i for i, bit in enumerate(nv[c * p:(c + 1) * p]))}
            for xv, nv in zip(x, neg, strict=True) for c in range(cfg.beats)]


def expected(x, neg):
    return fwht(np.where(neg == 1, -x, x))


def check(cfg, want, got):
    got = np.array([[beat[p] for p in range(cfg.lanes)] for beat in got],
                   dtype=np.int64).reshape(-1, cfg.d)
    assert got.shape == want.shape, f"got {got.shape[0]} vectors, want {want.shape[0]}"
    bad = np.argwhere(got != want)
    assert not bad.size, (f"{len(bad)} coordinates differ; first: vector {bad[0][0]} "
                          f"coordinate {bad[0][1]}: got {got[tuple(bad[0])]}, "
                          f"want {want[tuple(bad[0])]}")
