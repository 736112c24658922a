"""IndexStore: what FixedModel.write produces is what the read ports give back, word for word."""

import random

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module

from axelram_hw.read_path.index_store import IndexStore
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from golden.signs import default_signs
from tests.support.read_path import vectors
from tests.support.streams import run, source

CONFIGS = [
    dict(d=8, b=1, t=16),
    dict(d=8, b=2, t=16, lanes=2),
    dict(d=16, b=4, t=32, lanes=4),
    dict(d=8, b=3, t=12, lanes=1),  # t not a power of two
    dict(d=128, b=3, t=16),
    dict(d=128, b=3, t=16, lanes=8),
]


def cfg_id(p):
    return "-".join(f"{k}{v}" for k, v in p.items())


def make_keys(cfg, rng, n):
    """``n - 2`` Gaussian keys, one with outlier channels, one zero."""
    return np.array(vectors(cfg, rng, n_gauss=n - 2))


def write_beats(cfg, slots, stored):
    P, out = cfg.lanes, []
    for n, s in enumerate(slots):
        for c in range(cfg.beats):
            out.append({"slot": int(s), "idx": [int(x) for x in stored.idx[n, c * P:(c + 1) * P]],
                        "mant": int(stored.mant[n]), "exp": int(stored.exp[n])})
    return out


def reader(dut, cfg, got, rng):
    """Read every index word and norm word back (random pauses, ``ren`` low keeps the data)."""

    async def testbench(ctx):
        for slot in range(cfg.t):
            words = []
            for c in range(cfg.beats):
                ctx.set(dut.idx.addr, slot * cfg.beats + c)
                ctx.set(dut.idx.en, 1)
                ctx.set(dut.norm.addr, slot)
                ctx.set(dut.norm.en, c == 0)
                await ctx.tick()
                ctx.set(dut.idx.en, 0)
                ctx.set(dut.norm.en, 0)
                # the registered read holds while the enable is low, whatever the address
                ctx.set(dut.idx.addr, rng.randrange(cfg.t * cfg.beats))
                ctx.set(dut.norm.addr, rng.randrange(cfg.t))
                for _ in range(rng.randrange(3)):
                    await ctx.tick()
                words.append(ctx.get(dut.idx.word.as_value()))
                if c == 0:
                    norm = ctx.get(dut.norm.word)
            got.append((words, int(norm.mant), int(norm.exp)))
    return testbench


def check_store(cfg, got, want_rows, written):
    """``want_rows[slot]``: golden StoredKeys.rows word of the slot (0 if never written)."""
    width = cfg.lanes * cfg.b
    for slot, (words, mant, exp) in enumerate(got):
        row = sum(w << (c * width) for c, w in enumerate(words))
        row |= ((exp << cfg.norm_mant) | mant) << (cfg.d * cfg.b)
        want = want_rows.get(slot, 0)
        assert row == want, (f"slot {slot} ({'written' if slot in written else 'never written'}): "
                             f"row {row:#x} != {want:#x}")


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_write_then_read_back(params):
    """Random keys into random slots (some twice, some never, some >= t): rows as golden."""
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(cfg.d + cfg.b + cfg.t)
    n = max(4, cfg.t // 2)
    keys = make_keys(cfg, rng, n + 2)
    slots = list(rng.choice(cfg.t, size=n, replace=False)) + [0, 0]  # slot 0 rewritten twice
    slots[-1] = slots[0]
    if (1 << cfg.addr_width) != cfg.t:
        slots += [cfg.t, (1 << cfg.addr_width) - 1]  # beyond the store: ignored
        keys = np.concatenate([keys, make_keys(cfg, rng, 2)])
    stored = model.write(keys)
    rows = stored.rows(cfg)
    want = {}
    for s, r in zip(slots, rows, strict=True):
        if s < cfg.t:
            want[int(s)] = r
    dut = IndexStore(cfg)
    got, flag = [], {}

    async def writer(ctx):
        await source(dut.w, write_beats(cfg, slots, stored), rng=random.Random(1),
                     p_valid=0.6)(ctx)
        await ctx.tick()
        flag["done"] = True

    async def read_all(ctx):
        while not flag.get("done"):
            await ctx.tick()
        await reader(dut, cfg, got, random.Random(2))(ctx)

    run(dut, writer, read_all, deadline_cycles=40 * cfg.t * cfg.beats + 2000)
    assert len(got) == cfg.t
    check_store(cfg, got, want, set(want))


def test_write_is_always_ready_and_reset_restarts_the_key():
    """w.ready is 1 every clock; a reset in the middle of a key drops the beat count, so the next
    beat is beat 0 of a new key (the memories themselves keep their contents)."""
    cfg = AxelramConfig(d=16, b=3, t=16, lanes=4)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(3)
    keys = make_keys(cfg, rng, 4)
    stored = model.write(keys)
    beats = write_beats(cfg, [3, 5, 7, 9], stored)
    dut = IndexStore(cfg)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    got = []

    async def bench(ctx):
        # key 0 whole and the first two beats of key 3, all into slot 5; then reset
        for b in beats[:cfg.beats] + beats[3 * cfg.beats:3 * cfg.beats + 2]:
            ctx.set(dut.w.payload, {**b, "slot": 5})
            ctx.set(dut.w.valid, 1)
            assert ctx.get(dut.w.ready)
            await ctx.tick()
        ctx.set(dut.w.valid, 0)
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        for b in beats[cfg.beats:3 * cfg.beats]:  # slots 5 and 7, whole
            ctx.set(dut.w.payload, b)
            ctx.set(dut.w.valid, 1)
            await ctx.tick()
        ctx.set(dut.w.valid, 0)
        await reader(dut, cfg, got, random.Random(0))(ctx)

    run(top, bench)
    rows = stored.rows(cfg)
    # slot 5 was rewritten whole after the reset: had the beat count survived, its words would
    # be shifted by two
    want = {5: rows[1], 7: rows[2]}
    check_store(cfg, got, want, set(want))
