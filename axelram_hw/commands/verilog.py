"""``axelram verilog``: generate the macro (or one block) as Verilog + a JSON description."""

import json
import os

#: The ``--block`` choices (``axelram_hw.generate.BLOCKS``, named here so that ``--help`` does not
#: import Amaranth).
BLOCKS = ("macro", "fwht", "norm", "quantiser", "key_encoder", "read_path")

#: Number-format options: (flag, config field, help).
FORMAT_OPTIONS = (
    ("--in-width", "in_width", "key/query coordinate width in bits (default 16)"),
    ("--norm-mant", "norm_mant", "stored norm mantissa bits (default 11)"),
    ("--sqrt-mant", "sqrt_mant", "root precision for the thresholds (default 20)"),
    ("--thr-frac", "thr_frac", "threshold ROM fraction bits (default 20)"),
    ("--cent-frac", "cent_frac", "centroid ROM fraction bits (default 12)"),
    ("--table-width", "table_width", "query-table entry width (default 16)"),
)


def add_parser(sub):
    p = sub.add_parser(
        "verilog", help="generate Verilog and its JSON description",
        description="Elaborate the AXELRAM macro (or one block with --block) for the given "
                    "parameters and write <out-dir>/<name>.v and <name>.json (configuration, "
                    "ports with packed fields and number formats, timing, ROM contents). The "
                    "same parameters give the same bytes. Nothing is written if any parameter "
                    "or file is invalid. Number formats: docs/number-formats.md.")
    p.add_argument("--d", type=int, default=128, help="head dimension, power of two 4..1024")
    p.add_argument("--b", type=int, default=3, help="bits per coordinate index, 1..4")
    p.add_argument("--t", type=int, default=4096, help="key slots in the index store")
    p.add_argument("--lanes", type=int, default=None,
                   help="coordinates per clock, a power of two dividing d (default d: fully "
                        "parallel, one key per clock)")
    p.add_argument("--layers", type=int, default=None,
                   help="sign patterns in the sign ROM (default: the sign file's, else 1)")
    p.add_argument("--signs", default=None,
                   help="sign file (axelram calibrate output); default: generator seed 0")
    p.add_argument("--full-comparators", action="store_true",
                   help="use 2**b-1 signed comparators per coordinate instead of the "
                        "antisymmetric sign + 2**(b-1)-1 magnitude comparators")
    for flag, _, text in FORMAT_OPTIONS:
        p.add_argument(flag, type=int, default=None, help=text)
    p.add_argument("--sign-port", action="store_true",
                   help="give the macro a run-time sign write port (signs {layer, word}); the "
                        "sign ROM words become its power-up contents")
    p.add_argument("--block", choices=BLOCKS, default="macro",
                   help="generate one stand-alone block instead of the whole macro")
    p.add_argument("--out-dir", default="build", help="output folder (default build)")
    p.add_argument("--name", default=None, help="output base name (default derived from the "
                                                "parameters, e.g. axelram_d128_b3)")
    p.set_defaults(func=run)


def config_from_args(args):
    """Build and validate the configuration and sign set (raises ValueError, writes nothing)."""
    from golden.config import AxelramConfig
    from golden.signs import default_signs, read_signs

    signs = read_signs(args.signs, d=args.d) if args.signs else None
    layers = args.layers if args.layers is not None else (signs.layers if signs else 1)
    kwargs = {field: getattr(args, field) for _, field, _ in FORMAT_OPTIONS
              if getattr(args, field) is not None}
    cfg = AxelramConfig(d=args.d, b=args.b, t=args.t, lanes=args.lanes, layers=layers,
                        antisymmetric=not args.full_comparators, **kwargs)
    if signs is not None:
        try:
            signs.check(cfg.d, cfg.layers)
        except ValueError as exc:
            raise ValueError(f"{args.signs}: {exc}") from None
    else:
        signs = default_signs(cfg.d, cfg.layers)
    return cfg, signs


def run(args):
    import time

    from axelram_hw.generate import generate
    from golden.signs import atomic_write_text

    cfg, signs = config_from_args(args)
    t0 = time.monotonic()
    name, text, doc = generate(cfg, signs, args.block, args.name, sign_port=args.sign_port)
    os.makedirs(args.out_dir, exist_ok=True)
    v_path = os.path.join(args.out_dir, f"{name}.v")
    j_path = os.path.join(args.out_dir, f"{name}.json")
    atomic_write_text(j_path, json.dumps(doc, indent=2) + "\n")
    atomic_write_text(v_path, text)
    print(f"wrote {v_path} ({len(text.splitlines())} lines) and {j_path} "
          f"in {time.monotonic() - t0:.1f} s")
    return 0
