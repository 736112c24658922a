"""``axelram board``: use a macro on a board (or the Python reference device) over the host link.

``identify`` prints what the device reports, ``load-signs`` loads a sign file, ``demo`` writes
keys, runs queries and checks every score against the golden model. ``--emulate`` runs the
Python reference device (:mod:`axelram_hw.host.emulator`) behind a local TCP socket instead of
opening ``--port``. Protocol and API: ``docs/boards.md``.
"""

import json
import sys

#: Sub-commands: (name, help).
ACTIONS = (
    ("identify", "print the device's configuration and description hash"),
    ("load-signs", "load a sign file (axelram calibrate output) and read it back"),
    ("demo", "write keys, run queries, check every score against the golden model"),
)


def add_parser(sub):
    p = sub.add_parser(
        "board", help="talk to a macro on a board over the host link",
        description="Talk to an AXELRAM macro on a board (or, with --emulate, to the Python "
                    "reference device) over the serial host link. Protocol: docs/boards.md.")
    actions = p.add_subparsers(dest="action", metavar="<action>", required=True)
    for name, text in ACTIONS:
        a = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _link_options(a)
        if name == "load-signs":
            a.add_argument("--signs", required=True, help="sign file to load")
        if name == "demo":
            a.add_argument("--keys", type=int, default=None,
                           help="keys to write (default min(t, 256))")
            a.add_argument("--queries", type=int, default=8, help="queries to run (default 8)")
            a.add_argument("--layer", type=int, default=0, help="sign layer (default 0)")
            a.add_argument("--kv", default=None,
                           help="KV dump (axelram kv-dump): keys and queries are head 0 of "
                                "--layer, instead of random integers")
            a.add_argument("--signs", default=None, help="sign file to load first")
            a.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        a.set_defaults(func=run)


def _link_options(a):
    a.add_argument("--port", default=None,
                   help="serial port or pyserial URL: /dev/ttyUSB1, socket://host:port")
    a.add_argument("--baud", type=int, default=1_000_000, help="baud rate (default 1000000)")
    a.add_argument("--timeout", type=float, default=1.0,
                   help="seconds to wait for a reply (default 1)")
    a.add_argument("--description", default=None,
                   help="the bitstream's JSON description (axelram verilog): refuse a device "
                        "built from anything else; with --emulate, emulate that design")
    a.add_argument("--emulate", action="store_true",
                   help="use the Python reference device instead of --port")
    for flag, default, text in (("--d", 16, "head dimension"), ("--b", 3, "bits per index"),
                                ("--t", 256, "key slots"), ("--layers", 1, "sign layers")):
        a.add_argument(flag, type=int, default=default,
                       help=f"{text} of the emulated device (default {default})")


def run(args):
    from axelram_hw.host.device import LinkError

    try:
        return _run(args)
    except LinkError as exc:
        print(f"axelram board {args.action}: error: {exc}", file=sys.stderr)
        return 2


def _run(args):
    import contextlib

    from axelram_hw.host.device import Device
    from axelram_hw.host.emulator import Emulator, serve

    description = None
    if args.description:
        with open(args.description) as f:
            description = json.load(f)
    with contextlib.ExitStack() as stack:
        if args.emulate:
            if description is not None:
                emulator = Emulator.from_description(description)
            else:
                from golden.config import AxelramConfig

                emulator = Emulator(AxelramConfig(d=args.d, b=args.b, t=args.t,
                                                  layers=args.layers))
            url = stack.enter_context(serve(emulator)).url
        elif args.port:
            url = args.port
        else:
            raise ValueError("give --port URL (e.g. /dev/ttyUSB1) or --emulate")
        device = stack.enter_context(Device(url, baudrate=args.baud, timeout=args.timeout,
                                            description=description))
        return ACTION_FUNCS[args.action](args, device)


def _identify(args, device):
    ident = device.identify()
    cfg = ", ".join(f"{k}={v}" for k, v in ident.config_kwargs().items())
    print(f"{device.url}: protocol {ident.protocol}, {cfg}")
    print(f"  score: {ident.score_mant_width}-bit mant, {ident.score_exp_width}-bit exp, "
          f"offset {ident.score_exp_offset}; max payload {ident.max_payload} bytes; signs "
          f"{'writable' if ident.signs_writable else 'fixed'}; description "
          f"{ident.description_hash.hex()}")
    return 0


