"""cocotb tests of the generated AXELRAM macro (run by tests/sim/test_cocotb_macro.py).

Every test runs with seeded random back-pressure on all three streams (unless it says
otherwise), checks every score bit for bit against the golden model, and ends with no score
left over and none extra.
"""

import cocotb
import numpy as np

from . import env, vectors
from .pause import make_pause
from .tb_macro import MacroTB

# Backstop only; every wait in the testbench has its own clock limit.
TIMEOUT = dict(timeout_time=200, timeout_unit="ms")


async def start(dut, name, **kwargs):
    tb = MacroTB(dut, env.description("macro"), seed=env.seed(name), **kwargs)
    await tb.reset()
    if await tb.make_known():
        cocotb.log.warning("an earlier test left the index store unknown: slots rewritten")
    return tb, np.random.default_rng(tb.seed)


def n_queries(cfg):
    return 4 if cfg.d >= 64 else 6


def signs(tb, layer=0):
    return tb.model.signs.signs[layer]


@cocotb.test(**TIMEOUT)
async def gaussian_fill_all(dut):
    """Score everything before writing (never-written slots score 0 in a fresh simulator),
    fill all T slots in random order, score them all, then partial ranges."""
    tb, rng = await start(dut, "gaussian_fill_all")
    cfg = tb.cfg
    tb.query(vectors.gaussian(cfg, rng, 1)[0], 0, cfg.t)
    await tb.accepted(tb.query_src)
    keys = vectors.gaussian(cfg, rng, cfg.t)
    for slot, key in zip(rng.permutation(cfg.t), keys, strict=True):
        tb.write(key, int(slot))
    await tb.accepted(tb.write_src)
    for q in vectors.gaussian(cfg, rng, n_queries(cfg)):
        tb.query(q, 0, cfg.t)
    for q in vectors.gaussian(cfg, rng, 2):
        first = int(rng.integers(cfg.t))
        tb.query(q, first, int(rng.integers(1, cfg.t - first + 1)))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def outliers_huge_norms(dut):
    """Keys with a few channels 100x (Qwen2.5 layer-0 style) at full scale; outlier and
    Gaussian queries."""
    tb, rng = await start(dut, "outliers_huge_norms")
    cfg = tb.cfg
    for slot, key in enumerate(vectors.outliers(cfg, rng, cfg.t)):
        tb.write(key, slot)
    await tb.accepted(tb.write_src)
    for q in np.concatenate([vectors.outliers(cfg, rng, 2), vectors.gaussian(cfg, rng, 2)]):
        tb.query(q, 0, cfg.t)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def zero_and_extremes(dut):
    """Zero and maximum-magnitude keys and queries; count = 0 (no score), ranges running past
    T (out-of-bounds scores), single slots."""
    tb, rng = await start(dut, "zero_and_extremes")
    cfg = tb.cfg
    ext = vectors.extremes(cfg, signs(tb))
    slots = rng.choice(cfg.t, size=len(ext), replace=False)
    for slot, key in zip(slots, ext, strict=True):
        tb.write(key, int(slot))
    await tb.accepted(tb.write_src)
    for q in ext:
        tb.query(q, 0, cfg.t)
    tb.query(ext[3], 0, 0)
    tb.query(ext[1], cfg.t - 1, cfg.t)              # one in range, t - 1 out of bounds
    tb.query(ext[2], int(slots[0]), 1)
    tb.query(vectors.gaussian(cfg, rng, 1)[0], cfg.t // 2, 0)
    tb.query(ext[3], int(slots[3]), 1)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def on_threshold(dut):
    """Keys with a rotated coordinate exactly on (and one above) a norm-scaled threshold
    (floor and ceil of x_j, both signs, every j), in two groups sharing a coordinate each; a
    probe query per group makes each score depend on that coordinate's index only."""
    tb, rng = await start(dut, "on_threshold")
    cfg = tb.cfg
    per_group = min(cfg.t // 2, 4 * max(1, cfg.half_levels - 1))
    coords = rng.choice(cfg.d, size=2, replace=False)
    slots = iter(rng.permutation(cfg.t))
    for coord in coords:
        keys, at = vectors.on_threshold_keys(cfg, signs(tb), rng, per_group, coord=int(coord))
        vectors.check_on_threshold(cfg, keys, at, signs(tb))
        for key in keys:
            tb.write(key, int(next(slots)))
    await tb.accepted(tb.write_src)
    for probe in vectors.probe_queries(cfg, signs(tb), coords):
        tb.query(probe, 0, cfg.t)
    tb.query(vectors.gaussian(cfg, rng, 1)[0], 0, cfg.t)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def interleaved(dut):
    """Writes and queries at the same time on both streams: random slots (rewrites too),
    random ranges; a score may see later writes (the DUT's contract), never older ones."""
    tb, rng = await start(dut, "interleaved")
    cfg = tb.cfg
    for slot, key in enumerate(vectors.gaussian(cfg, rng, cfg.t)):
        tb.write(key, slot)
    for key in vectors.gaussian(cfg, rng, 2 * cfg.t):
        tb.write(key, int(rng.integers(cfg.t)))
    for q in vectors.gaussian(cfg, rng, 2 * n_queries(cfg)):
        first = int(rng.integers(cfg.t))
        tb.query(q, first, int(rng.integers(0, cfg.t + 1)))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def layers(dut):
    """Keys and queries of every sign-ROM layer, mixed."""
    tb, rng = await start(dut, "layers")
    cfg = tb.cfg
    for slot, key in enumerate(vectors.gaussian(cfg, rng, cfg.t)):
        tb.write(key, slot, layer=int(rng.integers(cfg.layers)))
    await tb.accepted(tb.write_src)
    for layer in range(cfg.layers):
        for q in vectors.gaussian(cfg, rng, 2):
            tb.query(q, 0, cfg.t, layer=layer)
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def side_fields_first_beat(dut):
    """``layer``/``slot``/``first``/``count`` count on a vector's first beat only: the other
    beats carry random values in those fields (valid layers included)."""
    tb, rng = await start(dut, "side_fields_first_beat", junk=True)
    cfg = tb.cfg
    for slot, key in enumerate(vectors.gaussian(cfg, rng, cfg.t)):
        tb.write(key, slot, layer=int(rng.integers(cfg.layers)))
    await tb.accepted(tb.write_src)
    for q in vectors.gaussian(cfg, rng, n_queries(cfg)):
        first = int(rng.integers(cfg.t))
        tb.query(q, first, int(rng.integers(1, cfg.t + 1)), layer=int(rng.integers(cfg.layers)))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def heavy_backpressure(dut):
    """Long bursts of stalls (70 % of the clocks) on all three streams."""
    tb, rng = await start(dut, "heavy_backpressure", pause="burst", p_pause=0.7)
    cfg = tb.cfg
    for key in vectors.gaussian(cfg, rng, cfg.t):
        tb.write(key, int(rng.integers(cfg.t)))
    await tb.accepted(tb.write_src)
    for q in vectors.gaussian(cfg, rng, n_queries(cfg)):
        first = int(rng.integers(cfg.t))
        tb.query(q, first, int(rng.integers(1, cfg.t + 1)))
    await tb.finish()


@cocotb.test(**TIMEOUT)
async def full_rate_writes(dut):
    """No stalls and no queries: keys are taken one beat per clock."""
    tb, rng = await start(dut, "full_rate_writes", pause="none")
    cfg = tb.cfg
    stamps = []
    tb.write_mon.add_callback(lambda _beat: stamps.append(tb.cycle))
    for slot, key in enumerate(vectors.gaussian(cfg, rng, cfg.t)):
        tb.write(key, slot)
    await tb.accepted(tb.write_src)
    tb.query(vectors.gaussian(cfg, rng, 1)[0], 0, cfg.t)
    await tb.finish()
    n = cfg.t * cfg.beats
    assert len(stamps) == n, f"{len(stamps)} write beats seen, {n} sent"
    assert stamps == list(range(stamps[0], stamps[0] + n)), (
        f"the write stream stalled: {n} beats took {stamps[-1] - stamps[0] + 1} clocks")


@cocotb.test(**TIMEOUT)
async def reset_mid_traffic(dut):
    """Reset with writes, queries and scores in flight. After it: slots written before (and
    fenced) keep their contents, nothing from before comes out, fresh traffic is exact."""
    tb, rng = await start(dut, "reset_mid_traffic")
    cfg = tb.cfg
    half = cfg.t // 2
    for slot, key in enumerate(vectors.gaussian(cfg, rng, half)):
        tb.write(key, slot)
    await tb.accepted(tb.write_src)
    tb.query(vectors.gaussian(cfg, rng, 1)[0], 0, cfg.t)    # fences these writes
    await tb.settle()
    # Busy traffic on every stream, the sink slow; once scores flow, more writes, and a reset
    # while they and the rest of the scores are in flight.
    tb.sink.pause = make_pause("random", tb.seed + 3, 0.8)
    scores0 = tb.sink.count
    for key in vectors.gaussian(cfg, rng, half):
        tb.write(key, int(half + rng.integers(cfg.t - half)))
    for q in vectors.gaussian(cfg, rng, 3):
        tb.query(q, 0, cfg.t)
    await tb.wait_until(lambda: tb.sink.count > scores0 and tb.scoreboard.outstanding > 0,
                        4 * tb._budget, "the first scores before the reset")
    writes0 = tb.writes_seen
    for key in vectors.gaussian(cfg, rng, cfg.t):
        tb.write(key, int(half + rng.integers(cfg.t - half)))
    await tb.wait_until(lambda: tb.writes_seen > writes0, 4 * tb._budget,
                        "writes accepted before the reset")
    await tb.reset()
    assert tb.scoreboard.dropped > 0 and tb.store.uncertain_slots(), (
        "test set-up: no scores or writes in flight at the reset")
    tb.sink.pause = make_pause("random", tb.seed + 4, 0.3)
    # The untouched first half kept its contents; the rest may hold either version.
    tb.query(vectors.gaussian(cfg, rng, 1)[0], 0, half)
    await tb.accepted(tb.query_src)
    uncertain = tb.store.uncertain_slots()
    for slot in uncertain:
        tb.write(vectors.gaussian(cfg, rng, 1)[0], slot)
    await tb.accepted(tb.write_src)
    for q in vectors.gaussian(cfg, rng, 2):
        tb.query(q, 0, cfg.t)
    await tb.finish()
    assert not tb.store.uncertain_slots()
