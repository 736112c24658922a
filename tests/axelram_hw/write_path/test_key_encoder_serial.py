"""SerialKeyEncoder (lanes = 1: the coordinate-serial encoder with the iterative norm and
threshold units where they keep up) against golden.fixed.FixedModel.write, bit for bit; the
fall-back rule, back-pressure, stream skew, back to back, latency, reset, lint."""

import random

import numpy as np
import pytest
from amaranth import Fragment, Signal
from amaranth.back import verilog
from amaranth.hdl import ResetInserter

from axelram_hw.write_path.factory import make_key_encoder
from axelram_hw.write_path.interface import norm_word_layout
from axelram_hw.write_path.norm_iterative import IterativeNormUnit
from axelram_hw.write_path.thresholds_iterative import IterativeThresholdUnit
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from tests.support.key_encoder import check, forked_source, run_encoder
from tests.support.keys import key_beats, make_keys
from tests.support.streams import run, sink, source
from tests.support.tools import lint, needs_verilator

SERIAL_CONFIGS = {
    "d128_b3": dict(d=128, b=3),
    "d128_b1": dict(d=128, b=1),
    "d128_b2": dict(d=128, b=2),
    "d128_b4": dict(d=128, b=4),
    "d64_b3": dict(d=64, b=3),
    "d128_b3_wide": dict(d=128, b=3, in_width=24, norm_mant=16, sqrt_mant=26, thr_frac=24),
    "d128_b3_coarse": dict(d=128, b=3, in_width=8, norm_mant=4, sqrt_mant=4, thr_frac=4),
    # the fallback rule (interval <= d), both sides of it:
    "d32_s13_t22": dict(d=32, b=3, sqrt_mant=13, thr_frac=22),     # norm interval = d
    "d32_s14_t22": dict(d=32, b=3, sqrt_mant=14, thr_frac=22),     # norm pipelined
    "d32_s8_t23": dict(d=32, b=3, sqrt_mant=8, norm_mant=8, thr_frac=23),  # thresholds = d
    "d32_s8_t24": dict(d=32, b=3, sqrt_mant=8, norm_mant=8, thr_frac=24),  # thresholds piped
    "d16_b4": dict(d=16, b=4),                                     # both pipelined
    "d8_b1": dict(d=8, b=1),
}


#: (serial norm, serial thresholds) by the rule ``interval <= d``.
SERIAL_RULE = {
    "d128_b3": (True, True), "d128_b1": (True, False), "d128_b2": (True, True),
    "d128_b4": (True, True), "d64_b3": (True, True), "d128_b3_wide": (True, True),
    "d128_b3_coarse": (True, True), "d32_s13_t22": (True, False), "d32_s14_t22": (False, False),
    "d32_s8_t23": (True, True), "d32_s8_t24": (True, False), "d16_b4": (False, False),
    "d8_b1": (False, False),
}


def serial_config(name, **kw):
    return AxelramConfig(lanes=1, **SERIAL_CONFIGS[name], **kw)


@pytest.mark.parametrize("name", SERIAL_CONFIGS)
def test_serial_encoder_fallback_rule(name):
    """Iterative units where their interval fits in d clocks, the pipelined ones elsewhere."""
    cfg = serial_config(name)
    dut = make_key_encoder(cfg)
    serial = dut
    assert (serial.iterative_norm, serial.iterative_thresholds) == SERIAL_RULE[name]
    assert serial.iterative_norm == (IterativeNormUnit.interval_of(cfg) <= cfg.d)
    if cfg.b > 1:
        assert serial.iterative_thresholds == (IterativeThresholdUnit.interval_of(cfg) <= cfg.d)
    norm = type(serial._norm).__name__
    assert norm == ("IterativeNormUnit" if serial.iterative_norm else "NormUnit")
    Fragment.get(dut, None)  # elaborates


@pytest.mark.parametrize("antisymmetric", [True, False], ids=["anti", "full"])
@pytest.mark.parametrize("name", SERIAL_CONFIGS)
def test_serial_encoder_bit_exact(name, antisymmetric):
    cfg = serial_config(name, antisymmetric=antisymmetric)
    keys = make_keys(cfg, np.random.default_rng(sum(map(ord, name))),
                     n_random=4 if cfg.d >= 64 else 16)
    got = run_encoder(cfg, keys, seed=7 + antisymmetric)
    check(cfg, keys, got)


@pytest.mark.parametrize("p", [0.3, 0.9])
def test_serial_encoder_heavy_back_pressure(p):
    """Every stream nearly always stalled, or nearly never (keys of every kind)."""
    cfg = serial_config("d128_b3")
    keys = make_keys(cfg, np.random.default_rng(8), n_random=2)
    got = run_encoder(cfg, keys, seed=int(10 * p), p=p)
    check(cfg, keys, got)


@pytest.mark.parametrize("key_delay,u_delay", [(0, 600), (600, 0)], ids=["u_late", "u_early"])
@pytest.mark.parametrize("name", ["d128_b3", "d32_s8_t24"])
def test_serial_encoder_stream_skew(name, key_delay, u_delay):
    """Either input stream may run far ahead of the other (several keys)."""
    cfg = serial_config(name)
    keys = make_keys(cfg, np.random.default_rng(11), n_random=4)
    got = run_encoder(cfg, keys, seed=3, p=0.9, key_delay=key_delay, u_delay=u_delay)
    check(cfg, keys, got)


