"""Simulation speed of the macro: keys written and keys scored per wall-clock second.

The same generated design in the Amaranth simulator, cocotb + Icarus and cocotb + Verilator:
N keys written back to back, then Q queries each scoring all T slots, no stalls; every score is
checked against the golden model afterwards (not timed). Build time (Amaranth: elaboration and
simulator set-up; Icarus: iverilog; Verilator: verilator + C++ at -O0, as the regression builds)
is reported separately; Verilog generation is not counted.

    .venv/bin/python bench/sim_speed.py             # prints the table, writes docs/sim-speed.md
    .venv/bin/python bench/sim_speed.py --only d16  # one design, no docs file
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from golden.config import AxelramConfig  # noqa: E402
from golden.fixed import FixedModel, to_fixed  # noqa: E402
from golden.signs import default_signs  # noqa: E402
from sim.runner import BUILD, Design, generate_design, simulator_missing  # noqa: E402

#: name -> (config, keys written, queries); keys are a multiple of t.
DESIGNS = {
    "d16": (AxelramConfig(d=16, b=3, t=256), 512, 4),
    "d128": (AxelramConfig(d=128, b=3, t=64), 128, 4),
}
#: Icarus on the 2 MB d=128 netlist (wide packed arrays) runs at about one key per second:
#: a smaller workload there (keys, queries).
SMALLER = {("d128", "icarus"): (64, 1)}
DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "sim-speed.md")


def workload(cfg, n_keys, n_queries):
    rng = np.random.default_rng(1)
    keys = np.array([to_fixed(rng.standard_normal(cfg.d), cfg)[0] for _ in range(n_keys)])
    queries = np.array([to_fixed(rng.standard_normal(cfg.d), cfg)[0] for _ in range(n_queries)])
    return keys, queries


def expected(cfg, keys, queries):
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    stored = model.write(keys[-cfg.t:], 0)
    out = []
    for q in queries:
        sc = model.score(model.query(q, 0), stored)
        out += [(int(m), int(e)) for m, e in zip(sc.mant, sc.exp, strict=True)]
    return out


def amaranth(cfg, n_keys, n_queries):
    """Amaranth's Python simulator, in this process."""
    from amaranth.sim import Simulator

    from axelram_hw.macro import AxelramMacro

    keys, queries = workload(cfg, n_keys, n_queries)
    p, beats = cfg.lanes, cfg.beats
    t0 = time.perf_counter()
    dut = AxelramMacro(cfg, default_signs(cfg.d, cfg.layers))
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    stamps, got = {}, []
    n_scores = n_queries * cfg.t

    async def put(ctx, stream, payload):
        ctx.set(stream.payload, payload)
        ctx.set(stream.valid, 1)
        await ctx.tick().until(stream.ready)

    async def driver(ctx):
        stamps["start"] = time.perf_counter()
        for n, key in enumerate(keys):
            for c in range(beats):
                await put(ctx, dut.write, {"key": key[c * p:(c + 1) * p].tolist(), "layer": 0,
                                           "slot": n % cfg.t})
        ctx.set(dut.write.valid, 0)
        stamps["written"] = time.perf_counter()
        for q in queries:
            for c in range(beats):
                await put(ctx, dut.query, {"query": q[c * p:(c + 1) * p].tolist(), "layer": 0,
                                           "first": 0, "count": cfg.t})
        ctx.set(dut.query.valid, 0)

    async def taker(ctx):
        ctx.set(dut.score.ready, 1)
        while len(got) < n_scores:
            _, _, valid, payload = await ctx.tick().sample(dut.score.valid, dut.score.payload)
            if valid:
                got.append((payload.mant, payload.exp))
        stamps["scored"] = time.perf_counter()

    sim.add_testbench(driver)
    sim.add_testbench(taker)
    sim.run()
    check(got, expected(cfg, keys, queries))
    return {"build_s": stamps["start"] - t0, "write_s": stamps["written"] - stamps["start"],
            "score_s": stamps["scored"] - stamps["written"], "keys": n_keys, "scores": n_scores}


