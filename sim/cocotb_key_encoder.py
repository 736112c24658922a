"""cocotb tests of the generated key encoder block (run by tests/sim/test_cocotb_blocks.py)."""

import cocotb
import numpy as np

from golden.fixed import FixedModel

from . import env, vectors
from .streams import StreamMonitor
from .tb_key_encoder import KeyEncoderTB

# Backstop only; every wait in the testbench has its own clock limit.
TIMEOUT = dict(timeout_time=20, timeout_unit="ms")


async def start(dut, name, **kwargs):
    tb = KeyEncoderTB(dut, env.description("key_encoder"), seed=env.seed(name), **kwargs)
    await tb.reset()
    return tb, np.random.default_rng(tb.seed), FixedModel(tb.cfg)


@cocotb.test(**TIMEOUT)
async def rotated_keys(dut):
    """Special keys (zero, most-negative everywhere, single non-zero coordinates, small
    integers), outlier channels and Gaussian keys at varied scales, with their true rotation
    ``u = FWHT(s * k)``."""
    tb, rng, model = await start(dut, "rotated_keys")
    cfg = tb.cfg
    keys = np.concatenate([vectors.special_keys(cfg, rng), vectors.outliers(cfg, rng, 2),
                           vectors.gaussian(cfg, rng, 12 if cfg.lanes < 64 else 4)])
    for key, u in zip(keys, model.rotate(keys, 0), strict=True):
        tb.send(key, u)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def on_thresholds(dut):
    """``u`` on, just above and just below every norm-scaled threshold of its key."""
    tb, rng, _ = await start(dut, "on_thresholds")
    for key in np.concatenate([vectors.gaussian(tb.cfg, rng, 6), vectors.outliers(tb.cfg, rng, 2)]):
        tb.send(key, vectors.on_threshold_u(tb.cfg, key, rng))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def stream_skew(dut):
    """Either input may run far ahead of the other (one held for 150 clocks)."""
    tb, rng, model = await start(dut, "stream_skew")
    for held in (tb.u_src, tb.key_src):
        keys = vectors.gaussian(tb.cfg, rng, 6)
        held.hold = True
        for key, u in zip(keys, model.rotate(keys, 0), strict=True):
            tb.send(key, u)
        await tb.clocks(150)
        held.hold = False
        await tb.finish()


@cocotb.test(**TIMEOUT)
async def one_beat_per_clock(dut):
    """No stalls on any stream: after the first, one output beat per clock."""
    tb, rng, model = await start(dut, "one_beat_per_clock", pause="none")
    stamps = []
    tb.sink.monitor.add_callback(lambda _beat: stamps.append(tb.cycle))
    keys = vectors.gaussian(tb.cfg, rng, 16)
    for key, u in zip(keys, model.rotate(keys, 0), strict=True):
        tb.send(key, u)
    await tb.finish()
    n = len(keys) * tb.cfg.beats
    assert stamps == list(range(stamps[0], stamps[0] + n)), (
        f"gaps in a back-to-back stream: {n} beats over {stamps[-1] - stamps[0] + 1} clocks")


@cocotb.test(**TIMEOUT)
async def reset_mid_traffic(dut):
    """A reset with keys half-sent on both streams and outputs pending; the keys after it are
    exact and nothing from before comes out."""
    tb, rng, model = await start(dut, "reset_mid_traffic", p_pause=0.5)
    keys = vectors.gaussian(tb.cfg, rng, 6)
    for key, u in zip(keys, model.rotate(keys, 0), strict=True):
        tb.send(key, u)
    seen = StreamMonitor(dut, "key", dut.clk, tb.codec("key__payload"), reset=dut.rst)
    await tb.wait_until(lambda: seen.count > tb.cfg.beats and tb.scoreboard.outstanding, 2000,
                        "keys in flight before the reset")
    await tb.reset()
    assert tb.scoreboard.dropped > 0, "test set-up: nothing in flight at the reset"
    keys = vectors.gaussian(tb.cfg, rng, 6)
    for key, u in zip(keys, model.rotate(keys, 0), strict=True):
        tb.send(key, u)
    await tb.finish()
