"""Evaluation results as a markdown table."""

__all__ = ["markdown_table"]


def markdown_table(results):
    """A markdown table of result dicts, as
    :meth:`golden.evaluation.evaluator.Evaluator.run` returns them."""
    lines = ["| method | bits/key (per coord) | PPL | ΔPPL | KL | top-1 | score err (mean / max, "
             "layer) | tokens | s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        name = r.get("label", r["method"])
        if r.get("signs") and r["method"].startswith("axelram"):
            name += f" ({r['signs']})"
        lines.append(
            f"| {name} | {r['bits_per_key']:.0f} ({r['bits_per_coordinate']:.3f}) | "
            f"{r['ppl']:.4f} | {r['dppl']:+.4f} | {r['kl']:.5f} | {100 * r['top1']:.2f} % | "
            f"{r['score_error_mean']:.4f} / {r['score_error_max']:.4f} "
            f"(L{r['score_error_max_layer']}) | {r['tokens_scored']} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"