def _load_signs(args, device):
    import numpy as np

    from golden.signs import read_signs

    ident = device.identify()
    signs = read_signs(args.signs, d=ident.d, layers=ident.layers)
    device.load_signs(signs)
    back = device.read_sign_set()
    if not np.array_equal(back.signs, signs.signs):
        bad = int(np.argwhere(np.any(back.signs != signs.signs, axis=1))[0][0])
        print(f"axelram board load-signs: error: layer {bad} reads back differently",
              file=sys.stderr)
        return 1
    print(f"loaded and read back {signs.layers} sign pattern(s) of d={signs.d}")
    return 0


def _demo_vectors(args, cfg, n_keys, rng):
    """(keys (n_keys, d), queries (n_queries, d)) as in_width-bit integers."""
    import numpy as np

    from golden.fixed import to_fixed

    if args.kv:
        from golden.kvdump import read_kv_dump

        dump = read_kv_dump(args.kv, expect_d=cfg.d)
        if not 0 <= args.layer < dump.layers:
            raise ValueError(f"--layer must be between 0 and {dump.layers - 1} for {args.kv}, "
                             f"not {args.layer}")
        x = dump.k[args.layer][0]
        if len(x) < n_keys + args.queries:
            raise ValueError(f"{args.kv} has {len(x)} tokens, fewer than --keys + --queries "
                             f"({n_keys + args.queries})")
        ints, _ = to_fixed(x[:n_keys + args.queries], cfg)
        return ints[:n_keys], ints[n_keys:]
    top = (1 << (cfg.in_width - 1)) - 1
    x = np.clip(np.rint(rng.normal(0, top / 4, (n_keys + args.queries, cfg.d))), -top, top)
    x = x.astype(np.int64)
    return x[:n_keys], x[n_keys:]


def _demo(args, device):
    import time

    import numpy as np

    from golden.fixed import FixedModel, StoredKeys
    from golden.signs import read_signs

    cfg = device.config
    if not 0 <= args.layer < cfg.layers:
        raise ValueError(f"--layer must be between 0 and {cfg.layers - 1}, not {args.layer}")
    if args.signs:
        device.load_signs(read_signs(args.signs, d=cfg.d, layers=cfg.layers))
    model = FixedModel(cfg, device.read_sign_set())
    n_keys = min(cfg.t, 256) if args.keys is None else args.keys
    if not 0 <= n_keys <= cfg.t:
        raise ValueError(f"--keys must be between 0 and t={cfg.t}, not {n_keys}")
    rng = np.random.default_rng(args.seed)
    keys, queries = _demo_vectors(args, cfg, n_keys, rng)
    slots = rng.permutation(cfg.t)[:n_keys]

    # the index store as the device holds it: never-written slots are all zero (score 0)
    shadow = StoredKeys(np.zeros((cfg.t, cfg.d), np.uint8), np.zeros(cfg.t, np.int64),
                        np.zeros(cfg.t, np.int64))
    t0 = time.perf_counter()
    device.write_keys(slots, keys, args.layer)
    t_write = time.perf_counter() - t0
    if n_keys:
        stored = model.write(keys, args.layer)
        shadow.idx[slots], shadow.mant[slots], shadow.exp[slots] = (stored.idx, stored.mant,
                                                                    stored.exp)
    mismatches, first_bad, t_query = 0, None, 0.0
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        got = device.query(q, args.layer, 0, cfg.t)
        t_query += time.perf_counter() - t0
        want = model.score(model.query(q, args.layer), shadow)
        bad = (got.mant != want.mant) | (got.exp != want.exp) | got.oob
        bad |= got.slot != np.arange(cfg.t)
        mismatches += int(bad.sum())
        if first_bad is None and bad.any():
            s = int(np.argmax(bad))
            first_bad = (f"query {i} slot {s}: device mant={got.mant[s]} exp={got.exp[s]} "
                         f"oob={bool(got.oob[s])}, golden mant={want.mant[s]} "
                         f"exp={want.exp[s]}")
    print(f"{device.url}: wrote {n_keys} keys ({_rate(n_keys, t_write)} keys/s), ran "
          f"{len(queries)} queries over {cfg.t} slots ({_rate(len(queries), t_query)} "
          f"queries/s, {_rate(len(queries) * cfg.t, t_query)} scores/s)")
    if mismatches:
        print(f"{mismatches} of {len(queries) * cfg.t} scores differ from the golden model; "
              f"first: {first_bad}")
        return 1
    print(f"all {len(queries) * cfg.t} scores match the golden model bit for bit")
    return 0


def _rate(n, seconds):
    return f"{n / seconds:.0f}" if seconds > 0 else "inf"


ACTION_FUNCS = {"identify": _identify, "load-signs": _load_signs, "demo": _demo}
