"""SignFlipFWHT against golden.fwht (``u = FWHT(s * x)``), bit for bit; throughput; reset."""

import random
import time

import numpy as np
import pytest
from amaranth.back import verilog

from axelram_hw.front_end.fwht import SignFlipFWHT
from golden.config import AxelramConfig
from sim.vectors import fwht_vectors
from tests.support.rotation import (
    beats,
    check,
    check_against_fixed_model,
    expected,
    reset_bench,
    reset_then_send,
    take_around_reset,
)
from tests.support.streams import run, sink, source, stream_put

CONFIGS = {
    "d8_p8": dict(d=8, b=3, lanes=8, in_width=4),
    "d8_p4": dict(d=8, b=3, lanes=4, in_width=5),
    "d8_p2": dict(d=8, b=3, lanes=2, in_width=3),
    "d8_p1": dict(d=8, b=3, lanes=1, in_width=6),
    "d16_p4": dict(d=16, b=3, lanes=4, in_width=16),
    "d128_p128": dict(d=128, b=3, in_width=16),
    "d128_p8": dict(d=128, b=3, lanes=8, in_width=12),
    "d128_p16": dict(d=128, b=3, lanes=16, in_width=24),
}


def vector_count(cfg):
    return 20 if cfg.lanes >= 64 else 40 if cfg.beats >= 8 else 60


@pytest.mark.parametrize("name", CONFIGS)
def test_fwht_bit_exact_random_handshake(name):
    cfg = AxelramConfig(**CONFIGS[name])
    seed = sum(map(ord, name))
    x, neg = fwht_vectors(cfg, np.random.default_rng(seed), vector_count(cfg))
    dut = SignFlipFWHT(cfg)
    got = []
    n_beats = len(x) * cfg.beats
    r = random.Random(seed)
    run(dut,
        source(dut.i, beats(cfg, x, neg), rng=random.Random(seed + 1),
               p_valid=r.uniform(0.5, 0.7)),
        sink(dut.o, n_beats, got, rng=random.Random(seed + 2), p_ready=r.uniform(0.5, 0.7),
             tail=dut.latency + 2 * cfg.beats + 8),
        deadline_cycles=10 * n_beats + 400)
    check(cfg, expected(x, neg), got)


@pytest.mark.parametrize("name", CONFIGS)
def test_fwht_one_beat_per_clock(name):
    """Back to back: N vectors take N * beats + latency clocks, with no gap on either side."""
    cfg = AxelramConfig(**CONFIGS[name])
    x, neg = fwht_vectors(cfg, np.random.default_rng(7), vector_count(cfg) // 2)
    dut = SignFlipFWHT(cfg)
    got, stamps_in, stamps_out = [], [], []
    n_beats = len(x) * cfg.beats

    async def monitor(ctx):
        cycle = 0
        async for _, _, iv, ir, ov, orr in ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready):
            if iv and ir:
                stamps_in.append(cycle)
            if ov and orr:
                stamps_out.append(cycle)
            cycle += 1

    run(dut, source(dut.i, beats(cfg, x, neg)),
        sink(dut.o, n_beats, got, tail=dut.latency + 4),
        background=[monitor], deadline_cycles=2 * n_beats + 200)
    check(cfg, expected(x, neg), got)
    assert stamps_in == list(range(stamps_in[0], stamps_in[0] + n_beats)), "input stalled"
    assert stamps_out == list(range(stamps_out[0], stamps_out[0] + n_beats)), "output gaps"
    assert stamps_out[-1] - stamps_in[-1] == dut.latency
    assert stamps_out[-1] - stamps_in[0] + 1 == n_beats + dut.latency
    log2_beats = cfg.log2d - cfg.log2_lanes
    assert dut.latency == 1 + cfg.log2_lanes + (cfg.beats - 1) + 2 * log2_beats


@pytest.mark.parametrize("name", ["d8_p2", "d16_p4", "d128_p8"])
def test_fwht_reset_mid_traffic(name):
    """One clock of ``rst`` while the input is stalled (every stage holds data, a partial
    vector inside, an output pending); the next vectors are exact and nothing from before the
    reset comes out after it."""
    cfg = AxelramConfig(**CONFIGS[name])
    rng = np.random.default_rng(11)
    junk_x, junk_neg = fwht_vectors(cfg, rng, 8)
    x, neg = fwht_vectors(cfg, rng, 8)
    junk = beats(cfg, junk_x, junk_neg)
    dut = SignFlipFWHT(cfg)
    top, cd, state = reset_bench(dut, sent=0)
    before, got = [], []

    async def drive(ctx):
        # Junk until the input stalls (then every register holds data) after a vector and a half.
        for payload in junk:
            await stream_put(ctx, dut.i, payload)
            state["sent"] += 1
            if state["sent"] > cfg.beats * 3 // 2 and not ctx.get(dut.i.ready):
                break
        else:
            raise AssertionError("test set-up: the input never stalled")
        await reset_then_send(ctx, dut, cd, state, beats(cfg, x, neg))

    take = take_around_reset(dut, state, before, got, len(x) * cfg.beats, 0.15,
                             tail=dut.latency + 2 * cfg.beats + 8)
    run(top, drive, take, deadline_cycles=4000)
    assert state["pending"], "test set-up: want an output pending at reset"
    done = len(before) // cfg.beats
    assert done * cfg.beats < state["sent"]
    check(cfg, expected(junk_x[:done], junk_neg[:done]), before[:done * cfg.beats])
    check(cfg, expected(x, neg), got)


def test_fwht_matches_fixed_model():
    """The neg bits are the sign ROM's ``s == -1``: same result as FixedModel.rotate."""
    cfg = AxelramConfig(d=16, b=3, lanes=4, layers=3, in_width=10)
    check_against_fixed_model(SignFlipFWHT(cfg), cfg, tail=30, deadline_cycles=2000)


def test_fwht_full_parallel_converts_to_verilog():
    cfg = AxelramConfig(d=128, b=3)
    start = time.monotonic()
    text = verilog.convert(SignFlipFWHT(cfg), emit_src=False)
    elapsed = time.monotonic() - start
    assert "i__payload" in text and "o__payload" in text
    assert elapsed < 30, f"conversion took {elapsed:.1f} s"
