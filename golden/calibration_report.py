"""The human-readable calibration report: the markdown summary and the box-plot PNG.

:class:`golden.calibrate.Calibration` renders its ``signs.report.md`` and ``signs.report.png``
files with these functions (the file layout is described in :mod:`golden.calibrate`). matplotlib
is imported inside :func:`render_png` only, so importing the calibration never loads it; without
matplotlib :func:`render_png` returns ``None`` and only the PNG is skipped.
"""

import io

import numpy as np

__all__ = ["render_markdown", "render_png"]


def _fmt(x, digits=4):
    if x is None:
        return "–"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def render_markdown(report):
    """The ``.report.md`` text of a calibration report (a dict as in ``signs.report.json``)."""
    o, dmp, g = report["options"], report["dump"], report["guideline"]
    summary = report["summary"]
    lines = [
        f"# Sign calibration: {dmp['file']}",
        "",
        f"Model: {dmp['model'] or 'unknown'}  ",
        f"Options: b = {o['b']}, objective = {o['objective']}, candidates = {o['candidates']}, "
        f"subsample = {o['subsample']}, seed = {o['seed']}, samples = {o['samples']}  ",
        f"Data: {report['data']['layers']} layers x {report['data']['kv_heads']} KV heads, "
        f"head_dim {report['data']['head_dim']}, {report['data']['tokens_used']} tokens "
        f"(fit half {report['data']['fit_tokens']}, held-out half "
        f"{report['data']['held_out_tokens']})  ",
        f"Objective: {report['objective']}",
        "",
        f"**Paper's guideline:** max/min ratio of layer-mean key norms = "
        f"{_fmt(g['layer_mean_norm_ratio'], 3)} → **{g['verdict']}**. (The real driver is "
        "outlier key directions, for which the norm ratio is only a proxy.)",
        "",
        f"Layers whose pattern changed: {summary['layers_changed']} of "
        f"{report['data']['layers']}; worst layer objective "
        f"{_fmt(summary['worst_default_objective'])} (default) → "
        f"{_fmt(summary['worst_best_objective'])} (calibrated).",
        "",
        "| layer | ‖k‖ mean | ‖k‖ std | ‖k‖ min | ‖k‖ max | max\\|k\\| | default | best | seed | "
        "gain | min / median / max over candidates | mse default → best | score default → best "
        "| vectors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for r in report["layers"]:
        nm, sp, ck = r["norms"], r["spread"], r["check"]
        pair = {k: (f"{_fmt(v['default'])} → {_fmt(v['best'])}" if v else "–")
                for k, v in ck.items()}
        lines.append(
            f"| {r['layer']} | {_fmt(nm['mean'])} | {_fmt(nm['std'])} | {_fmt(nm['min'])} | "
            f"{_fmt(nm['max'])} | {_fmt(nm['max_abs'])} | {_fmt(r['default_objective'])} | "
            f"{_fmt(r['best_objective'])} | {r['best_seed']} | {100 * r['improvement']:.1f} % | "
            f"{_fmt(sp['min'])} / {_fmt(sp['median'])} / {_fmt(sp['max'])} | {pair['mse']} | "
            f"{pair['score']} | {r['vectors']} |")
    lines.append("")
    if report["notes"]:
        lines += ["Notes:", ""] + [f"* {n}" for n in report["notes"]] + [""]
    lines.append("Files: the sign file (golden.signs format), the ROM image (.hex, one d-bit "
                 "word per layer, $readmemh), this summary, the JSON report and the plot (.png).")
    return "\n".join(lines) + "\n"


def render_png(report, objectives):
    """The ``.report.png`` bytes: every layer's objective over the candidates (box: min–max,
    quartiles), the default (red x) and the chosen pattern (green dot); ``None`` without
    matplotlib. ``objectives`` is the (layers, candidates) array of the calibration."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    layers = objectives.shape[0]
    fig = Figure(figsize=(max(6.0, 0.32 * layers + 2), 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    pos = np.arange(layers)
    ax.boxplot(list(objectives), positions=pos, widths=0.6, whis=(0, 100), showfliers=False,
               patch_artist=False)
    ax.scatter(pos, objectives[:, 0], marker="x", color="tab:red", zorder=3,
               label="default (candidate 0)")
    ax.scatter(pos, objectives.min(axis=1), marker="o", s=14, color="tab:green", zorder=3,
               label="chosen")
    o = report["options"]
    ax.set_xlabel("layer")
    ax.set_ylabel(f"{o['objective']} objective (lower is better)")
    ax.set_title(f"{report['dump']['file']}: b={o['b']}, {o['candidates']} candidates "
                 "(box: min–max, quartiles)", fontsize=9)
    if objectives.max() > 10 * objectives.min() > 0:
        ax.set_yscale("log")
    ax.set_xticks(pos)
    ax.set_xticklabels([str(i) for i in pos], fontsize=7)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
