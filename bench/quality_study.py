"""The paper's sign-seed study, redone with a standard perplexity protocol, plus baselines.

For each model (SmolLM2-135M, head_dim 64; Qwen2.5-Coder-1.5B, head_dim 128; both 4-bit GGUF):

1. AXELRAM (float model) with the default sign sets of seeds 0..9 at b = 2, 3, 4: ΔPPL over the
   fp16 cache (mean, std, median, worst);
2. AXELRAM with calibrated signs (golden.calibrate, the paper's MSE objective, on the wiki-calib
   KV dumps build/kv/<model>_calib.safetensors), evaluated on wiki-eval — better than the median
   default seed?
3. baselines at matched bits per key: TurboQuant-MSE b = 2/3/4, KIVI-2/4, SQuat-2/4, srft-int4;
   one bit-exact AXELRAM run (axelram-fixed, b = 3, seed 0) and calibration with our
   score objective as extras.

Protocol: golden/evaluation/ (non-overlapping windows of --ctx tokens of wiki-eval, every token
but each window's first scored once, keys quantised, values fp16). Results go to
build/quality/<model>.jsonl (one line per run, resumable: a rerun skips finished runs of the same
protocol), the report to docs/quality.md with PNG plots under docs/.

    .venv/bin/python bench/quality_study.py                 # the whole study (< 2 h, 2 cores)
    .venv/bin/python bench/quality_study.py --smoke         # < 60 s: SmolLM2, 2 seeds, b = 3
    .venv/bin/python bench/quality_study.py --report-only   # rewrite docs/quality.md
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

MODELS = ("smollm2", "qwen1.5b")
#: Default evaluation tokens per model (whole windows of --ctx); chosen so that the full study
#: (2 models x 45 runs) ends within 2 hours on 2 shared cores (docs/quality.md gives the times).
DEFAULT_TOKENS = {"smollm2": 6144, "qwen1.5b": 2048}
BASELINES = (("turboquant", 2), ("turboquant", 3), ("turboquant", 4), ("kivi", 2), ("kivi", 4),
             ("squat", 2), ("squat", 4), ("srft-int4", 4))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma list of models (default: %(default)s)")
    p.add_argument("--tokens-smollm2", type=int, default=DEFAULT_TOKENS["smollm2"], metavar="N")
    p.add_argument("--tokens-qwen", type=int, default=DEFAULT_TOKENS["qwen1.5b"], metavar="N")
    p.add_argument("--ctx", type=int, default=1024)
    p.add_argument("--seeds", type=int, default=10, help="default sign seeds 0..N-1")
    p.add_argument("--bits", default="2,3,4")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--out-dir", type=Path, default=ROOT / "build" / "quality")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "quality.md")
    p.add_argument("--smoke", action="store_true",
                   help="< 60 s check: SmolLM2, 2 x 128 tokens, 2 seeds, b = 3, one baseline; "
                        "writes under build/quality/smoke only")
    p.add_argument("--report-only", action="store_true", help="only rewrite the report")
    args = p.parse_args(argv)
    args.bits = [int(x) for x in args.bits.split(",") if x]
    args.models = [m for m in args.models.split(",") if m]
    args.candidates = 200
    if args.smoke:
        args.models, args.bits, args.seeds, args.ctx = ["smollm2"], [3], 2, 128
        args.tokens_smollm2 = 256
        args.out_dir = args.out_dir / "smoke"
        args.doc = args.out_dir / "quality.md"
        args.candidates = 16
    for m in args.models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; the study knows {', '.join(MODELS)}")
    return args


def tokens_for(args, model):
    return args.tokens_smollm2 if model == "smollm2" else args.tokens_qwen


def dump_path(model):
    return ROOT / "build" / "kv" / f"{model}_calib.safetensors"


# ------------------------------------------------------------------------------------------------
# Runs

def run_list(args):
    """(key, spec) in the order they run; spec = dict(method, b, seed, signs)."""
    runs = [("fp16", dict(method="fp16"))]
    for b in args.bits:
        for s in range(args.seeds):
            runs.append((f"axelram-b{b}-seed{s}", dict(method="axelram", b=b, seed=s)))
    for b in args.bits:
        runs.append((f"axelram-b{b}-cal-mse", dict(method="axelram", b=b, signs="mse")))
    if not args.no_baselines:
        baselines = BASELINES if not args.smoke else (("turboquant", 3),)
        for name, b in baselines:
            runs.append((f"{name}-b{b}", dict(method=name, b=b)))
        runs.append(("axelram-fixed-b3-seed0", dict(method="axelram-fixed", b=3, seed=0)))
        if not args.smoke:
            runs.append(("kivi-b2-r0", dict(method="kivi", b=2, residual=0)))
            for b in args.bits:
                runs.append((f"axelram-centred-b{b}", dict(method="axelram-centred", b=b)))
        if not args.smoke:
            for b in args.bits:
                runs.append((f"axelram-b{b}-cal-score",
                             dict(method="axelram", b=b, signs="score")))
    return runs


def load_done(path, protocol):
    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                if r.get("protocol") == protocol:
                    done[r["key"]] = r
    return done


def calibrated(args, model, b, objective, info, cache):
    """Calibrated SignSet for (model, b, objective), cached as a sign file under out-dir."""
    from golden.calibrate import calibrate
    from golden.signs import read_signs, write_signs

    path = args.out_dir / "signs" / f"{model}_b{b}_{objective}.json"
    key = (b, objective)
    if key not in cache:
        if path.is_file():
            cache[key] = read_signs(path, d=info.head_dim, layers=info.layers)
        else:
            start = time.monotonic()
            cal = calibrate(str(dump_path(model)), b, candidates=args.candidates,
                            objective=objective, progress=False, expect_d=info.head_dim)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_signs(path, cal.signset)
            print(f"  calibrated {model} b={b} ({objective}) in {time.monotonic() - start:.0f} s",
                  flush=True)
            cache[key] = cal.signset
    return cache[key]


def run_model(args, model):
    import torch

    from golden import kvdump
    from golden.evaluation import corpus, models
    from golden.evaluation.evaluator import Evaluator
    from golden.evaluation.methods import make_method
    from golden.evaluation.model_info import model_info

    torch.set_num_threads(args.threads)
    t_start = time.monotonic()
    ref = models.resolve_model(model)
    info = model_info(ref)
    tokens = tokens_for(args, model)
    text, text_desc = corpus.read_text("wiki-eval")
    tokenizer = models.load_tokenizer(ref)
    windows = corpus.token_windows(tokenizer, text, args.ctx, tokens // args.ctx)
    protocol = {"ctx": args.ctx, "windows": int(len(windows)), "text": text_desc,
                "values": "fp16", "candidates": args.candidates}
    out = args.out_dir / f"{model}.jsonl"
    done = load_done(out, protocol)
    todo = [(k, s) for k, s in run_list(args) if k not in done]
    print(f"{model}: {len(windows)} x {args.ctx} tokens; {len(done)} runs done, "
          f"{len(todo)} to do", flush=True)
    if not todo:
        return
    calib_dump = kvdump.read_kv_dump(dump_path(model), expect_d=info.head_dim)
    sign_cache = {}
    print(f"  loading {ref.describe()}", flush=True)
    t_load = time.monotonic()
    lm = models.load_model(ref)
    load_s = time.monotonic() - t_load
    evaluator = Evaluator(lm, windows, info=info)
    meta = {"model": model, "model_description": ref.describe(), "protocol": protocol,
            "threads": torch.get_num_threads(), "load_seconds": load_s,
            "info": {"layers": info.layers, "heads": info.heads, "kv_heads": info.kv_heads,
                     "head_dim": info.head_dim}}
    if "fp16" in done:   # the reference hidden states are needed again
        todo = [("fp16", dict(method="fp16"))] + todo
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for key, spec in todo:
        signs = None
        if spec.get("signs"):
            signs = calibrated(args, model, spec["b"], spec["signs"], info, sign_cache)
        options = {"residual": spec["residual"]} if "residual" in spec else {}
        method = make_method(spec["method"], info, spec.get("b"), signs=signs,
                             seed=spec.get("seed", 0), calib=calib_dump, **options)
        r = evaluator.run(method)
        if key == "fp16" and key in done:
            continue
        r.update(key=key, spec=spec, **meta)
        if spec.get("signs"):
            r["signs"] = f"calibrated ({spec['signs']} objective, {args.candidates} candidates)"
        with open(out, "a") as f:
            f.write(json.dumps(r) + "\n")
        print(f"  {key}: PPL {r['ppl']:.4f} ΔPPL {r['dppl']:+.4f} KL {r['kl']:.4f} "
              f"({r['seconds']:.0f} s)", flush=True)
    wall = time.monotonic() - t_start
    with open(args.out_dir / f"{model}.wall.jsonl", "a") as f:
        f.write(json.dumps({"seconds": wall, "runs": len(todo), "protocol": protocol}) + "\n")
    print(f"{model}: done in {wall:.0f} s", flush=True)


# ------------------------------------------------------------------------------------------------
# Report

def _load_results(args):
    res = {}
    for model in MODELS:
        path = args.out_dir / f"{model}.jsonl"
        if path.is_file():
            rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if rows:
                latest = rows[-1]["protocol"]   # report the newest protocol only
                res[model] = {r["key"]: r for r in rows if r["protocol"] == latest}
    return res


def _walls(args, res):
    """Wall time per model summed over the invocations of the reported protocol."""
    out = {}
    for model, rows in res.items():
        path = args.out_dir / f"{model}.wall.jsonl"
        if not path.is_file():
            continue
        proto = next(iter(rows.values()))["protocol"]
        recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        out[model] = sum(r["seconds"] for r in recs if r.get("protocol") == proto)
    return out


def _fmt(x, nd=3):
    return "–" if x is None else f"{x:+.{nd}f}"


def _centred(r):
    if "score_error_centred_mean" not in r:
        return "–"
    return f"{r['score_error_centred_mean']:.3f} / {r['score_error_centred_max']:.3f}"


def _seed_stats(rows, b, seeds):
    vals = [(s, rows[f"axelram-b{b}-seed{s}"]["dppl"]) for s in range(seeds)
            if f"axelram-b{b}-seed{s}" in rows]
    if not vals:
        return None
    d = np.array([v for _, v in vals])
    worst = max(vals, key=lambda x: x[1])
    return {"n": len(vals), "mean": float(d.mean()), "std": float(d.std(ddof=1)) if len(d) > 1
            else 0.0, "median": float(np.median(d)), "worst": worst[1], "worst_seed": worst[0],
            "best": float(d.min()), "values": vals}


def _key_norm_stats(model):
    from golden import kvdump

    path = dump_path(model)
    if not path.is_file():
        return None
    dump = kvdump.read_kv_dump(path)
    mean, peak, common = [], [], []
    for layer in range(dump.layers):
        k3 = dump.k[layer]
        k = k3.reshape(-1, dump.head_dim)
        mean.append(float(np.linalg.norm(k, axis=1).mean()))
        peak.append(float(np.abs(k).max()))
        mu = k3.mean(axis=1, keepdims=True)             # per KV head
        common.append(float(np.mean(np.linalg.norm(mu[:, 0], axis=-1))
                            / np.linalg.norm(k3 - mu, axis=-1).mean()))
    return {"mean": mean, "max_abs": peak, "common": common, "meta": dump.meta}


def _plots(args, res, norms, doc_dir, prefix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []

    def save(fig, stem):
        fig.tight_layout()
        files.append(f"{prefix}{stem}.png")
        fig.savefig(doc_dir / files[-1], dpi=90)
        plt.close(fig)

    models = [m for m in MODELS if m in res]
    if models:
        fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.6), squeeze=False)
        for ax, model in zip(axes[0], models, strict=True):
            rows = res[model]
            for j, b in enumerate(args.bits):
                st = _seed_stats(rows, b, args.seeds)
                if st is None:
                    continue
                xs = [j + 0.06 * (s - (args.seeds - 1) / 2) for s, _ in st["values"]]
                ys = [max(v, 1e-4) for _, v in st["values"]]
                ax.scatter(xs, ys, s=18, color="tab:blue",
                           label="default seeds" if j == 0 else None)
                cal = rows.get(f"axelram-b{b}-cal-mse")
                if cal:
                    ax.scatter([j + 0.4], [max(cal["dppl"], 1e-4)], marker="*", s=90,
                               color="tab:green", label="calibrated (MSE)" if j == 0 else None)
                cal = rows.get(f"axelram-b{b}-cal-score")
                if cal:
                    ax.scatter([j + 0.5], [max(cal["dppl"], 1e-4)], marker="^", s=40,
                               color="tab:orange", label="calibrated (score)" if j == 0 else None)
                cen = rows.get(f"axelram-centred-b{b}")
                if cen:
                    ax.scatter([j - 0.45], [max(cen["dppl"], 1e-4)], marker="D", s=30,
                               color="tab:purple", label="mean-centred (ours)" if j == 0 else None)
            ax.set_yscale("log")
            ax.set_xticks(range(len(args.bits)), [f"b={b}" for b in args.bits])
            ax.set_ylabel("ΔPPL vs fp16 cache (log)")
            ax.set_title(f"{model}: AXELRAM ΔPPL per sign seed")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
        save(fig, "dppl_seeds")
    nm = [m for m in MODELS if norms.get(m)]
    if nm:
        fig, axes = plt.subplots(1, len(nm), figsize=(5 * len(nm), 3.4), squeeze=False)
        for ax, model in zip(axes[0], nm, strict=True):
            n = norms[model]
            ax.plot(n["mean"], "o-", ms=3, label="mean ||k||")
            ax.plot(n["max_abs"], "s--", ms=3, label="max |k_i|")
            ax.set_yscale("log")
            ax.set_xlabel("layer")
            ax.set_title(f"{model}: post-RoPE key norms (wiki-calib dump)")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
        save(fig, "key_norms")
    b = 3 if 3 in args.bits else args.bits[0]
    if models:
        fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.4), squeeze=False)
        for ax, model in zip(axes[0], models, strict=True):
            rows = res[model]
            diag = args.out_dir / f"{model}_diagnostic.json"
            if diag.is_file():   # centred errors of the diagnostic run, log scale
                doc = json.loads(diag.read_text())
                for r in doc["results"]:
                    if r["method"] != "fp16" and r.get("score_error_centred_per_layer"):
                        ax.plot(r["score_error_centred_per_layer"], "o-", ms=3, label=r["label"])
                ax.set_yscale("log")
                ax.set_xlabel("layer")
                ax.set_ylabel("centred relative score error")
                ax.set_title(f"{model}: centred score error per layer "
                             f"({doc['protocol']['windows']} x {doc['protocol']['ctx']} tokens)",
                             fontsize=9)
                ax.grid(alpha=0.3, which="both")
                ax.legend(fontsize=6)
                continue
            st = _seed_stats(rows, b, args.seeds)
            if st is None:
                continue
            med = sorted(st["values"], key=lambda x: x[1])[(st["n"] - 1) // 2][0]
            for key, lab in ((f"axelram-b{b}-seed{med}", f"median seed ({med})"),
                             (f"axelram-b{b}-seed{st['worst_seed']}",
                              f"worst seed ({st['worst_seed']})"),
                             (f"axelram-b{b}-cal-mse", "calibrated (MSE)"),
                             (f"axelram-centred-b{b}", "mean-centred (ours)")):
                if key in rows:
                    ax.plot(rows[key]["score_error_per_layer"], "o-", ms=3, label=lab)
            ax.set_xlabel("layer")
            ax.set_ylabel("relative score error")
            ax.set_title(f"{model}: attention-score error per layer, b={b}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        save(fig, "score_error_layers")
    for name in files:
        size = (doc_dir / name).stat().st_size
        if size > 200_000:
            print(f"warning: {name} is {size} bytes (> 200 kB)", file=sys.stderr)
    return files


def write_report(args, wall=None):
    res = _load_results(args)
    if not res:
        print("no results yet", file=sys.stderr)
        return
    doc_dir = args.doc.parent
    doc_dir.mkdir(parents=True, exist_ok=True)
    prefix = "quality_" if not args.smoke else ""
    norms = {m: _key_norm_stats(m) for m in MODELS if m in res or not args.smoke}
    try:
        plots = _plots(args, res, norms, doc_dir, prefix)
    except ImportError:
        plots = []
        print("warning: matplotlib missing, no plots", file=sys.stderr)

    L = []
    add = L.append
    add("# AXELRAM quality study: sign seeds, calibration and baselines on real models\n")
    add("Generated by `bench/quality_study.py` (do not edit by hand; rerun it). Protocol and "
        "methods: `golden/evaluation/` (package docstring; one module per method in "
        "`golden/evaluation/methods/`).\n")
    add("## Setup\n")
    for rows in res.values():
        r0 = rows.get("fp16") or next(iter(rows.values()))
        p = r0["protocol"]
        info = r0["info"]
        add(f"* **{r0['model_description']}** — **4-bit GGUF weights** (dequantised to "
            f"float32 by transformers), so absolute perplexities are a little worse than the "
            f"fp16 originals; only the relative comparison (fp16 KV cache vs quantised keys) "
            f"matters. {info['layers']} layers, {info['heads']} heads, {info['kv_heads']} KV "
            f"heads, head_dim {info['head_dim']}. Evaluation: {p['windows']} windows x "
            f"{p['ctx']} tokens = **{r0['tokens_scored']} scored tokens** of wiki-eval; "
            f"{r0['threads']} torch threads; model load {r0['load_seconds']:.0f} s.")
    first = next(iter(res.values()))
    add(f"* Text: {next(iter(first.values()))['protocol']['text']}"
        ". Calibration dumps: `build/kv/<model>_calib.safetensors` (wiki-calib, disjoint "
        "articles): " + "; ".join(
            f"{m}: {norms[m]['meta'].get('samples')} x {norms[m]['meta'].get('tokens')} tokens"
            for m in res if norms.get(m)) + ".")
    add("* Protocol in brief: non-overlapping windows, every token except each window's first "
        "scored exactly once; the attention reads keys as the quantised cache returns them "
        "(custom transformers attention function; every key including the current one is "
        "quantised); values stay fp16 (keys-only study); all metrics against the fp16-cache run "
        "on the same windows. KL = mean KL(P_fp16 || P_method) per scored token; score error = "
        "relative RMS error of the pre-softmax attention scores (causal entries, every 8th "
        "query row), per layer; the tables give the mean over layers and the worst layer.")
    add(f"* Calibration: `golden.calibrate.calibrate(dump, b, candidates={args.candidates}, "
        "subsample=2000, seed=0)`, objective `mse` (the paper's Algorithm 1) and, as an extra, "
        "`score` (held-out relative score error); the sign set is calibrated separately per b. "
        "Note: the Qwen dump holds 2 x 1024 tokens, the paper used 8 x 2048.")
    walls = _walls(args, res)
    total = sum(walls.values())
    add(f"* Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs. "
        + ("Measured wall time of the whole study (model loads, calibration, all runs): "
           + ", ".join(f"{m} {w / 60:.0f} min" for m, w in walls.items())
           + f", total **{total / 60:.0f} min**." if walls else "") + "\n")

    add("## Findings (computed from the tables below)\n")
    for model, rows in res.items():
        for b in args.bits:
            st = _seed_stats(rows, b, args.seeds)
            if st is None:
                continue
            spread = st["worst"] - st["best"]
            ratio = st["worst"] / st["median"] if st["median"] > 0 else math.inf
            spike = ratio > 2 and st["worst"] - st["median"] > 0.5
            ppl_ref = rows["fp16"]["ppl"] if "fp16" in rows else math.inf
            if st["best"] > ppl_ref:
                verdict = ("**every seed collapses** (even the best seed more than doubles the "
                           "perplexity): not a seed spike but a failure of the method on this "
                           "model")
            elif spike:
                verdict = "**a seed spike**"
            else:
                verdict = "no seed spike"
            line = (f"* {model}, b={b}: default seeds give ΔPPL {st['best']:+.3f} … "
                    f"{st['worst']:+.3f} (median {st['median']:+.3f}, worst/median "
                    f"{ratio:.2f}, spread {spread:.3f}): {verdict}.")
            cal = rows.get(f"axelram-b{b}-cal-mse")
            if cal is not None:
                rank = sum(v < cal["dppl"] for _, v in st["values"])
                line += (f" Calibrated (MSE) {cal['dppl']:+.3f}: "
                         + ("better" if cal["dppl"] < st["median"] else "not better")
                         + f" than the median seed ({rank} of {st['n']} default seeds are "
                         "better).")
            cen = rows.get(f"axelram-centred-b{b}")
            if cen is not None:
                line += (f" Mean-centred keys (ours, seed 0): {cen['dppl']:+.3f}.")
            add(line)
    add("")

    add("## 1. Default sign seeds: is there a spike?\n")
    add("ΔPPL = PPL(quantised keys) − PPL(fp16 cache), AXELRAM float model, default sign sets "
        f"of seeds 0..{args.seeds - 1} (`golden.signs.default_signs`).\n")
    add("| model | fp16 PPL | b | bits/key | mean ΔPPL | std | median | worst (seed) | best | "
        "calibrated (MSE) | better than median? | calibrated (score) |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for model, rows in res.items():
        ppl_ref = rows["fp16"]["ppl"] if "fp16" in rows else None
        for b in args.bits:
            st = _seed_stats(rows, b, args.seeds)
            if st is None:
                continue
            cal = rows.get(f"axelram-b{b}-cal-mse")
            cs = rows.get(f"axelram-b{b}-cal-score")
            bits = rows[f"axelram-b{b}-seed{st['values'][0][0]}"]["bits_per_key"]
            better = "–" if cal is None else ("yes" if cal["dppl"] < st["median"] else "no")
            add(f"| {model} | {ppl_ref:.3f} | {b} | {bits:.0f} | {st['mean']:+.3f} | "
                f"{st['std']:.3f} | {st['median']:+.3f} | {st['worst']:+.3f} "
                f"({st['worst_seed']}) | {st['best']:+.3f} | "
                f"{_fmt(cal['dppl'] if cal else None)} | {better} | "
                f"{_fmt(cs['dppl'] if cs else None)} |")
    add("")
    add("Per seed (ΔPPL):\n")
    for model, rows in res.items():
        add(f"| {model} | " + " | ".join(f"seed {s}" for s in range(args.seeds)) + " |")
        add("|---|" + "---|" * args.seeds)
        for b in args.bits:
            add(f"| b={b} | " + " | ".join(
                _fmt(rows[f'axelram-b{b}-seed{s}']['dppl'])
                if f"axelram-b{b}-seed{s}" in rows else "–" for s in range(args.seeds)) + " |")
        add("")
    if plots:
        add(f"![ΔPPL per seed]({plots[0]})\n")

    add("### Key norms per layer (the paper's guideline)\n")
    add("| model | layer-mean ‖k‖: min / max (layer) | max/min ratio | guideline | "
        "largest coordinate magnitude (layer) | common component ‖μ‖ / mean ‖k − μ‖: "
        "max (layer), median |")
    add("|---|---|---|---|---|---|")
    for model in res:
        n = norms.get(model)
        if not n:
            continue
        mean = np.array(n["mean"])
        ratio = mean.max() / mean.min()
        verdict = ("default signs fine (< 2)" if ratio < 2 else
                   "calibrate (> 5)" if ratio > 5 else "borderline (2–5)")
        peak = np.array(n["max_abs"])
        common = np.array(n["common"])
        add(f"| {model} | {mean.min():.1f} / {mean.max():.1f} (L{int(mean.argmax())}) | "
            f"{ratio:.1f} | {verdict} | {peak.max():.1f} (L{int(peak.argmax())}) | "
            f"{common.max():.1f} (L{int(common.argmax())}), {np.median(common):.2f} |")
    add("")
    add("μ = mean post-RoPE key of a layer and KV head over the calibration dump. A ratio far "
        "above 1 means the keys of that layer are one large shared vector plus small "
        "token-dependent parts: a per-vector quantiser (AXELRAM, TurboQuant, srft-int4) "
        "spends its error budget, proportional to ‖k‖, on the shared part, and the error "
        "swamps the token-dependent part that decides the attention. Per-channel min/max "
        "(KIVI, SQuat) removes the shared part for free; so does subtracting μ "
        "(axelram-centred).\n")
    for name in plots[1:]:
        add(f"![{name}]({name})\n")

    add("## 2. Baselines at matched bits per key\n")
    add("Bits per key = stored index bits + norm/scale overhead (fp16 norm for AXELRAM and "
        "TurboQuant; fp16 scale + minimum per channel and 32 tokens for KIVI/SQuat, whose fp16 "
        "residual of up to 128 recent tokens is not counted; fp16 scale per 32 coordinates for "
        "srft-int4). Default seed 0 for TurboQuant/srft-int4 rotations.\n")
    for model, rows in res.items():
        add(f"**{model}**\n")
        add("| method | bits/key (per coord) | ΔPPL | KL | top-1 | score err mean / max "
            "(layer) | centred score err mean / max | s/run |")
        add("|---|---|---|---|---|---|---|---|")
        order = []
        for b in args.bits:
            st = _seed_stats(rows, b, args.seeds)
            if st:
                med_seed = sorted(st["values"], key=lambda x: x[1])[(st["n"] - 1) // 2][0]
                order.append((f"axelram-b{b}-seed{med_seed}", f"axelram b={b} (median seed "
                              f"{med_seed})"))
                order.append((f"axelram-b{b}-seed{st['worst_seed']}",
                              f"axelram b={b} (worst seed {st['worst_seed']})"))
            order.append((f"axelram-b{b}-cal-mse", f"axelram b={b} (calibrated)"))
            order.append((f"axelram-centred-b{b}", f"axelram-centred b={b} (seed 0; ours)"))
        order += [(f"{n}-b{b}", None) for n, b in BASELINES]
        order.append(("axelram-fixed-b3-seed0", "axelram-fixed b=3 (seed 0, bit-exact)"))
        order.append(("kivi-b2-r0", "kivi-2 without fp16 residual (R = 0)"))
        rows_sorted = []
        seen = set()
        for key, lab in order:
            if key in rows and key not in seen:
                seen.add(key)
                rows_sorted.append((rows[key], lab or rows[key]["label"]))
        rows_sorted.sort(key=lambda x: x[0]["bits_per_coordinate"])
        for r, lab in rows_sorted:
            add(f"| {lab} | {r['bits_per_key']:.0f} ({r['bits_per_coordinate']:.3f}) | "
                f"{r['dppl']:+.3f} | {r['kl']:.4f} | {100 * r['top1']:.1f} % | "
                f"{r['score_error_mean']:.3f} / {r['score_error_max']:.3f} "
                f"(L{r['score_error_max_layer']}) | {_centred(r)} | {r['seconds']:.0f} |")
        add("")

    diags = [(m, args.out_dir / f"{m}_diagnostic.json") for m in res]
    diags = [(m, p) for m, p in diags if p.is_file()]
    if diags:
        add("### Diagnostic: centred attention-score error\n")
        add("Softmax ignores a per-query shift of the scores. The centred score error removes "
            "each query row's mean over its visible keys from the error and from the scores; "
            "it shows the error that changes the attention. Produced separately by "
            "`axelram eval` (command below each table; fewer tokens than the study).\n")
        for model, path in diags:
            doc = json.loads(path.read_text())
            add(f"**{model}** ({doc['protocol']['windows']} x {doc['protocol']['ctx']} tokens)"
                "\n")
            add("| method | bits/key | ΔPPL | score err mean / max (layer) | centred score err "
                "mean / max (layer) | centred, layer 0 |")
            add("|---|---|---|---|---|---|")
            for r in doc["results"]:
                cpl = r.get("score_error_centred_per_layer") or [0.0]
                worst = int(np.argmax(cpl))
                add(f"| {r['label']} | {r['bits_per_key']:.0f} | {r['dppl']:+.3f} | "
                    f"{r['score_error_mean']:.3f} / {r['score_error_max']:.3f} "
                    f"(L{r['score_error_max_layer']}) | {np.mean(cpl):.3f} / {max(cpl):.3f} "
                    f"(L{worst}) | {cpl[0]:.3f} |")
            add(f"\n`{doc.get('command', '')}`\n")

    add("## 3. Time\n")
    add("| model | runs | scored tokens/run | mean s/run | total run time |")
    add("|---|---|---|---|---|")
    for model, rows in res.items():
        secs = [r["seconds"] for r in rows.values()]
        tok = next(iter(rows.values()))["tokens_scored"]
        add(f"| {model} | {len(secs)} | {tok} | {np.mean(secs):.0f} | "
            f"{sum(secs) / 60:.1f} min |")
    add("")
    add("## 4. Choices the sources leave open (ours)\n")
    add("* Keys only: values stay in the fp16 cache for every method (AXELRAM is a key "
        "quantiser; `axelram eval --values method` quantises values too).")
    add("* AXELRAM/TurboQuant store the exact norm in the float runs (the bit-exact run uses "
        "the FixedModel norm word, one power-of-two input scale per layer and window).")
    add("* TurboQuant: one Haar rotation per layer (QR of a Gaussian matrix, "
        "`default_rng([seed, layer])`), exact Beta codebook, no QJL stage.")
    add("* KIVI: G = 32, R = 128, residual flushed as in KIVI's decoding code (query t reads "
        "keys j < 128·floor(t/128) quantised); the windows start a fresh cache, so every query "
        "sees 1..128 exact recent keys.")
    add("* SQuat: r = 20, λ = 1e-3, 64-channel blocks, KIVI key quantiser and residual; the "
        "query subspace comes from the first half of each window (the 'prompt'). At head_dim "
        "64 (SmolLM2) there is a single block and SQuat equals KIVI (as in its code).")
    add("* axelram-centred (an extension, ours): AXELRAM on k − μ with μ the mean wiki-calib "
        "key per layer and KV head; softmax ignores the per-query constant q·μ, so the macro "
        "would only subtract μ on the write path (one d-vector per layer and KV head).")
    add("* kivi-2 without residual: KIVI's quantiser with R = 0, to separate the effect of the "
        "fp16 window from that of per-channel scaling.")
    add("* srft-int4: randomised Hadamard (seed 0 signs), λ = per-channel RMS of the rotated "
        "calibration keys per layer and KV head (mean 1), groups of 32, symmetric int4 (−7..7).")
    add("")
    add("## 5. Commands\n")
    add("```")
    add("make kv-dump MODEL=smollm2; make kv-dump MODEL=qwen1.5b     # calibration dumps")
    cmd = "bench/quality_study.py" + (" --smoke" if args.smoke else "")
    if not args.smoke:
        cmd += (f" --tokens-smollm2 {args.tokens_smollm2} --tokens-qwen {args.tokens_qwen} "
                f"--ctx {args.ctx} --seeds {args.seeds} --threads {args.threads}")
    add(f".venv/bin/python {cmd}")
    add("# one configuration by hand, e.g.:")
    add(".venv/bin/python -m axelram_hw.cli eval --model qwen1.5b --method axelram --b 3 "
        "--seed 0 --tokens 2048")
    add("```\n")
    args.doc.write_text("\n".join(L) + "\n", encoding="utf-8")
    print(f"wrote {args.doc}")


def main(argv=None):
    args = parse_args(argv)
    start = time.monotonic()
    if not args.report_only:
        for model in args.models:
            if not dump_path(model).is_file():
                sys.exit(f"error: {dump_path(model)} missing; run make kv-dump MODEL={model}")
        for model in args.models:
            run_model(args, model)
    write_report(args, wall=None if args.report_only else time.monotonic() - start)
    if args.smoke:
        print(f"smoke study done in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
