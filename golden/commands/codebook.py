"""``axelram codebook``: print a Lloyd–Max codebook and its ROM words."""

import json
import math


def add_parser(sub):
    p = sub.add_parser(
        "codebook", help="print the Lloyd–Max codebook for b bits",
        description="Print the Gaussian Lloyd–Max centroids and thresholds (N(0,1) units and, "
                    "with --d, N(0,1/d) units), the MSE per coordinate, and the fixed-point ROM "
                    "words of the default number formats.")
    p.add_argument("--b", type=int, required=True, help="bits per coordinate (1..4)")
    p.add_argument("--d", type=int, default=128, help="head dimension for N(0,1/d) units "
                   "(default 128)")
    p.add_argument("--beta", action="store_true",
                   help="use the exact finite-d (Beta) marginal instead of the Gaussian")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args):
    from golden.codebook import beta_codebook, gaussian_codebook
    from golden.config import AxelramConfig

    cfg = AxelramConfig(d=args.d, b=args.b)  # validates d and b with the standard messages
    cb = beta_codebook(args.b, args.d) if args.beta else gaussian_codebook(args.b)
    cd, td = cb.scaled(args.d)
    doc = {
        "b": cb.b, "d": args.d, "distribution": cb.distribution,
        "centroids": list(cb.centroids), "thresholds": list(cb.thresholds), "mse": cb.mse,
        "centroids_d": list(cd), "thresholds_d": list(td), "mse_unit_vector": cb.mse,
        "rom": {"thr_frac": cfg.thr_frac, "thresholds": list(cfg.threshold_rom),
                "cent_frac": cfg.cent_frac, "centroids": list(cfg.centroid_rom)},
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"Lloyd–Max codebook, {cb.distribution}, b={cb.b} ({1 << cb.b} levels), d={args.d}")
    print(f"MSE per coordinate {cb.mse:.6f} (N(0,1) units) = per unit vector\n")
    print(f"{'level':>5} {'centroid':>11} {'centroid/sqrt(d)':>17}  {'threshold above':>15} "
          f"{'threshold/sqrt(d)':>17}")
    for i, c in enumerate(cb.centroids):
        t = f"{cb.thresholds[i]:15.6f} {td[i]:17.6f}" if i < len(cb.thresholds) else ""
        print(f"{i:5d} {c:11.6f} {c / math.sqrt(args.d):17.6f}  {t}")
    print(f"\nROM words (positive half): thresholds x 2**-{cfg.thr_frac}: "
          f"{list(cfg.threshold_rom)}; centroids x 2**-{cfg.cent_frac}: {list(cfg.centroid_rom)}")
    return 0
