"""Sign-calibration benchmark: speed per layer, and the results on every real KV dump present.

1. Speed: a synthetic dump at d = 128 (4 layers, 2 KV heads, 8192 tokens: 2000-vector subsamples
   from 8192 fit-half keys; one layer with a large constant k_proj-like bias), 200 candidates,
   both objectives; per-layer wall time of the candidate sweep (file reading and writing
   excluded), best of ``--repeat`` runs.
2. Real dumps: every ``build/kv/*.safetensors`` (or ``--dumps``) is calibrated with both
   objectives, exactly as ``axelram calibrate`` does; the sign files go to
   ``build/calib/<dump>/signs-<objective>.json`` (with their .hex/.report.* siblings).

Prints the markdown and writes it to ``docs/calibration.md`` (``--out``), with the commands and
the machine.

    .venv/bin/python bench/calibrate_bench.py [--b 3] [--dumps build/kv/x.safetensors ...]
"""

import argparse
import glob
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from golden import calibrate as cal  # noqa: E402
from golden.kvdump import read_kv_dump  # noqa: E402


class _Dump:
    def __init__(self, meta, k):
        self.meta, self.k = meta, k


def synthetic_dump(d=128, layers=4, heads=2, tokens=8192, seed=0):
    rng = np.random.default_rng(seed)
    k = {}
    for i in range(layers):
        scale = rng.uniform(0.3, 2.0, d)
        k[i] = (rng.standard_normal((heads, tokens, d)) * scale).astype(np.float32)
    k[1] += (30 * rng.standard_normal(d)).astype(np.float32)   # Qwen2-like k_proj bias
    meta = {"model": "synthetic", "layers": str(layers), "kv_heads": str(heads),
            "head_dim": str(d), "tokens": str(tokens), "samples": "1", "format": "synthetic"}
    return _Dump(meta, k)


def machine():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{model}, {cpus} cores, Python {platform.python_version()}, NumPy {np.__version__}; "
            f"load average at start {load}")


def speed_section(args):
    dump = synthetic_dump()
    lines = ["## Speed (synthetic, d = 128, 200 candidates, 2000 vectors per layer)", "",
             "Wall time of one layer's candidate sweep with all threads of this machine, and "
             "its CPU time summed over the threads (best of "
             f"{args.repeat} runs; other jobs on the machine inflate the wall time, see the load "
             "average above):", "",
             "| objective | time | layer 0 | layer 1 (bias) | layer 2 | layer 3 | mean |",
             "|---|---|---:|---:|---:|---:|---:|"]
    out = {}
    for objective in cal.OBJECTIVES:
        best = cpu = None
        for _ in range(args.repeat):
            res = cal.calibrate(dump, args.b, 200, 2000, 0, objective, progress=False,
                                name="synthetic d=128")
            sec, c = np.array(res.seconds), np.array(res.cpu_seconds)
            best = sec if best is None else np.minimum(best, sec)
            cpu = c if cpu is None else np.minimum(cpu, c)
        out[objective] = best
        for label, t in (("wall", best), ("CPU", cpu)):
            lines.append(f"| {objective} | {label} | " + " | ".join(f"{s:.3f} s" for s in t)
                         + f" | {t.mean():.3f} s |")
    lines.append("")
    return lines, out


def _f(x, digits=4):
    return "–" if x is None else f"{x:.{digits}g}"


