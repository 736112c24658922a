"""Front end (sign flip + FWHT): stream payloads, the golden reference and the check."""

import random

import numpy as np
from amaranth import ClockDomain, Module

from golden.fixed import FixedModel
from golden.fwht import fwht
from golden.signs import default_signs
from sim.vectors import fwht_vectors
from tests.support.streams import run, sink, source

__all__ = ["beats", "expected", "check", "reset_bench", "reset_then_send", "take_around_reset",
           "check_against_fixed_model"]


def beats(cfg, x, neg):
    """Stream payloads: ``beats`` per vector, ``{data, neg}`` with neg bit p for lane p."""
    p = cfg.lanes
    return [{"data": xv[c * p:(c + 1) * p].tolist(),
             "neg": sum(int(bit) << i for i, bit in enumerate(nv[c * p:(c + 1) * p]))}
            for xv, nv in zip(x, neg, strict=True) for c in range(cfg.beats)]


def expected(x, neg):
    return fwht(np.where(neg == 1, -x, x))


def check(cfg, want, got):
    got = np.array([[beat[p] for p in range(cfg.lanes)] for beat in got],
                   dtype=np.int64).reshape(-1, cfg.d)
    assert got.shape == want.shape, f"got {got.shape[0]} vectors, want {want.shape[0]}"
    bad = np.argwhere(got != want)
    assert not bad.size, (f"{len(bad)} coordinates differ; first: vector {bad[0][0]} "
                          f"coordinate {bad[0][1]}: got {got[tuple(bad[0])]}, "
                          f"want {want[tuple(bad[0])]}")


def reset_bench(dut, **state):
    """A top with ``dut`` and a ``sync`` domain whose reset the test drives: ``(top, domain,
    state)``, ``state`` starting as ``{"reset_done": False, "pending": None, **state}``."""
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    return top, cd, {"reset_done": False, "pending": None, **state}


async def reset_then_send(ctx, dut, cd, state, payloads):
    """One clock of reset with an output pending (``state["pending"]``), the unit empty after
    it, then ``payloads`` with random gaps; ``state["reset_done"]`` marks the reset."""
    state["pending"] = ctx.get(dut.o.valid)
    ctx.set(cd.rst, 1)
    await ctx.tick()  # one clock of reset is enough
    ctx.set(cd.rst, 0)
    assert not ctx.get(dut.o.valid)
    assert ctx.get(dut.i.ready)
    state["reset_done"] = True
    await source(dut.i, payloads, rng=random.Random(4), p_valid=0.6)(ctx)


def take_around_reset(dut, state, before, got, n_after, p_ready_before, tail):
    """Testbench: take output beats (``before``) with ``o.ready`` high at probability
    ``p_ready_before`` until the reset, then ``n_after`` beats into ``got``."""

    async def testbench(ctx):
        ready = random.Random(5)
        while True:
            ctx.set(dut.o.ready, ready.random() < p_ready_before)
            _, rst, valid, ok, payload = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                                dut.o.payload)
            if rst:
                break
            if valid and ok:
                before.append(payload)
        ctx.set(dut.o.ready, 0)
        while not state["reset_done"]:
            await ctx.tick()
        await sink(dut.o, n_after, got, rng=random.Random(6), p_ready=0.6, tail=tail)(ctx)
    return testbench


def check_against_fixed_model(dut, cfg, *, tail, deadline_cycles):
    """The neg bits are the sign ROM's ``s == -1`` (layers in turn): ``dut``'s output equals
    ``FixedModel.rotate``."""
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    x, _ = fwht_vectors(cfg, np.random.default_rng(3), 9)
    layers = np.arange(len(x)) % cfg.layers
    neg = (model.signs.signs[layers] == -1).astype(np.int64)
    want = np.stack([model.rotate(v, layer) for v, layer in zip(x, layers, strict=True)])
    got = []
    run(dut, source(dut.i, beats(cfg, x, neg), rng=random.Random(1), p_valid=0.6),
        sink(dut.o, len(x) * cfg.beats, got, rng=random.Random(2), p_ready=0.6, tail=tail),
        deadline_cycles=deadline_cycles)
    check(cfg, want, got)
