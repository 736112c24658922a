"""cocotb tests of the generated FWHT block (run by tests/sim/test_cocotb_blocks.py)."""

import cocotb
import numpy as np

from . import env
from .pause import make_pause
from .streams import StreamMonitor, read_bit
from .tb import Timeout
from .tb_fwht import FwhtTB
from .vectors import fwht_vectors

# Backstop only; every wait in the testbench has its own clock limit.
TIMEOUT = dict(timeout_time=20, timeout_unit="ms")


def count(cfg):
    return 16 if cfg.lanes >= 64 else 40


async def start(dut, name, **kwargs):
    tb = FwhtTB(dut, env.description("fwht"), seed=env.seed(name), **kwargs)
    await tb.reset()
    return tb, np.random.default_rng(tb.seed)


@cocotb.test(**TIMEOUT)
async def random_handshake(dut):
    """Random vectors and extremes, random valid/ready gaps on both sides."""
    tb, rng = await start(dut, "random_handshake")
    for x, neg in zip(*fwht_vectors(tb.cfg, rng, count(tb.cfg)), strict=True):
        tb.send(x, neg)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def heavy_backpressure(dut):
    """Long bursts of stalls (70 % of the clocks) on both sides."""
    tb, rng = await start(dut, "heavy_backpressure", pause="burst", p_pause=0.7)
    for x, neg in zip(*fwht_vectors(tb.cfg, rng, count(tb.cfg) // 2), strict=True):
        tb.send(x, neg)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def one_beat_per_clock(dut):
    """No stalls: one beat per clock on both sides, and the JSON's ``timing.latency`` holds."""
    tb, rng = await start(dut, "one_beat_per_clock", pause="none")
    x, neg = fwht_vectors(tb.cfg, rng, count(tb.cfg) // 2)
    stamps = {"i": [], "o": []}

    def stamp(name):
        return lambda _item: stamps[name].append(tb.cycle)

    StreamMonitor(dut, "i", dut.clk, tb.codec("i__payload"), reset=dut.rst).add_callback(
        stamp("i"))
    tb.sink.monitor.add_callback(stamp("o"))
    for xv, nv in zip(x, neg, strict=True):
        tb.send(xv, nv)
    await tb.finish()
    n = len(x) * tb.cfg.beats
    i, o = stamps["i"], stamps["o"]
    assert len(i) == n, (len(i), n, tb.src.sent, len(o))
    assert i == list(range(i[0], i[0] + n)), f"input stalled: transfers at clocks {i}"
    assert o == list(range(o[0], o[0] + n)), f"gaps in the output: transfers at clocks {o}"
    latency = o[-1] - i[-1]
    assert latency == tb.desc.timing["latency"], (
        f"last beat in to last beat out: {latency} clocks, the description says "
        f"{tb.desc.timing['latency']}")


@cocotb.test(**TIMEOUT)
async def reset_mid_traffic(dut):
    """Reset while the input is stalled with vectors inside; the next vectors are exact and
    nothing from before the reset comes out after it."""
    tb, rng = await start(dut, "reset_mid_traffic", p_pause=0.5)
    junk_x, junk_neg = fwht_vectors(tb.cfg, rng, 6)
    for x, neg in zip(junk_x, junk_neg, strict=True):
        tb.send(x, neg)
    tb.sink.pause = iter(lambda: True, None)  # stop taking: the pipeline fills up
    await tb.wait_until(lambda: tb.src.sent >= tb.cfg.beats
                        and not read_bit(dut.i__ready, "i__ready"), 2000,
                        "the FWHT input to stall")
    before = tb.sink.count
    await tb.reset()
    tb.sink.pause = make_pause("random", tb.seed + 5, 0.3)
    x, neg = fwht_vectors(tb.cfg, rng, 8)
    for xv, nv in zip(x, neg, strict=True):
        tb.send(xv, nv)
    await tb.finish()
    assert tb.scoreboard.dropped > 0, "test set-up: the reset dropped nothing"
    assert tb.sink.count - before == len(x) * tb.cfg.beats


@cocotb.test(**TIMEOUT)
async def watchdog_stops_a_stuck_output(dut):
    """The testbench's own watchdog: with the output never taken (as if the DUT were stuck),
    ``finish`` fails after its clock limit with the progress counters, instead of hanging."""
    tb, rng = await start(dut, "watchdog_stops_a_stuck_output", pause="none")
    tb.sink.pause = iter(lambda: True, None)
    x, neg = fwht_vectors(tb.cfg, rng, 5)
    for n in range(2):
        tb.send(x[n], neg[n])
    try:
        await tb.finish(max_clocks=300)
    except Timeout as exc:
        message = str(exc)
    else:
        raise AssertionError("finish() returned although no output was ever taken")
    assert message.startswith("timeout after 300 clocks waiting for the FWHT output"), message
    assert f"{2 * tb.cfg.beats} missing" in message, message