def check(got, want):
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    if len(got) != len(want) or bad:
        raise AssertionError(f"{len(got)} scores, {len(bad)} differ from the golden model")


def cocotb(name, sim, cfg, n_keys, n_queries):
    """cocotb + Icarus or Verilator, through the regression's runner."""
    folder = BUILD / f"speed_{name}"
    verilog = generate_design(cfg, None, "macro", folder)
    design = Design(verilog, sim, folder / sim)
    build_s = design.build(fresh=True)
    out = folder / sim / "speed.json"
    out.unlink(missing_ok=True)
    results = design.run("sim.cocotb_speed", extra_env={
        "AXELRAM_SPEED_KEYS": str(n_keys), "AXELRAM_SPEED_QUERIES": str(n_queries),
        "AXELRAM_SPEED_OUT": str(out)})
    result = results["throughput"]
    if not result.passed:
        raise AssertionError(result.message)
    return {"build_s": build_s, **json.loads(out.read_text())}


def _rate(x):
    return f"{x:,.0f}" if x >= 10 else f"{x:.2f}"


def row(name, sim, r):
    if isinstance(r, str):
        return f"| {name} | {sim} | {r} | | | |"
    return (f"| {name} | {sim} | {r['build_s']:.1f} | {_rate(r['keys'] / r['write_s'])} | "
            f"{_rate(r['scores'] / r['score_s'])} | "
            f"{r['keys']} keys in {r['write_s']:.2f} s, {r['scores']} scores in "
            f"{r['score_s']:.2f} s |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=DESIGNS, help="one design only (no docs file)")
    args = ap.parse_args(argv)
    rows = []
    for name, (cfg, n_keys, n_queries) in DESIGNS.items():
        if args.only and name != args.only:
            continue
        label = f"d={cfg.d} b={cfg.b} T={cfg.t} (P={cfg.lanes})"
        for sim in ("amaranth", "icarus", "verilator"):
            keys, queries = SMALLER.get((name, sim), (n_keys, n_queries))
            if sim != "amaranth" and simulator_missing(sim):
                r = f"skipped: {simulator_missing(sim)}"
            else:
                print(f"{label} on {sim} ...", flush=True)
                r = (amaranth(cfg, keys, queries) if sim == "amaranth"
                     else cocotb(name, sim, cfg, keys, queries))
            rows.append(row(label, sim, r))
            print(rows[-1], flush=True)
    table = "\n".join(["| design | simulator | build (s) | keys written / s | keys scored / s "
                       "| measured |", "|---|---|---|---|---|---|", *rows])
    print("\n" + table)
    if not args.only:
        text = (
            "# Simulation speed\n\n"
            "Keys written and keys scored per wall-clock second for the same generated macro, "
            "with no stalls (write: N keys back to back; score: Q queries each scoring all T "
            "slots). Every score is checked against the golden model afterwards. cocotb figures "
            "include the Python testbench (stream drivers, a cycle counter); the Amaranth "
            "simulator runs in-process with its own testbench. Build = elaboration and "
            "simulator set-up (Amaranth), `iverilog` (Icarus), `verilator` + C++ at `-O0` "
            "(Verilator, as the regression builds it); Verilog generation is not counted. "
            "Icarus runs a smaller workload on d=128 (see the last column): it writes about one "
            "key per second there. Scoring includes each query's table build: fully parallel at "
            "d=128, 140 clocks between one query's last score and the next one's first "
            "(axelram_hw/read_path.py), more than the 64 scores themselves.\n\n"
            f"{table}\n\n"
            f"Measured on {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, with `.venv/bin/python bench/sim_speed.py`.\n")
        with open(DOC, "w") as f:
            f.write(text)
        print(f"\nwrote {os.path.normpath(DOC)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
