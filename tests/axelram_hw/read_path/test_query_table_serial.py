"""SerialQueryTableBuilder (lanes = 1) against golden.fixed.FixedModel.query: every table
entry, bit-exact."""

import random

import numpy as np
import pytest

from axelram_hw.read_path.query_table_serial import SerialQueryTableBuilder
from tests.support.read_path import (
    cfg_id,
    model_of,
    serial_config,
    vectors,
)
from tests.support.streams import run, source, stream_get


def magnitude_queries(cfg, model):
    """Queries whose rotations reach every ``a`` from 0 to ``u_width - 2``, so every ``qs``:
    ``c * e_0`` rotates to ``+-c`` everywhere, ``c * s`` to ``c * d`` at coordinate 0."""
    s = model.signs.signs[0].astype(np.int64)
    top = 1 << (cfg.in_width - 1)
    out = [np.zeros(cfg.d, dtype=np.int64)]
    for c in [1 << k for k in range(cfg.in_width - 1)] + [-top]:
        out.append(np.eye(1, cfg.d, 0, dtype=np.int64)[0] * c)
        out.append(s * max(c, 1 - top))
    return out


@pytest.mark.parametrize("params", [dict(d=4, b=1, t=2), dict(d=16, b=3, t=2),
                                    dict(d=8, b=2, t=2, in_width=5, table_width=24),
                                    dict(d=8, b=4, t=2, in_width=6, table_width=20),
                                    dict(d=128, b=3, t=2)], ids=cfg_id)
def test_builder_tables(params):
    """Every entry and qs of Gaussian, outlier, zero, extreme and magnitude-sweep queries, with
    random valid on ``i`` and a reader that takes each table late, reads it with gaps and
    releases it: every qs from 0 to table_shift_max - 1 occurs."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(cfg.d + cfg.b)
    queries = (vectors(cfg, rng, n_gauss=2, extreme=True, signs=model.signs.signs[0])
               + magnitude_queries(cfg, model))
    beats = [[int(x)] for q in queries for x in model.rotate(q, 0)]
    dut = SerialQueryTableBuilder(cfg)
    H = cfg.half_levels
    prng = random.Random(3)
    got = []

    async def reader(ctx):
        for bank in [0, 1] * (len(queries) // 2) + [0] * (len(queries) % 2):
            for _ in range(prng.randrange(3 * cfg.d)):
                await ctx.tick()
            qs = (await stream_get(ctx, dut.o)).qs
            table = np.zeros((cfg.d, H), dtype=np.int64)
            for i in range(cfg.d):
                for j in range(H):
                    ctx.set(dut.t.addr, (bank * cfg.d + i) * H + j)
                    ctx.set(dut.t.en, 1)
                    await ctx.tick()
                    ctx.set(dut.t.en, 0)
                    if prng.random() < 0.2:
                        await ctx.tick()  # held while t_ren is low
                    table[i, j] = ctx.get(dut.t.word)
            got.append((int(qs), table))
            ctx.set(dut.release, 1)
            await ctx.tick()
            ctx.set(dut.release, 0)
        for _ in range(3 * dut.clocks_per_query):
            await ctx.tick()
            assert not ctx.get(dut.o.valid), "a table nobody loaded"

    run(dut, source(dut.i, beats, rng=random.Random(1), p_valid=0.7), reader,
        deadline_cycles=len(queries) * (dut.clocks_per_query + 6 * cfg.d * H) + 4000)
    assert len(got) == len(queries)
    for n, (q, (qs, table)) in enumerate(zip(queries, got, strict=True)):
        ref = model.query(q)
        assert qs == ref.qs, f"query {n}: qs {qs} != {ref.qs}"
        bad = np.argwhere(table != ref.entries)
        assert bad.size == 0, (f"query {n} (qs {qs}): {len(bad)} entries differ, first at "
                               f"{tuple(bad[0])}: {table[tuple(bad[0])]} != "
                               f"{ref.entries[tuple(bad[0])]}")
    assert {qs for qs, _ in got} >= set(range(max(1, cfg.table_shift_max)))
