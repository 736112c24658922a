"""ReadPath (index store + table builder + scorer) against golden.fixed.FixedModel.score.

Keys are quantised with FixedModel.write, queries rotated with FixedModel.rotate, and every
score beat (mant, exp, slot, last, oob) is compared exactly with FixedModel.score of the store
contents. All four streams run with seeded random valid/ready.
"""

import random

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import ClockDomain, Module, Signal, signed, unsigned

from axelram_hw.lib.multiply import product_terms
from axelram_hw.read_path.read_path import ReadPath
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from golden.signs import default_signs
from sim.vectors import gaussian
from tests.support.read_path import (
    Store,
    check_scores,
    expected_scores,
    query_beats,
    run_traffic,
    vectors,
)
from tests.support.streams import run, sink, source

CONFIGS = [
    dict(d=8, b=1, t=16),
    dict(d=8, b=2, t=16, lanes=2),
    dict(d=16, b=3, t=16, lanes=4),
    dict(d=16, b=4, t=16),
    dict(d=8, b=3, t=12, lanes=1),  # t not a power of two, one lane
    dict(d=128, b=3, t=8),
    dict(d=128, b=3, t=16, lanes=8),
]


def cfg_id(p):
    return "-".join(f"{k}{v}" for k, v in p.items())


# ---- tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_scores_bit_exact(params):
    """Gaussian/outlier/zero keys in some slots (others never written), Gaussian/outlier/zero/
    extreme queries back to back; commands cover written, never-written and out-of-range slots
    and count = 0."""
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(cfg.d * 10 + cfg.b + cfg.lanes)
    big = cfg.d == 128
    keys = np.array(vectors(cfg, rng, n_gauss=4 if big else 8))
    slots = rng.choice(cfg.t, size=len(keys), replace=False)
    store = Store(cfg)
    beats = store.write(slots, model.write(keys))
    queries = vectors(cfg, rng, n_gauss=2 if big else 3, extreme=True,
                      signs=model.signs.signs[0])
    t = cfg.t
    cmds = [(0, t), (t - 3, 6), (2, 0), (t - 1, t), (int(slots[0]), 1), (1, t - 1), (0, 0)]
    cmds = cmds[:len(queries) - 1] + cmds[-1:]  # ends with count = 0: nothing more may come
    run_traffic(cfg, model, beats, queries, cmds, expected_scores(cfg, model, store, queries,
                                                                   cmds), seed=cfg.d + cfg.b)


@pytest.mark.parametrize("params", [dict(d=16, b=2, t=32), dict(d=16, b=2, t=32, lanes=4)],
                         ids=cfg_id)
def test_fill_whole_store(params):
    """Write all t slots (some twice: the later write wins), then score them all, twice."""
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(7)
    keys = gaussian(cfg, rng, cfg.t + 4, scale_bits=0)
    slots = np.concatenate([rng.permutation(cfg.t), rng.choice(cfg.t, 4, replace=False)])
    store = Store(cfg)
    beats = store.write(slots, model.write(keys))
    queries = vectors(cfg, rng, n_gauss=2, outlier=False, zero=False)
    cmds = [(0, cfg.t), (0, cfg.t)]
    run_traffic(cfg, model, beats, queries, cmds,
                expected_scores(cfg, model, store, queries, cmds), seed=3)


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=32), dict(d=16, b=3, t=32, lanes=4)],
                         ids=cfg_id)
def test_throughput(params):
    """With score.ready high: one score per `beats` clocks inside a command (the credits
    suffice), out-of-range slots faster, and the documented gap between commands."""
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(11)
    keys = gaussian(cfg, rng, cfg.t, scale_bits=0)
    store = Store(cfg)
    beats = store.write(np.arange(cfg.t), model.write(keys))
    queries = vectors(cfg, rng, n_gauss=2, outlier=False, zero=False)
    cmds = [(0, cfg.t), (0, cfg.t + 8)]  # 8 out-of-range slots at the end
    want = expected_scores(cfg, model, store, queries, cmds)
    dut = ReadPath(cfg)
    got, stamps = [], []

    async def writer(ctx):
        for b in beats:
            ctx.set(dut.store_w.payload, b)
            ctx.set(dut.store_w.valid, 1)
            await ctx.tick()
        ctx.set(dut.store_w.valid, 0)

    async def commands(ctx):
        await ctx.tick().repeat(2)
        for qb in query_beats(cfg, model, queries):
            ctx.set(dut.query.payload, qb)
            ctx.set(dut.query.valid, 1)
            await ctx.tick().until(dut.query.ready)
        ctx.set(dut.query.valid, 0)

    async def cmd_source(ctx):
        await ctx.tick().repeat(len(beats) + 2)
        await source(dut.cmd, [{"first": f, "count": c} for f, c in cmds])(ctx)

    async def scores(ctx):
        ctx.set(dut.score.ready, 1)
        for _ in range(len(want)):
            payload, = await ctx.tick().sample(dut.score.payload).until(dut.score.valid)
            got.append(payload)

    async def stamper(ctx):
        n = 0
        while True:
            _, _, valid = await ctx.tick().sample(dut.score.valid)
            if valid:
                stamps.append(n)
            n += 1

    run(dut, writer, commands, cmd_source, scores, background=[stamper],
        deadline_cycles=5000)
    check_scores(got, want)
    in_cmd = np.diff(stamps[:cfg.t])
    assert set(in_cmd.tolist()) == {cfg.beats}, in_cmd
    assert stamps[-1] - stamps[-9] <= 8 * cfg.beats  # out-of-range slots: no memory reads
    # between commands: folded, the next table is already built (one clock to take the command);
    # fully parallel, the single table is rebuilt after the last read
    gap = stamps[cfg.t] - stamps[cfg.t - 1]
    assert gap == dut.table_gap == (cfg.beats + 1 if cfg.beats > 1
                                    else dut.builder.generate_clocks + 5)


