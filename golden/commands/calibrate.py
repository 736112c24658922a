"""``axelram calibrate``: choose each layer's sign pattern from a real KV dump."""

import sys
from pathlib import Path

DESCRIPTION = """\
Per-layer sign-pattern calibration (the AXELRAM paper's Algorithm 1, deterministic): for every
layer, pool the heads and tokens of the dump's keys, drop zero-norm keys, and evaluate CANDIDATES
generator sign patterns (candidate c of layer l = golden.signs.sign_pattern(d, seed=c, layer=l);
candidate 0 is the default sign set) on SUBSAMPLE vectors drawn with numpy's default_rng([SEED,
layer]); keep the best (ties: lowest seed). The token axis is split in half: the first half feeds
the mse objective, the second (held-out) half the score objective.

Objectives: mse = the paper's mean squared quantisation error of the unit keys in the rotated
domain (b-bit N(0,1/d) Gaussian Lloyd-Max codebook); score = relative RMS attention-score error
||q.k~ - q.k|| / ||q.k|| of held-out keys, with other held-out keys as query proxies (the dump
has no queries).

Writes OUT (sign file, format axelram-signs/1) and beside it, for OUT = signs.json: signs.hex
(sign ROM image for $readmemh: one line per layer, d/4 hex digits, bit i = coordinate i is -1),
signs.report.json, signs.report.md (per-layer table and the paper's guideline verdict) and
signs.report.png (needs matplotlib). Every file is written atomically; the same input, options
and seed give byte-identical files.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "calibrate", help="choose per-layer sign patterns from a KV dump (paper's Algorithm 1)",
        description=DESCRIPTION)
    p.add_argument("--kv", required=True, type=Path, metavar="DUMP",
                   help="KV dump (.safetensors, format axelram-kv-dump/1; see 'axelram kv-dump')")
    p.add_argument("--b", required=True, type=int, metavar="B", help="bits per coordinate, 1..4")
    p.add_argument("--candidates", type=int, default=200, metavar="N",
                   help="candidate sign patterns per layer, seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--subsample", type=int, default=2000, metavar="N",
                   help="vectors per layer (default: %(default)s; if a layer has fewer, all are "
                        "used and a note says so)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the subsample generator (default: %(default)s)")
    p.add_argument("--objective", choices=("mse", "score"), default="mse",
                   help="selection objective (default: %(default)s)")
    p.add_argument("--d", type=int, default=None, metavar="D",
                   help="required head dimension (error if the dump's differs)")
    p.add_argument("--samples", type=int, default=None, metavar="S",
                   help="use only the first S calibration sequences (windows) of the dump "
                        "(default: all; the dump's metadata 'samples' and 'tokens' say how many "
                        "there are and how long each is)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="worker threads (default: the CPUs this process may use)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE",
                   help="output sign file, e.g. build/calib/signs.json (siblings: .hex, "
                        ".report.json, .report.md, .report.png)")
    p.set_defaults(func=run)
    return p


def run(args):
    from golden import calibrate as cal

    # Every cheap check first: nothing is read or written before the options are known good.
    cal.check_options(args.b, args.candidates, args.subsample, args.seed, args.objective,
                      args.samples, args.d)
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, not {args.threads}")
    for path in cal.output_paths(args.out).values():
        if path.is_dir():
            raise ValueError(f"output {str(path)!r} is a directory")
    if not args.kv.is_file():
        raise FileNotFoundError(f"KV dump {str(args.kv)!r} not found")

    result = cal.calibrate(args.kv, args.b, args.candidates, args.subsample, args.seed,
                           args.objective, progress=True, samples=args.samples,
                           expect_d=args.d, threads=args.threads)
    written = result.write(args.out)
    rep = result.report
    g = rep["guideline"]
    changed = rep["summary"]["layers_changed"]
    print(f"calibrated {rep['data']['layers']} layers (d={rep['data']['head_dim']}, b={args.b}, "
          f"{args.objective}): {changed} layer(s) changed from the default pattern; worst layer "
          f"{rep['summary']['worst_default_objective']:.4g} -> "
          f"{rep['summary']['worst_best_objective']:.4g}; "
          f"{sum(result.seconds):.1f} s")
    print(f"paper's guideline: layer-mean key-norm ratio {g['layer_mean_norm_ratio']:.3g} -> "
          f"{g['verdict']}")
    for path in written:
        print(f"wrote {path}")
    sys.stdout.flush()
    return 0
