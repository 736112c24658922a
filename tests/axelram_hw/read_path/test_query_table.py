"""QueryTableBuilder against golden.fixed.FixedModel.query: qs and every table entry, bit-exact."""

import random

import numpy as np
import pytest

from axelram_hw.read_path.query_table import QueryTableBuilder
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from golden.signs import default_signs
from sim.vectors import gaussian
from tests.support.read_path import vectors
from tests.support.streams import run, source, stream_get

CONFIGS = [
    dict(d=8, b=1, t=16),
    dict(d=8, b=2, t=16, lanes=2),
    dict(d=16, b=3, t=16, lanes=4),
    dict(d=16, b=4, t=16),
    dict(d=8, b=4, t=16, lanes=1),
    dict(d=128, b=3, t=16),
    dict(d=128, b=3, t=16, lanes=8),
]


def beats_of(cfg, v):
    P = cfg.lanes
    return [[int(x) for x in v[c * P:(c + 1) * P]] for c in range(cfg.beats)]


def table_reader(dut, cfg, n, got, rng, p_ready=0.6, max_hold=6):
    """Take each table token, wait a random while, read the table, then release it."""

    async def testbench(ctx):
        bank = 0
        for _ in range(n):
            while rng.random() > p_ready:
                await ctx.tick()
            qs = (await stream_get(ctx, dut.o)).qs
            for _ in range(rng.randrange(max_hold)):
                await ctx.tick()
            rows = []
            if cfg.beats == 1:
                rows.append(ctx.get(dut.t.word))
            else:
                for c in range(cfg.beats):
                    ctx.set(dut.t.addr, bank * cfg.beats + c)
                    ctx.set(dut.t.en, 1)
                    await ctx.tick()
                    rows.append(ctx.get(dut.t.word))
                ctx.set(dut.t.en, 0)
            table = np.array([[row[p][j] for j in range(cfg.half_levels)]
                              for row in rows for p in range(cfg.lanes)], dtype=np.int64)
            got.append((int(qs), table))
            ctx.set(dut.release, 1)
            await ctx.tick()
            ctx.set(dut.release, 0)
            bank = (bank + 1) % dut.banks
        for _ in range(20):
            await ctx.tick()
            assert not ctx.get(dut.o.valid), "builder offered a table nobody asked for"
    return testbench


def check_tables(cfg, model, queries, got):
    assert len(got) == len(queries)
    for n, (q, (qs, table)) in enumerate(zip(queries, got, strict=True)):
        ref = model.query(q)
        assert qs == ref.qs, f"query {n}: qs {qs} != {ref.qs}"
        bad = np.argwhere(table != ref.entries)
        assert bad.size == 0, (f"query {n}: {len(bad)} entries differ, first at {tuple(bad[0])}: "
                               f"{table[tuple(bad[0])]} != {ref.entries[tuple(bad[0])]}")


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()))
def test_tables_bit_exact(params):
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(cfg.d * 10 + cfg.b)
    queries = vectors(cfg, rng, n_gauss=2 if cfg.d == 128 else 5, extreme=True,
                      signs=model.signs.signs[0])
    payloads = [beat for q in queries for beat in beats_of(cfg, model.rotate(q, 0))]
    dut = QueryTableBuilder(cfg)
    got = []
    run(dut, source(dut.i, payloads, rng=random.Random(1), p_valid=0.6),
        table_reader(dut, cfg, len(queries), got, random.Random(2)),
        deadline_cycles=len(queries) * (dut.clocks_per_query + 4 * cfg.beats + 40))
    check_tables(cfg, model, queries, got)
    # |v| <= d * 2**(in_width-1) = 2**(u_width-2), so ones(v) has at most u_width - 1 bits
    # (table_shift_max); the +2**(u_width-2) extreme needs every sign -1, so the test's
    # extreme queries reach one less
    assert max(qs for qs, _ in got) == cfg.table_shift_max - 1


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=16), dict(d=16, b=3, t=16, lanes=4)],
                         ids=["P16", "P4"])
def test_clocks_per_query(params):
    """An idle builder with a free bank: o.valid exactly clocks_per_query after the first beat."""
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    q = gaussian(cfg, np.random.default_rng(0), 1, scale_bits=0)[0]
    dut = QueryTableBuilder(cfg)
    seen = {}

    async def bench(ctx):
        for beat in beats_of(cfg, model.rotate(q, 0)):
            ctx.set(dut.i.payload, beat)
            ctx.set(dut.i.valid, 1)
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for n in range(cfg.beats, 500):
            if ctx.get(dut.o.valid):
                seen["clocks"] = n
                return
            await ctx.tick()

    run(dut, bench)
    assert seen["clocks"] == dut.clocks_per_query
