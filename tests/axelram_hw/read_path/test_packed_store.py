"""PackedIndexStore (lanes = 1: the single-ported index memory, ``coords_per_word`` coordinates a
word) against golden.fixed.FixedModel.write: read timing, write waits, final contents."""

import random
from collections import defaultdict

import numpy as np
import pytest

from axelram_hw.read_path.packed_store import PackedIndexStore, coords_per_word, words_per_key
from tests.support.read_path import (
    Store,
    cfg_id,
    model_of,
    serial_config,
    then_flag,
    vectors,
    versions,
)
from tests.support.streams import run, source


@pytest.mark.parametrize("params", [dict(d=4, b=2, t=6), dict(d=16, b=3, t=10),
                                    dict(d=64, b=4, t=3)], ids=cfg_id)
def test_packed_store(params):
    """Keys written at random while words and norms are read at random: a read happens in the
    clock it is asked for and returns the word or norm as it was before that clock, and its
    data holds until the next read; a beat waits only if it would write in a read clock; in the
    end every word and norm is the golden row cut into ``coords_per_word * b``-bit words."""
    cfg = serial_config(params)
    model = model_of(cfg)
    rng = np.random.default_rng(cfg.d)
    C, W = coords_per_word(cfg), words_per_key(cfg)
    keys = np.array(vectors(cfg, rng, n_gauss=2 * cfg.t))
    slots = [int(s) for s in rng.integers(0, cfg.t, size=len(keys))]
    stored = model.write(keys)
    beats = Store(cfg).write(slots, stored)
    dut = PackedIndexStore(cfg)
    prng = random.Random(2)
    flag, log = {}, defaultdict(list)

    def as_int(word):
        return sum(int(x) << (p * cfg.b) for p, x in enumerate(word))

    async def read(ctx, n, addr, norm):
        """Read word ``addr`` (and its slot's norm if ``norm``) in clock ``n``; returns the
        clock after the data was taken and the data."""
        ctx.set(dut.idx.addr, addr)
        ctx.set(dut.idx.en, 1)
        ctx.set(dut.norm.addr, addr // W)
        ctx.set(dut.norm.en, norm)
        log["reads"].append(n)
        await ctx.tick()
        n += 1
        ctx.set(dut.idx.en, 0)
        ctx.set(dut.norm.en, 0)
        data = (ctx.get(dut.idx.word.as_value()), ctx.get(dut.norm.word.as_value()))
        for _ in range(prng.randrange(4)):  # held, whatever the addresses, across writes
            ctx.set(dut.idx.addr, prng.randrange(cfg.t * W))
            ctx.set(dut.norm.addr, prng.randrange(cfg.t))
            await ctx.tick()
            n += 1
            assert (ctx.get(dut.idx.word.as_value()), ctx.get(dut.norm.word.as_value())) \
                == data
        return n, data

    async def reader(ctx):
        n, norm_at = 0, None
        while not flag.get("done"):
            addr, norm = prng.randrange(cfg.t * W), prng.random() < 0.5
            start = n
            n, data = await read(ctx, n, addr, norm)
            norm_at = start if norm else norm_at
            log["checks"].append((addr, start, data[0], norm_at, data[1]))
        for addr in range(cfg.t * W):
            n, data = await read(ctx, n, addr, True)
            log["final"].append((addr, data))

    async def monitor_w(ctx):
        n = 0
        while True:
            _, _, v, r, p = await ctx.tick().sample(dut.w.valid, dut.w.ready, dut.w.payload)
            if v and r:
                log["w"].append((n, int(p.slot), int(p.idx[0]), int(p.mant), int(p.exp)))
            if not r:
                log["waits"].append((n, len(log["w"])))
            n += 1

    run(dut, then_flag(source(dut.w, beats, rng=random.Random(1), p_valid=0.8), flag), reader,
        background=[monitor_w], deadline_cycles=len(beats) * 4 + 40 * cfg.t * W + 2000)
    words, norms = versions(cfg, log["w"])
    reads = set(log["reads"])
    assert log["waits"], "no write met a read"
    for n, accepted in log["waits"]:
        assert n in reads and accepted % C == C - 1, f"w not ready in clock {n}"

    def as_of(history, clock, initial):
        before = [v for n, v in history if n < clock]
        return before[-1] if before else initial

    assert len(log["checks"]) > 20
    for addr, clock, word, norm_clock, norm in log["checks"]:
        want = as_of(words[divmod(addr, W)], clock, np.zeros(C, dtype=np.int64))
        assert word == as_int(want), f"word {addr} read in clock {clock}"
        if norm_clock is not None:
            slot = [a for a, c, *_ in log["checks"] if c == norm_clock][0] // W
            mant, exp = as_of(norms[slot], norm_clock, (0, 0))
            assert norm == (exp << cfg.norm_mant) | mant, f"norm {slot} in clock {norm_clock}"
    rows = dict(zip(slots, stored.rows(cfg), strict=True))  # the last write of a slot wins
    for addr, (word, norm) in log["final"]:
        slot, w = divmod(addr, W)
        row = rows.get(slot, 0)
        assert word == (row >> (w * C * cfg.b)) & ((1 << (C * cfg.b)) - 1), f"word {addr}"
        assert norm == row >> (cfg.d * cfg.b), f"norm of slot {slot}"
