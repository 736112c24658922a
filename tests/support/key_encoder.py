"""Key encoder: the golden reference (FixedModel.write per output beat), the check, and a run
with seeded random valid/ready on all three streams."""

import random

import numpy as np
from amaranth import Cat

from axelram_hw.write_path.factory import make_key_encoder
from golden.fixed import FixedModel
from tests.support.keys import key_beats
from tests.support.streams import run, sink, source

__all__ = ["expected", "check", "delayed", "run_encoder", "forked_source"]


def expected(cfg, keys):
    """Per output beat: indices (beats*N, lanes), mant and exp (beats*N,)."""
    stored = FixedModel(cfg).write(keys)
    idx = stored.idx.astype(np.int64).reshape(-1, cfg.lanes)
    return idx, np.repeat(stored.mant, cfg.beats), np.repeat(stored.exp, cfg.beats)


def check(cfg, keys, got):
    idx, mant, exp = expected(cfg, keys)
    assert len(got) == len(idx)
    got_idx = np.array([list(g.idx) for g in got], dtype=np.int64)
    got_norm = np.array([[g.mant, g.exp] for g in got], dtype=np.int64)
    bad = np.argwhere(got_idx != idx)
    assert not bad.size, (f"{len(bad)} indices differ; first at (beat, lane) {tuple(bad[0])}: "
                          f"got {got_idx[tuple(bad[0])]}, want {idx[tuple(bad[0])]}")
    want_norm = np.stack([mant, exp], axis=-1)
    bad = np.flatnonzero(np.any(got_norm != want_norm, axis=-1))
    assert not bad.size, (f"{bad.size} norm words differ; first at beat {bad[0]}: got "
                          f"{got_norm[bad[0]].tolist()}, want {want_norm[bad[0]].tolist()}")


def delayed(cycles, testbench):
    async def wrapper(ctx):
        await ctx.tick().repeat(cycles) if cycles else None
        await testbench(ctx)
    return wrapper


def run_encoder(cfg, keys, *, seed, p=0.6, key_delay=0, u_delay=0, dut=None):
    """Send ``keys`` (and their rotations) through ``dut`` (default: ``make_key_encoder(cfg)``);
    return the output beats."""
    dut = make_key_encoder(cfg) if dut is None else dut
    u = FixedModel(cfg).rotate(keys, 0)
    got = []
    n = len(keys) * cfg.beats
    run(dut,
        delayed(key_delay, source(dut.key, key_beats(cfg, keys), rng=random.Random(seed),
                                  p_valid=p)),
        delayed(u_delay, source(dut.u, key_beats(cfg, u), rng=random.Random(seed + 1),
                                p_valid=p)),
        sink(dut.o, n, got, rng=random.Random(seed + 2), p_ready=p, tail=dut.latency + 20),
        deadline_cycles=(10 * n + 4 * dut.latency + key_delay + u_delay + 200))
    return got


def forked_source(streams, payload_lists):
    """Offer beat j of every list on its stream at once; beat j+1 only when all took beat j.

    This is how the macro feeds the encoder (a key beat goes to ``key`` and, through the FWHT,
    to ``u``): neither stream can run more than one beat ahead of the other.
    """
    async def testbench(ctx):
        for beat in zip(*payload_lists, strict=True):
            for stream, payload in zip(streams, beat, strict=True):
                ctx.set(stream.payload, payload)
                ctx.set(stream.valid, 1)
            pending = set(range(len(streams)))
            while pending:
                *_, readies = await ctx.tick().sample(Cat(*(s.ready for s in streams)))
                for i in list(pending):
                    if (readies >> i) & 1:
                        pending.discard(i)
                        ctx.set(streams[i].valid, 0)
    return testbench
