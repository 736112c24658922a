"""cocotb throughput probe of the macro for bench/sim_speed.py (not part of the regression).

Writes ``AXELRAM_SPEED_KEYS`` keys back to back (no stalls), then ``AXELRAM_SPEED_QUERIES``
queries scoring every slot, timing each phase in wall-clock seconds; the scores are then checked
against the golden model (outside the timed part) and the figures written as JSON to
``AXELRAM_SPEED_OUT``.
"""

import json
import os
import time

import cocotb
import numpy as np

from golden.fixed import FixedModel

from . import env, vectors
from .streams import StreamSink, StreamSource
from .tb import TB


@cocotb.test(timeout_time=10, timeout_unit="sec")
async def throughput(dut):
    desc = env.description("macro")
    tb = TB(dut, desc, pause="none")
    cfg, model = tb.cfg, FixedModel(desc.config, desc.signs)
    n_keys = int(os.environ.get("AXELRAM_SPEED_KEYS", cfg.t))
    n_queries = int(os.environ.get("AXELRAM_SPEED_QUERIES", 4))
    assert n_keys % cfg.t == 0, "the key count must be a multiple of t"
    write = StreamSource(dut, "write", dut.clk, tb.codec("write__payload"))
    query = StreamSource(dut, "query", dut.clk, tb.codec("query__payload"))
    sink = StreamSink(dut, "score", dut.clk, tb.codec("score__payload"), reset=dut.rst)
    tb.sources = [write, query]
    await tb.reset()
    rng = np.random.default_rng(1)
    keys, queries = vectors.gaussian(cfg, rng, n_keys), vectors.gaussian(cfg, rng, n_queries)
    p = cfg.lanes

    def beats(vec, side, name):
        return [{name: vec[c * p:(c + 1) * p].tolist(), **side} for c in range(cfg.beats)]

    t0, c0 = time.perf_counter(), tb.cycle
    for n, key in enumerate(keys):
        for beat in beats(key, {"layer": 0, "slot": n % cfg.t}, "key"):
            write.send(beat)
    await tb.wait_until(lambda: write.idle, 100 * n_keys * cfg.beats + 1000, "the writes")
    t1, c1 = time.perf_counter(), tb.cycle
    for q in queries:
        for beat in beats(q, {"layer": 0, "first": 0, "count": cfg.t}, "query"):
            query.send(beat)
    n_scores = n_queries * cfg.t
    await tb.wait_until(lambda: sink.count >= n_scores, 100 * n_scores + 1000 * n_queries,
                        "the scores")
    t2, c2 = time.perf_counter(), tb.cycle

    stored = model.write(keys[-cfg.t:], 0)   # key n_keys - t + j is the last one in slot j
    want = []
    for q in queries:
        sc = model.score(model.query(q, 0), stored)
        want += [(int(m), int(e)) for m, e in zip(sc.mant, sc.exp, strict=True)]
    got = [(s["mant"], s["exp"]) for s in sink.received]
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert len(got) == n_scores and not bad, (
        f"{len(bad)} of {n_scores} scores differ; first at {bad[:1]}")
    out = {"keys": n_keys, "write_s": t1 - t0, "write_clocks": c1 - c0,
           "scores": n_scores, "score_s": t2 - t1, "score_clocks": c2 - c1}
    path = os.environ.get("AXELRAM_SPEED_OUT")
    if path:
        with open(path, "w") as f:
            json.dump(out, f)
