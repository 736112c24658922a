"""AxelramMacro against golden.fixed.FixedModel, in the Amaranth simulator.

Keys and queries go in as integer vectors on random layers, with seeded random valid/ready on all
three streams. A monitor stamps the cycle at which each key's and each query's first beat is
accepted; the reference then follows the macro's documented ordering: a query sees every key
accepted before its first beat, and possibly later writes to the slots it scores (so a score may
equal the golden score of any version of the slot from that point on, and nothing older).
"""

import gc
import random
import warnings

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, UnusedElaboratable

from axelram_hw.macro import AxelramMacro
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from golden.signs import default_signs
from tests.support.macro import Reference, beats, check, monitor, random_signs, traffic, vectors
from tests.support.streams import run, sink, source


def cfg_id(p):
    return "-".join(f"{k}{v}" for k, v in p.items())


def simulate(cfg, signs, writes, queries, seed, p=0.6, reset=None):
    """Drive ``writes`` [(key, layer, slot)] and ``queries`` [(q, layer, first, count)]
    concurrently; return the score beats and the acceptance stamps."""
    dut = AxelramMacro(cfg, signs)
    rng = random.Random(seed)
    wbeats = [b for k, layer, s in writes for b in beats(cfg, k, {"layer": layer, "slot": s})]
    qbeats = [b for q, layer, f, c in queries
              for b in beats(cfg, q, {"layer": layer, "first": f, "count": c})]
    n_scores = sum(c for _, _, _, c in queries)
    stamps, got = {"write": [], "query": []}, []
    bound = (len(writes) + len(queries)) * cfg.beats * 12 + len(queries) * 400 + n_scores * (
        cfg.beats * 4 + 4) + 3000
    run(dut,
        source(dut.write, wbeats, rng=random.Random(rng.random()), p_valid=p),
        source(dut.query, qbeats, rng=random.Random(rng.random()), p_valid=p),
        sink(dut.score, n_scores, got, rng=random.Random(rng.random()), p_ready=p,
             tail=cfg.beats * 8 + 200),
        background=[monitor(dut, cfg, stamps)],
        deadline_cycles=bound)
    return got, stamps


def reference(cfg, model, writes, w_stamps):
    ref = Reference(cfg, model)
    for (k, layer, s), cycle in zip(writes, w_stamps, strict=True):
        ref.write(cycle, s, k, layer)
    return ref


CONFIGS = [
    dict(d=8, b=2, t=8),
    dict(d=8, b=3, t=12, lanes=2, layers=2),
    dict(d=16, b=3, t=32, lanes=4, layers=3),
    dict(d=16, b=4, t=16, layers=2),
    dict(d=32, b=2, t=16, lanes=1),
    dict(d=128, b=3, t=16),
    dict(d=128, b=3, t=16, lanes=16, layers=2),
    dict(d=128, b=3, t=16, lanes=1, layers=2),
    dict(d=4, b=3, t=8, lanes=1),
]


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_interleaved_traffic_bit_exact(params):
    """Writes and queries at once, on several layers, random back-pressure everywhere;
    queries score written, never-written and out-of-range slots, and count = 0."""
    cfg = AxelramConfig(**params)
    signs = random_signs(cfg, seed=cfg.d + cfg.b)
    model = FixedModel(cfg, signs)
    rng = np.random.default_rng(cfg.d * 7 + cfg.b + cfg.lanes)
    big = cfg.d >= 128
    writes, queries = traffic(cfg, rng, 10 if big else 24, 4 if big else 8)
    got, stamps = simulate(cfg, signs, writes, queries, seed=cfg.d + cfg.lanes)
    check(cfg, reference(cfg, model, writes, stamps["write"]), queries, got,
          stamps["query"])


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=64), dict(d=16, b=3, t=64, lanes=4),
                                    dict(d=16, b=3, t=64, lanes=1)], ids=cfg_id)
def test_fill_all_slots_then_score_all(params):
    """Write every slot (some twice), then score all of them (and a few beyond t)."""
    cfg = AxelramConfig(**params)
    model = FixedModel(cfg)
    rng = np.random.default_rng(5)
    slots = np.concatenate([rng.permutation(cfg.t), rng.choice(cfg.t, 4, replace=False)])
    writes, _ = traffic(cfg, rng, len(slots), 0, slots=slots)
    queries = [(q, 0, 0, cfg.t + 3) for q in vectors(cfg, rng, 2)]
    got, q_stamps = simulate_after_writes(cfg, writes, queries)
    ref = reference(cfg, model, writes, q_stamps["write"])
    check(cfg, ref, queries, got, q_stamps["query"])