@pytest.mark.parametrize("name", SERIAL_CONFIGS)
def test_serial_encoder_back_to_back(name):
    """Keys and u forked from one source, never stalled: one output beat per clock and one
    key per d clocks, the first output ``latency`` clocks after the first key's last beat."""
    cfg = serial_config(name)
    dut = make_key_encoder(cfg)
    keys = make_keys(cfg, np.random.default_rng(2), n_random=4 if cfg.d >= 64 else 12)
    u = FixedModel(cfg).rotate(keys, 0)
    got, stamps = [], []
    n = len(keys) * cfg.beats

    async def timed_sink(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        while len(got) < n:
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid:
                got.append(payload)
                stamps.append(cycle)

    run(dut, forked_source([dut.key, dut.u], [key_beats(cfg, keys), key_beats(cfg, u)]),
        timed_sink, deadline_cycles=n + 4 * dut.latency + 100)
    check(cfg, keys, got)
    assert stamps[0] == dut.latency + cfg.beats, "first output later than the derived latency"
    assert stamps[-1] - stamps[0] == n - 1, "gaps in a back-to-back stream"
    assert dut.u_depth >= cfg.d + dut.latency - 2


def test_serial_encoder_latency_formula():
    cfg = serial_config("d128_b3")
    dut = make_key_encoder(cfg)
    norm = IterativeNormUnit(cfg)
    thresholds = IterativeThresholdUnit(cfg, norm_word_layout(cfg))
    assert dut.latency == norm.latency + thresholds.latency + 3 == 87
    assert dut.u_depth == 256
    b1 = make_key_encoder(serial_config("d128_b1"))
    b1_norm = IterativeNormUnit(b1.cfg)
    assert b1.latency == b1_norm.latency + 3
    for block in (dut, b1, norm, thresholds, b1_norm):
        Fragment.get(block, None)  # elaborates


def test_serial_encoder_reset_mid_traffic():
    """A reset with keys half-written on both streams: the keys after it come out right."""
    cfg = serial_config("d64_b3")
    rng = np.random.default_rng(9)
    before = make_keys(cfg, rng, n_random=6)[8:13]
    after = make_keys(cfg, rng, n_random=2)
    model = FixedModel(cfg)
    rst = Signal()
    dut = make_key_encoder(cfg)
    top = ResetInserter(rst)(dut)
    phase = {"done": 0, "reset": False}
    got, pre_got = [], []

    def counted(testbench):
        async def wrapper(ctx):
            await testbench(ctx)
            phase["done"] += 1
        return wrapper

    def after_reset(testbench):
        async def wrapper(ctx):
            while not phase["reset"]:
                await ctx.tick()
            await testbench(ctx)
        return wrapper

    # Before: 3.5 keys on `key`, 2.25 keys of `u`, only the first key's beats taken.
    n_key, n_u = 3 * cfg.beats + cfg.beats // 2, 2 * cfg.beats + cfg.beats // 4

    async def controller(ctx):
        while phase["done"] < 3:
            await ctx.tick()
        await ctx.tick().repeat(2 * dut.latency)  # thresholds and roots busy, FIFO full
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        phase["reset"] = True

    n = len(after) * cfg.beats
    run(top,
        counted(source(dut.key, key_beats(cfg, before)[:n_key], rng=random.Random(1),
                       p_valid=0.9)),
        counted(source(dut.u, key_beats(cfg, model.rotate(before, 0))[:n_u],
                       rng=random.Random(2), p_valid=0.9)),
        counted(sink(dut.o, cfg.beats, pre_got, rng=random.Random(3), p_ready=0.9)),
        controller,
        after_reset(source(dut.key, key_beats(cfg, after), rng=random.Random(4), p_valid=0.6)),
        after_reset(source(dut.u, key_beats(cfg, model.rotate(after, 0)), rng=random.Random(5),
                           p_valid=0.6)),
        after_reset(sink(dut.o, n, got, rng=random.Random(6), p_ready=0.6,
                         tail=dut.latency + 2 * cfg.beats)),
        deadline_cycles=20 * n + 20 * dut.latency + 500)
    check(cfg, before[:1], pre_got)
    check(cfg, after, got)


@needs_verilator
@pytest.mark.parametrize("name", ["d128_b3", "d128_b1", "d32_s8_t24", "d16_b4"])
@pytest.mark.parametrize("antisymmetric", [True, False], ids=["anti", "full"])
def test_serial_encoder_lints(tmp_path, name, antisymmetric):
    """Verilator ``-Wall`` with the documented waivers only."""
    top = f"key_encoder_{name}"
    dut = make_key_encoder(serial_config(name, antisymmetric=antisymmetric))
    (tmp_path / f"{top}.v").write_text(verilog.convert(dut, name=top, emit_src=False))
    rc, issues, out = lint(f"{top}.v", top, tmp_path)
    assert rc == 0 and not issues, out[:4000]