def test_reset_mid_traffic():
    """Reset while keys are being written and queries scored; afterwards the store keeps the
    completed keys, a partially written key is rewritten whole, and scoring is bit-exact."""
    cfg = AxelramConfig(d=16, b=3, t=16, lanes=4)
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(21)
    store = Store(cfg)
    keys_a = np.array(vectors(cfg, rng, n_gauss=6))
    beats_a = store.write(np.arange(8), model.write(keys_a))
    keys_b = np.array(vectors(cfg, rng, n_gauss=6))
    beats_b = store.write(np.arange(8, 16), model.write(keys_b))
    queries = vectors(cfg, rng, n_gauss=3)
    cmds = [(0, 16), (4, 14), (0, 0), (8, 8), (15, 3)]
    want = expected_scores(cfg, model, store, queries, cmds)

    dut = ReadPath(cfg)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    prng = random.Random(5)
    phase = {"n": 0}
    got = []

    def gated(n, stream_tb):
        async def testbench(ctx):
            while phase["n"] != n:
                await ctx.tick()
            await stream_tb(ctx)
        return testbench

    moved = {}

    stopped = set()

    def stoppable(stream, payloads, *, out, vector=1):
        """Offer (out=False) or take (out=True) payloads at random in phase 1; once phase 1 is
        over, stop dead, but an input stream only in the middle of a ``vector``-beat vector (so
        the reset cuts one in two)."""
        async def testbench(ctx):
            moved[stream] = 0
            items = iter(payloads)
            item = next(items, None)
            while phase["n"] == 1 or (vector > 1 and moved[stream] % vector == 0):
                if out:
                    ctx.set(stream.ready, prng.random() < 0.6)
                elif item is not None and not ctx.get(stream.valid) and prng.random() < 0.6:
                    ctx.set(stream.payload, item)
                    ctx.set(stream.valid, 1)  # held until accepted (or the phase ends)
                _, _, ready, valid = await ctx.tick().sample(stream.ready, stream.valid)
                moved[stream] += bool(valid and ready)
                if not out and valid and ready:
                    item = next(items, None)
                    ctx.set(stream.valid, 0)
            ctx.set(stream.ready if out else stream.valid, 0)
            stopped.add(stream)
        return testbench

    async def control(ctx):
        # phase 0: write set A completely
        await source(dut.store_w, beats_a, rng=random.Random(1), p_valid=0.7)(ctx)
        # phase 1: set B and scoring traffic, interrupted by a reset in the middle of a key
        # write and of a query
        phase["n"] = 1
        await ctx.tick().repeat(60)
        phase["n"] = 2
        while len(stopped) < 4:
            await ctx.tick()
        ctx.set(cd.rst, 1)
        for _ in range(2):
            await ctx.tick()  # (a plain tick: .repeat() raises DomainReset)
        ctx.set(cd.rst, 0)
        # phase 3: rewrite set B whole, then score
        phase["n"] = 3
        await source(dut.store_w, beats_b, rng=random.Random(2), p_valid=0.7)(ctx)
        await ctx.tick().repeat(2)
        phase["n"] = 4

    qb = query_beats(cfg, model, queries)
    cb = [{"first": f, "count": c} for f, c in cmds]
    run(top, control,
        gated(4, sink(dut.score, len(want), got, rng=random.Random(3), p_ready=0.6, tail=60)),
        background=[
            gated(1, stoppable(dut.store_w, beats_b * 4, out=False, vector=cfg.beats)),
            gated(1, stoppable(dut.query, qb, out=False, vector=cfg.beats)),
            gated(1, stoppable(dut.cmd, cb, out=False)),
            gated(1, stoppable(dut.score, [], out=True)),
            gated(4, source(dut.query, qb, rng=random.Random(4), p_valid=0.6)),
            gated(4, source(dut.cmd, cb, rng=random.Random(6), p_valid=0.6)),
        ],
        deadline_cycles=4000)
    check_scores(got, want)
    # the reset really interrupted a key write, a query and the scores
    assert moved[dut.store_w] % cfg.beats
    assert moved[dut.query] % cfg.beats and moved[dut.cmd] and moved[dut.score]


@pytest.mark.parametrize("params", [
    dict(d=16, b=3, t=16, lanes=4),
    pytest.param(dict(d=128, b=3, t=4096), marks=pytest.mark.slow),
], ids=cfg_id)
def test_converts_to_verilog(params):
    """The read path converts (d=128, b=3, P=128, t=4096: about 10-15 s, marked slow)."""
    cfg = AxelramConfig(**params)
    text = verilog.convert(ReadPath(cfg), emit_src=False)
    assert "module top" in text
    # the only multiplies: the builder's H constant ones (per query coordinate) and the
    # scorer's norm scaling (per key), each as its DSP-sized partial products
    modules = {m.split("(", 1)[0].strip().lstrip("\\"): m for m in text.split("\nmodule ")[1:]}
    v, acc, mant = Signal(signed(cfg.u_width)), Signal(signed(cfg.acc_width)), \
        Signal(unsigned(cfg.norm_mant))
    assert modules["top.scorer"].count(" * ") == product_terms(acc, mant)
    assert modules["top.builder"].count(" * ") == sum(product_terms(v, c)
                                                      for c in cfg.centroid_rom)
    assert text.count(" * ") == (modules["top.scorer"].count(" * ")
                                 + modules["top.builder"].count(" * "))