def simulate_after_writes(cfg, writes, queries, p=0.7):
    """Writes first (random valid), then the queries once every write has been accepted."""
    dut = AxelramMacro(cfg)
    wbeats = [b for k, layer, s in writes for b in beats(cfg, k, {"layer": layer, "slot": s})]
    qbeats = [b for q, layer, f, c in queries
              for b in beats(cfg, q, {"layer": layer, "first": f, "count": c})]
    n_scores = sum(c for _, _, _, c in queries)
    stamps, got, flag = {"write": [], "query": []}, [], {}

    async def writer(ctx):
        await source(dut.write, wbeats, rng=random.Random(2), p_valid=p)(ctx)
        flag["done"] = True

    async def querier(ctx):
        while not flag.get("done"):
            await ctx.tick()
        await source(dut.query, qbeats, rng=random.Random(3), p_valid=p)(ctx)

    run(dut, writer, querier,
        sink(dut.score, n_scores, got, rng=random.Random(4), p_ready=p, tail=200),
        background=[monitor(dut, cfg, stamps)],
        deadline_cycles=len(wbeats) * 6 + len(queries) * (400 + n_scores * cfg.beats * 3))
    return got, stamps


def test_query_waits_for_earlier_writes():
    """A query right behind a key to the slot it scores sees that key or a later one, never an
    older one (the key may still be in the encoder when the query's first beat arrives)."""
    cfg = AxelramConfig(d=16, b=3, t=8, lanes=16)
    model = FixedModel(cfg)
    rng = np.random.default_rng(9)
    writes, queries = [], []
    for _ in range(6):
        k, q = vectors(cfg, rng, 2)
        writes.append((k, 0, 2))
        queries.append((q, 0, 2, 1))
    # strictly alternate: key n, then query n (a single testbench drives both streams)
    dut = AxelramMacro(cfg)
    got, stamps = [], {"write": [], "query": []}

    async def driver(ctx):
        for (k, layer, s), (q, ql, f, c) in zip(writes, queries, strict=True):
            await source(dut.write, beats(cfg, k, {"layer": layer, "slot": s}))(ctx)
            await source(dut.query, beats(cfg, q, {"layer": ql, "first": f, "count": c}))(ctx)

    run(dut, driver, sink(dut.score, len(queries), got, p_ready=0.5, tail=50),
        background=[monitor(dut, cfg, stamps)], deadline_cycles=5000)
    for n, (q, layer, _, _) in enumerate(queries):
        table = model.query(q, layer)
        allowed = [model.score(table, model.write(k, 0)) for k, _, _ in writes]
        allowed = [(int(sc.mant[0]), int(sc.exp[0])) for sc in allowed]
        g = (int(got[n].mant), int(got[n].exp))
        assert g in allowed[n:], (f"query {n} saw key {allowed.index(g) if g in allowed else '?'}"
                                  f", not key {n} or a later one")


@pytest.mark.parametrize("lanes", [4, 1])
def test_reset_mid_traffic(lanes):
    """A reset while keys and queries are in flight drops them; the index store keeps the
    completed keys; slots being written at the reset are rewritten; then scores are exact."""
    cfg = AxelramConfig(d=16, b=3, t=16, lanes=lanes, layers=2)
    model = FixedModel(cfg)
    rng = np.random.default_rng(13)
    writes_a, _ = traffic(cfg, rng, 8, 0, slots=np.arange(8))
    writes_b, queries = traffic(cfg, rng, 8, 6, slots=np.arange(8, 16))
    dut = AxelramMacro(cfg)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    wa = [b for k, la, s in writes_a for b in beats(cfg, k, {"layer": la, "slot": s})]
    wb = [b for k, la, s in writes_b for b in beats(cfg, k, {"layer": la, "slot": s})]
    qb = [b for q, la, f, c in queries for b in beats(cfg, q, {"layer": la, "first": f,
                                                               "count": c})]
    phase = {"n": 0}
    got, moved = [], {"write": 0, "query": 0, "score": 0}

    stopped = set()

    def noisy(stream, payloads, name, out=False):
        """Phase 1: offer or take beats at random; after it, the write stream goes on until it
        is in the middle of a key (so that the reset cuts one in two), the others until the
        write stream has stopped; then each stops dead."""
        async def testbench(ctx):
            while phase["n"] != 1:
                await ctx.tick()
            prng, items = random.Random(name), iter(payloads)
            item = next(items, None)
            def going():
                if phase["n"] == 1:
                    return True
                if name == "write":
                    return item is not None and moved[name] % cfg.beats == 0
                return "write" not in stopped

            while going():
                if out:
                    ctx.set(stream.ready, prng.random() < 0.6)
                elif item is not None and not ctx.get(stream.valid) and prng.random() < 0.7:
                    ctx.set(stream.payload, item)
                    ctx.set(stream.valid, 1)
                _, _, ready, valid = await ctx.tick().sample(stream.ready, stream.valid)
                if valid and ready:
                    moved[name] += 1
                    if not out:
                        item = next(items, None)
                        ctx.set(stream.valid, 0)
            ctx.set(stream.ready if out else stream.valid, 0)
            stopped.add(name)
        return testbench

    async def control(ctx):
        await source(dut.write, wa, rng=random.Random(1), p_valid=0.7)(ctx)
        await ctx.tick().repeat(200)  # let set A reach the store: a reset drops keys in flight
        phase["n"] = 1
        await ctx.tick().repeat(45)
        phase["n"] = 2
        while len(stopped) < 3:
            await ctx.tick()
        ctx.set(cd.rst, 1)
        for _ in range(2):
            await ctx.tick()
        ctx.set(cd.rst, 0)
        await source(dut.write, wb, rng=random.Random(2), p_valid=0.7)(ctx)
        phase["n"] = 3
        await source(dut.query, qb, rng=random.Random(3), p_valid=0.7)(ctx)

    async def scores(ctx):
        while phase["n"] != 3:
            await ctx.tick()
        await sink(dut.score, sum(c for *_, c in queries), got, rng=random.Random(4),
                   p_ready=0.6, tail=100)(ctx)

    run(top, control, scores,
        background=[noisy(dut.write, wb * 2, "write"), noisy(dut.query, qb, "query"),
                    noisy(dut.score, [], "score", out=True)],
        deadline_cycles=20000)
    assert moved["write"] % cfg.beats and moved["query"], moved  # the reset cut a key in two
    ref = Reference(cfg, model)
    for k, la, s in writes_a + writes_b:
        ref.write(0, s, k, la)
    check(cfg, ref, queries, got, [1] * len(queries))


