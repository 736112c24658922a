"""SerialFWHT (lanes = 1) against golden.fwht, bit for bit; throughput, flushing, reset."""

import random

import numpy as np
import pytest
from amaranth.back import verilog

from axelram_hw.front_end.fwht_serial import SerialFWHT
from golden.config import AxelramConfig
from sim.vectors import fwht_vectors
from tests.support import rotation
from tests.support.rotation import beats, check, expected
from tests.support.streams import run, sink, source, stream_put
from tests.support.tools import lint, needs_verilator

CONFIGS = {
    "d4_w4": dict(d=4, in_width=4),
    "d4_w24": dict(d=4, in_width=24),
    "d8_w24": dict(d=8, in_width=24),
    "d16_w16": dict(d=16, in_width=16),
    "d32_w5": dict(d=32, in_width=5),
    "d128_w16": dict(d=128, in_width=16),
    "d128_w24": dict(d=128, in_width=24),
}


def config(name, **kw):
    return AxelramConfig(b=3, lanes=1, **CONFIGS[name], **kw)


def vector_count(cfg):
    return 12 if cfg.d >= 128 else 40


class Stamps:
    """Cycle numbers of every transfer on the FWHT's input and output."""

    def __init__(self, dut):
        self.dut, self.i, self.o = dut, [], []

    async def monitor(self, ctx):
        cycle = 0
        async for _, _, iv, ir, ov, orr in ctx.tick().sample(
                self.dut.i.valid, self.dut.i.ready, self.dut.o.valid, self.dut.o.ready):
            if iv and ir:
                self.i.append(cycle)
            if ov and orr:
                self.o.append(cycle)
            cycle += 1


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", CONFIGS)
def test_serial_fwht_bit_exact_random_handshake(name, seed):
    cfg = config(name)
    x, neg = fwht_vectors(cfg, np.random.default_rng(100 * seed + len(name)), vector_count(cfg))
    dut = SerialFWHT(cfg)
    got = []
    n_beats = len(x) * cfg.beats
    p_valid, p_ready = [(0.6, 0.6), (0.9, 0.3), (0.3, 0.9)][seed]
    run(dut,
        source(dut.i, beats(cfg, x, neg), rng=random.Random(seed + 1), p_valid=p_valid),
        sink(dut.o, n_beats, got, rng=random.Random(seed + 2), p_ready=p_ready,
             tail=dut.latency + 2 * cfg.d),
        deadline_cycles=20 * n_beats + 1000)
    check(cfg, expected(x, neg), got)


