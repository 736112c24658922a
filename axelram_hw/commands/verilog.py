"""``axelram verilog``: generate the macro (or one block) as Verilog + a JSON description."""

import json
import os
import re

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


def default_name(cfg, block):
    """``axelram_d128_b3`` plus a suffix for each parameter that differs from the default."""
    from golden.config import AxelramConfig

    base = AxelramConfig(d=cfg.d, b=cfg.b)
    name = f"axelram_d{cfg.d}_b{cfg.b}" if block == "macro" else f"{block}_d{cfg.d}_b{cfg.b}"
    short = {"t": "t", "lanes": "p", "layers": "l", "in_width": "w", "norm_mant": "nm",
             "sqrt_mant": "sm", "thr_frac": "tf", "cent_frac": "cf", "table_width": "tw"}
    for field, tag in short.items():
        if getattr(cfg, field) != getattr(base, field):
            name += f"_{tag}{getattr(cfg, field)}"
    if not cfg.antisymmetric:
        name += "_full"
    return name


def build_block(cfg, signs, block):
    """The Amaranth component for ``block``."""
    if block == "macro":
        from axelram_hw.macro import AxelramMacro
        return AxelramMacro(cfg, signs)
    if block == "fwht":
        if cfg.lanes == 1:
            from axelram_hw.front_end.fwht_serial import SerialFWHT
            return SerialFWHT(cfg)
        from axelram_hw.front_end.fwht import SignFlipFWHT
        return SignFlipFWHT(cfg)
    if block == "norm":
        from axelram_hw.write_path.norm import NormUnit
        from axelram_hw.write_path.norm_iterative import SerialNormUnit
        # the unit the encoder uses: iterative at lanes = 1 when it keeps up with d clocks
        if cfg.lanes == 1 and SerialNormUnit.interval_of(cfg) <= cfg.d:
            return SerialNormUnit(cfg)
        return NormUnit(cfg)
    if block == "quantiser":
        from axelram_hw.write_path.quantiser import Quantiser
        return Quantiser(cfg)
    if block == "key_encoder":
        from axelram_hw.write_path.key_encoder import KeyEncoder
        return KeyEncoder(cfg)
    if cfg.lanes == 1:
        from axelram_hw.read_path.read_path_serial import SerialReadPath
        return SerialReadPath(cfg)
    from axelram_hw.read_path.read_path import ReadPath
    return ReadPath(cfg)


_NOINIT = re.compile(r"^( *reg \[\d+:0\] (\w+_noinit) \[\d+:0\];\n) *initial begin\n"
                     r"(?: *\2\[\d+\] = \d+'h[0-9a-f]+;\n)+ *end\n", re.M)


def drop_noinit_initialisers(text):
    """Remove the ``initial`` block of every memory named ``*_noinit``.

    Amaranth gives every memory an initialiser (zeros by default), and Yosys maps no initialised
    memory to iCE40 SPRAM (whose contents are undefined at power-up). The designs name a memory
    ``*_noinit`` only where nothing depends on its initial contents (the lanes = 1 index store:
    a never-written slot has norm 0 in a separate, initialised memory and scores 0).
    """
    return _NOINIT.sub(r"\1", text)


def generate(cfg, signs, block="macro", name=None):
    """Elaborate and convert: returns (name, verilog text, description dict)."""
    from amaranth.back import verilog

    from axelram_hw.describe import describe

    name = name or default_name(cfg, block)
    top = build_block(cfg, signs, block)
    text = drop_noinit_initialisers(verilog.convert(top, name=name, emit_src=False))
    timing = {}
    for attr in ("latency", "query_latency", "write_latency", "table_gap",
                 "clocks_per_query"):
        if isinstance(getattr(top, attr, None), int):
            timing[attr] = getattr(top, attr)
    doc = describe(top, cfg, verilog_name=f"{name}.v", block=block,
                   signs=signs if block == "macro" else None, timing=timing)
    return name, text, doc


def run(args):
    import time

    from golden.signs import atomic_write_text

    cfg, signs = config_from_args(args)
    t0 = time.monotonic()
    name, text, doc = generate(cfg, signs, args.block, args.name)
    os.makedirs(args.out_dir, exist_ok=True)
    v_path = os.path.join(args.out_dir, f"{name}.v")
    j_path = os.path.join(args.out_dir, f"{name}.json")
    atomic_write_text(j_path, json.dumps(doc, indent=2) + "\n")
    atomic_write_text(v_path, text)
    print(f"wrote {v_path} ({len(text.splitlines())} lines) and {j_path} "
          f"in {time.monotonic() - t0:.1f} s")
    return 0