def rejects(exc, match, *args):
    """``AxelramMacro(*args)`` raises ``exc``; the half-built object's UnusedElaboratable
    warning (emitted when it is collected) is silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(exc, match=match):
            AxelramMacro(*args)
        gc.collect()


def test_rejects_bad_signs():
    cfg = AxelramConfig(d=16, b=3, t=8, layers=2)
    rejects(ValueError, "3 layers, but the configuration has layers=2", cfg,
            default_signs(16, 3))
    rejects(ValueError, "d=32, but the configuration has d=16", cfg, default_signs(32, 2))
    rejects(TypeError, "AxelramConfig", dict(d=16, b=3))


@pytest.mark.parametrize("params", [dict(d=128, b=3, t=64), dict(d=128, b=3, t=64, lanes=16),
                                    dict(d=16, b=3, t=32, lanes=4),
                                    dict(d=128, b=3, t=16, lanes=1)], ids=cfg_id)
def test_throughput(params):
    """Streams always valid/ready: t keys in t*beats clocks, one score per `beats` clocks,
    and the documented query latency, gap between queries and write latency."""
    cfg = AxelramConfig(**params)
    dut = AxelramMacro(cfg)
    model = FixedModel(cfg)
    rng = np.random.default_rng(17)
    keys = vectors(cfg, rng, cfg.t)
    queries = [(q, 0, 0, cfg.t) for q in vectors(cfg, rng, 2)]
    seen = {"write": [], "query": [], "score": [], "commit": []}
    got = []
    store_w = dut._read.store_w

    async def driver(ctx):
        for s, k in enumerate(keys):
            for b in beats(cfg, k, {"layer": 0, "slot": s}):
                ctx.set(dut.write.payload, b)
                ctx.set(dut.write.valid, 1)
                await ctx.tick().until(dut.write.ready)
        ctx.set(dut.write.valid, 0)
        await ctx.tick().repeat(cfg.d + 200)  # idle: all keys committed
        for q, layer, f, c in queries:
            for b in beats(cfg, q, {"layer": layer, "first": f, "count": c}):
                ctx.set(dut.query.payload, b)
                ctx.set(dut.query.valid, 1)
                await ctx.tick().until(dut.query.ready)
        ctx.set(dut.query.valid, 0)

    async def monitor_all(ctx):
        ctx.set(dut.score.ready, 1)
        n = 0
        while True:
            _, _, wv, wr, qv, qr, sv, sp, cv, cr = await ctx.tick().sample(
                dut.write.valid, dut.write.ready, dut.query.valid, dut.query.ready,
                dut.score.valid, dut.score.payload, store_w.valid, store_w.ready)
            for name, hit in (("write", wv and wr), ("query", qv and qr), ("score", sv),
                              ("commit", cv and cr)):
                if hit:
                    seen[name].append(n)
            if sv:
                got.append(sp)
            n += 1

    async def wait(ctx):
        while len(got) < 2 * cfg.t:
            await ctx.tick()
        await ctx.tick().repeat(20)

    run(dut, driver, wait, background=[monitor_all], deadline_cycles=30000)
    ref = reference(cfg, model, [(k, 0, s) for s, k in enumerate(keys)], [0] * cfg.t)
    check(cfg, ref, queries, got, [1, 1])
    w, sc, q, cm = (np.array(seen[k]) for k in ("write", "score", "query", "commit"))
    assert len(w) == cfg.t * cfg.beats and w[-1] - w[0] == len(w) - 1  # no bubbles
    assert set(np.diff(sc[:cfg.t]).tolist()) == {cfg.beats}
    assert sc[0] - q[0] == dut.query_latency
    assert sc[cfg.t] - sc[cfg.t - 1] == dut.table_gap
    key_first = w[::cfg.beats]
    key_done = cm[cfg.beats - 1::cfg.beats]
    assert (key_done - key_first).max() == dut.write_latency