@pytest.mark.parametrize("name", CONFIGS)
def test_serial_fwht_one_beat_per_clock(name):
    """Back to back: N vectors take N * d + latency clocks, with no gap on either side."""
    cfg = config(name)
    x, neg = fwht_vectors(cfg, np.random.default_rng(7), vector_count(cfg) // 2)
    dut = SerialFWHT(cfg)
    got = []
    stamps = Stamps(dut)
    n_beats = len(x) * cfg.beats
    run(dut, source(dut.i, beats(cfg, x, neg)),
        sink(dut.o, n_beats, got, tail=dut.latency + 4),
        background=[stamps.monitor], deadline_cycles=2 * n_beats + 400)
    check(cfg, expected(x, neg), got)
    assert stamps.i == list(range(stamps.i[0], stamps.i[0] + n_beats)), "input stalled"
    assert stamps.o == list(range(stamps.o[0], stamps.o[0] + n_beats)), "output gaps"
    assert stamps.o[-1] - stamps.i[-1] == dut.latency
    assert stamps.o[-1] - stamps.i[0] + 1 == n_beats + dut.latency
    assert dut.latency == cfg.d + cfg.log2d


@pytest.mark.parametrize("p_ready", [1.0, 0.5])
@pytest.mark.parametrize("name", ["d4_w4", "d16_w16", "d128_w16"])
def test_serial_fwht_vector_then_idle(name, p_ready):
    """Each vector followed by a long idle input comes out completely on its own (flush)."""
    cfg = config(name)
    x, neg = fwht_vectors(cfg, np.random.default_rng(3), 5)
    dut = SerialFWHT(cfg)
    payloads = beats(cfg, x, neg)
    idle = 3 * cfg.d + 40
    done = []  # output beats received when each idle period ends
    got = []

    async def drive(ctx):
        for n in range(len(x)):
            for payload in payloads[n * cfg.d:(n + 1) * cfg.d]:
                await stream_put(ctx, dut.i, payload)
            await ctx.tick().repeat(idle)
            done.append(len(got))

    run(dut, drive, sink(dut.o, len(payloads), got, rng=random.Random(4), p_ready=p_ready,
                         tail=2 * cfg.d),
        deadline_cycles=len(x) * (cfg.d + idle) + 2000)
    check(cfg, expected(x, neg), got)
    assert done == [cfg.d * (n + 1) for n in range(len(x))], "a vector waited for the next"


def stopped_after(cfg, x, neg, j):
    """Send one vector and ``j`` beats of the next, stop the input for ``3 d`` clocks, then
    send the rest; returns (output beats received by the end of the stop, all output)."""
    payloads = beats(cfg, x, neg)
    dut = SerialFWHT(cfg)
    got = []
    seen = []

    async def drive(ctx):
        for payload in payloads[:cfg.d + j]:
            await stream_put(ctx, dut.i, payload)
        await ctx.tick().repeat(3 * cfg.d)
        seen.append(len(got))
        for payload in payloads[cfg.d + j:]:
            await stream_put(ctx, dut.i, payload)

    run(dut, drive, sink(dut.o, len(payloads), got, tail=2 * cfg.d),
        deadline_cycles=12 * cfg.d + 200)
    return seen[0], got


@pytest.mark.parametrize("name", ["d8_w24", "d128_w16"])
def test_serial_fwht_tail_advances_with_next_vector(name):
    """While vector V + 1 is arriving, V leaves as V + 1 enters (see the class docstring):
    with the input stopped after ``j`` beats of V + 1, exactly ``j - log2 d + 1`` beats of V
    have come out; the rest follow when V + 1 resumes."""
    cfg = config(name)
    x, neg = fwht_vectors(cfg, np.random.default_rng(5), 5)
    for j in (1, cfg.log2d - 1, cfg.log2d, cfg.d // 2, cfg.d - 1):
        stopped, got = stopped_after(cfg, x, neg, j)
        check(cfg, expected(x, neg), got)
        assert stopped == max(0, j - cfg.log2d + 1), f"j = {j}"


def flush_wait(cfg, gap):
    """Clocks from a vector's last input transfer to the next one's first, when the next is
    offered ``gap`` clocks after the earliest possible cycle (no output stalls)."""
    if gap == 0:
        return 1
    if gap <= cfg.d:
        return cfg.d + 1                 # taken at the end of the flush frame
    if gap <= cfg.d + cfg.log2d:
        return cfg.d + cfg.log2d + 1     # after the flush and one idle clock
    return gap + 1                       # nothing inside: taken at once


@pytest.mark.parametrize("name", ["d4_w4", "d16_w16", "d128_w16"])
def test_serial_fwht_gap_between_vectors(name):
    """The documented flush timing: a vector offered during a flush waits for the frame
    boundary or for the end of the flush."""
    cfg = config(name)
    gaps = sorted({0, 1, 2, cfg.d - 1, cfg.d, cfg.d + 1, cfg.d + cfg.log2d - 1,
                   cfg.d + cfg.log2d, cfg.d + cfg.log2d + 1, 2 * cfg.d + 7})
    x, neg = fwht_vectors(cfg, np.random.default_rng(6), len(gaps) + 1)
    payloads = beats(cfg, x, neg)
    dut = SerialFWHT(cfg)
    stamps = Stamps(dut)
    got = []

    async def drive(ctx):
        for n in range(len(x)):
            if n and gaps[n - 1]:
                await ctx.tick().repeat(gaps[n - 1])
            for payload in payloads[n * cfg.d:(n + 1) * cfg.d]:
                await stream_put(ctx, dut.i, payload)

    run(dut, drive, sink(dut.o, len(payloads), got, tail=2 * cfg.d),
        background=[stamps.monitor], deadline_cycles=len(x) * 4 * cfg.d + 1000)
    check(cfg, expected(x, neg), got)
    for n, gap in enumerate(gaps):
        first, last = stamps.i[(n + 1) * cfg.d], stamps.i[(n + 1) * cfg.d - 1]
        assert first - last == flush_wait(cfg, gap), f"gap {gap}"
        vector = stamps.i[n * cfg.d:(n + 1) * cfg.d]
        assert vector == list(range(vector[0], vector[0] + cfg.d)), "a vector was split"


@pytest.mark.parametrize("name", ["d4_w4", "d16_w16", "d128_w16"])
def test_serial_fwht_reset_mid_vector(name):
    """One clock of ``rst`` in the middle of a vector, with output beats pending: the vectors
    after it are exact and nothing from before the reset comes out after it."""
    cfg = config(name)
    rng = np.random.default_rng(11)
    junk_x, junk_neg = fwht_vectors(cfg, rng, 5)
    x, neg = fwht_vectors(cfg, rng, 6)
    junk = beats(cfg, junk_x, junk_neg)
    dut = SerialFWHT(cfg)
    top, cd, state = rotation.reset_bench(dut)
    sent = 2 * cfg.d + cfg.d // 2 + 1  # two and a half vectors
    before, got = [], []

    async def drive(ctx):
        for payload in junk[:sent]:
            await stream_put(ctx, dut.i, payload)
        await rotation.reset_then_send(ctx, dut, cd, state, beats(cfg, x, neg))

    take = rotation.take_around_reset(dut, state, before, got, len(x) * cfg.beats, 0.5,
                                      tail=dut.latency + 2 * cfg.d)
    run(top, drive, take, deadline_cycles=40 * cfg.d + 2000)
    assert state["pending"], "test set-up: want an output pending at reset"
    assert 0 < len(before) < 2 * cfg.d, "test set-up: want a vector partly out at reset"
    done = len(before) // cfg.d
    check(cfg, expected(junk_x[:done], junk_neg[:done]), before[:done * cfg.d])
    partial = expected(junk_x[done:done + 1], junk_neg[done:done + 1])[0]
    assert [b[0] for b in before[done * cfg.d:]] == partial[:len(before) % cfg.d].tolist()
    check(cfg, expected(x, neg), got)


def test_serial_fwht_matches_fixed_model():
    """The neg bits are the sign ROM's ``s == -1``: same result as FixedModel.rotate."""
    cfg = AxelramConfig(d=16, b=3, lanes=1, layers=3, in_width=10)
    rotation.check_against_fixed_model(SerialFWHT(cfg), cfg, tail=60, deadline_cycles=4000)


def test_serial_fwht_rejects_lanes():
    with pytest.raises(ValueError, match=r"^SerialFWHT needs lanes=1 \(one coordinate per "
                                         r"beat\), not lanes=2; use SignFlipFWHT$"):
        SerialFWHT(AxelramConfig(d=8, b=3, lanes=2))
    with pytest.raises(TypeError, match=r"^cfg must be an AxelramConfig, not 1$"):
        SerialFWHT(1)


@needs_verilator
@pytest.mark.parametrize("name", ["d8_w24", "d128_w16"])
def test_serial_fwht_lints(tmp_path, name):
    """Verilator ``-Wall`` with the documented waivers only."""
    top = f"serial_fwht_{name}"
    (tmp_path / f"{top}.v").write_text(verilog.convert(SerialFWHT(config(name)), name=top,
                                                       emit_src=False))
    rc, issues, out = lint(f"{top}.v", top, tmp_path)
    assert rc == 0 and not issues, out[:4000]
