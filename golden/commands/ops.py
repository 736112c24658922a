"""``axelram ops``: operation and storage counts, AXELRAM versus dequantise-then-dot."""


def add_parser(sub):
    p = sub.add_parser(
        "ops", help="count multiplies, adds, comparators and storage",
        description="Operation and storage counts per query and per key for AXELRAM and for "
                    "conventional dequantise-then-dot (counting rules: golden/ops.py).")
    p.add_argument("--d", type=int, default=128, help="head dimension (default 128)")
    p.add_argument("--b", type=int, default=3, help="bits per coordinate (default 3)")
    p.add_argument("--t", type=int, default=4096, help="keys scored per query (default 4096)")
    p.set_defaults(func=run)


def run(args):
    from golden.ops import op_counts

    c = op_counts(args.d, args.b, args.t)
    print(f"d={c.d} b={c.b} T={c.t}\n")
    print(f"| {'quantity':<48} | {'AXELRAM':>14} | {'conventional':>14} |")
    print(f"|{'-' * 50}|{'-' * 16}|{'-' * 16}|")
    for name, a, conv in c.rows():
        conv = "" if conv is None else conv
        print(f"| {name:<48} | {a!s:>14} | {conv!s:>14} |")
    print(f"\nmultiplication ratio (conventional / AXELRAM): {c.mult_ratio:.1f}x")
    print(f"key compression vs FP16: {c.compression:.2f}x; "
          f"break-even at T = {c.break_even_t} keys")
    return 0