def dump_section(path, args):
    name = Path(path).stem
    dest = ROOT / "build" / "calib" / name
    start = time.perf_counter()
    dump = read_kv_dump(path)
    load = time.perf_counter() - start
    runs = {}
    for objective in cal.OBJECTIVES:
        out = dest / f"signs-{objective}.json"
        runs[objective] = cal.calibrate(dump, args.b, args.candidates, args.subsample, 0,
                                        objective, progress=True, name=Path(path).name)
        runs[objective].write(out)
    mse, score = runs["mse"].report, runs["score"].report
    data, g = mse["data"], mse["guideline"]
    agree = [a == b for a, b in zip(runs["mse"].signset.seeds, runs["score"].signset.seeds,
                                    strict=True)]
    sec = {k: np.array(v.seconds) for k, v in runs.items()}
    cpu = {k: np.array(v.cpu_seconds) for k, v in runs.items()}
    rel = Path(path).resolve().relative_to(ROOT) if Path(path).resolve().is_relative_to(ROOT) \
        else Path(path)
    lines = [
        f"## {Path(path).name}", "",
        f"Model: {mse['dump']['model']}  ",
        f"Text: {mse['dump']['text']}  ",
        f"{data['layers']} layers x {data['kv_heads']} KV heads, head_dim {data['head_dim']}, "
        f"{data['tokens_used']} tokens (fit half {data['fit_tokens']}, held-out half "
        f"{data['held_out_tokens']}); b = {args.b}, {args.candidates} candidates, subsample "
        f"{args.subsample}, seed 0. Dump loaded in {load:.1f} s.", "",
        "Commands (the bench calls the same library function):", "", "```",
        *(f".venv/bin/axelram calibrate --kv {rel} --b {args.b} --candidates {args.candidates} "
          f"--subsample {args.subsample} --objective {o} "
          f"--out build/calib/{name}/signs-{o}.json" for o in cal.OBJECTIVES),
        "```", "",
        f"**Paper's guideline:** layer-mean key-norm ratio {g['layer_mean_norm_ratio']:.3g} → "
        f"**{g['verdict']}**.", "",
        f"Sweep wall time per layer: mse {sec['mse'].mean():.3f} s (max "
        f"{sec['mse'].max():.3f} s), score {sec['score'].mean():.3f} s (max "
        f"{sec['score'].max():.3f} s); CPU time mse {cpu['mse'].mean():.3f} s, score "
        f"{cpu['score'].mean():.3f} s.", "",
        f"Objectives agree (same seed) on {sum(agree)} of {len(agree)} layers. Layers changed "
        f"from the default pattern: mse {mse['summary']['layers_changed']}, score "
        f"{score['summary']['layers_changed']}.", "",
        "mse = the paper's objective on the fit half (0.0345 = codebook MSE for isotropic "
        "keys); score = relative RMS score error on the held-out half. \"held-out score\" is the "
        "score error of the mse-chosen pattern on the held-out half (a generalisation check).", "",
        "| layer | ‖k‖ mean | ‖k‖ std | ‖k‖ max | max\\|k\\| | mse default | mse best (seed) | "
        "mse gain | held-out score: default → mse-chosen | score default | score best (seed) | "
        "same |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|:---:|",
    ]
    for rm, rs, same in zip(mse["layers"], score["layers"], agree, strict=True):
        nm = rm["norms"]
        hs = rm["check"]["score"]
        lines.append(
            f"| {rm['layer']} | {_f(nm['mean'])} | {_f(nm['std'])} | {_f(nm['max'])} | "
            f"{_f(nm['max_abs'])} | {_f(rm['default_objective'])} | "
            f"{_f(rm['best_objective'])} ({rm['best_seed']}) | "
            f"{100 * rm['improvement']:.1f} % | "
            f"{_f(hs['default']) if hs else '–'} → {_f(hs['best']) if hs else '–'} | "
            f"{_f(rs['default_objective'])} | {_f(rs['best_objective'])} ({rs['best_seed']}) | "
            f"{'yes' if same else 'no'} |")
    sm, ss = mse["summary"], score["summary"]
    held = [(r["layer"], r["check"]["score"]) for r in mse["layers"]]
    worse = [layer for layer, c in held if c and c["best"] > c["default"]]
    lines += ["",
              f"The mse-chosen pattern raises the held-out score error on {len(worse)} of "
              f"{len(agree)} layers" + (f" ({', '.join(map(str, worse))})." if worse else "."),
              "",
              f"Mean over layers: mse {_f(sm['mean_default_objective'])} → "
              f"{_f(sm['mean_best_objective'])}, worst layer {_f(sm['worst_default_objective'])} "
              f"→ {_f(sm['worst_best_objective'])}; score {_f(ss['mean_default_objective'])} → "
              f"{_f(ss['mean_best_objective'])}, worst layer "
              f"{_f(ss['worst_default_objective'])} → {_f(ss['worst_best_objective'])}.", ""]
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--b", type=int, default=3)
    p.add_argument("--candidates", type=int, default=200)
    p.add_argument("--subsample", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3, help="speed runs (best is reported)")
    p.add_argument("--dumps", nargs="*", default=None,
                   help="KV dumps (default: build/kv/*.safetensors)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "calibration.md")
    args = p.parse_args(argv)
    dumps = args.dumps if args.dumps is not None else sorted(
        glob.glob(str(ROOT / "build" / "kv" / "*.safetensors")))

    command = ".venv/bin/python bench/calibrate_bench.py" + (
        f" --b {args.b}" if args.b != 3 else "") + (
        f" --dumps {' '.join(args.dumps)}" if args.dumps is not None else "")
    lines = ["# Sign-pattern calibration: speed and real-model results", "",
             f"Produced by `{command}` (golden/calibrate.py; see its docstring for the method).  ",
             f"Machine: {machine()}.", ""]
    speed, _ = speed_section(args)
    lines += speed
    if not dumps:
        lines += ["No real KV dump found (build/kv/*.safetensors); only the synthetic speed test "
                  "ran.", ""]
    for path in dumps:
        lines += dump_section(path, args)
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from golden.signs import atomic_write_text

    atomic_write_text(args.out, text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
