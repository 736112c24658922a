#!/usr/bin/env python3
"""Compare two generated Verilog files module by module.

For refactorings that must not change the hardware: reports which modules are byte-identical,
which differ (with a short diff), and which exist on one side only. ``--collapse PREFIX`` first
removes a pass-through level of the first file's hierarchy: module ``PREFIX`` is dropped and
``PREFIX.<child>`` is renamed ``PREFIX`` (e.g. ``--collapse axelram_d128_b3_p1.encoder`` for a
wrapper whose only content was the instance ``serial``).

    tools/compare_verilog.py old.v new.v [--collapse TOP.encoder] [--child serial]

Exit code 0 when every module is identical after the mapping, 1 otherwise.
"""

import argparse
import difflib
import re
import sys

_MODULE = re.compile(r"^module \\?(\S+?)\s*\(.*?^endmodule\n", re.S | re.M)


def modules(text):
    """``{name: text}`` of every module in a Verilog file written by Amaranth/Yosys."""
    return {m.group(1): m.group(0) for m in _MODULE.finditer(text)}


def collapse(mods, prefix, child):
    """Drop module ``prefix`` and rename ``prefix.child`` (and below) to ``prefix``."""
    if prefix not in mods:
        raise SystemExit(f"no module {prefix!r} to collapse")
    mods = dict(mods)
    del mods[prefix]
    inner = f"{prefix}.{child}"
    return {name.replace(inner, prefix): body.replace(inner, prefix)
            for name, body in mods.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--collapse", metavar="PREFIX", default=None,
                        help="pass-through module of OLD to remove before comparing")
    parser.add_argument("--child", default="serial",
                        help="the instance name inside the collapsed module (default serial)")
    args = parser.parse_args(argv)
    with open(args.old) as f:
        old = modules(f.read())
    with open(args.new) as f:
        new = modules(f.read())
    if args.collapse:
        old = collapse(old, args.collapse, args.child)
    same = [name for name in new if old.get(name) == new[name]]
    differ = [name for name in new if name in old and old[name] != new[name]]
    only_old, only_new = sorted(set(old) - set(new)), sorted(set(new) - set(old))
    print(f"{len(same)} of {len(new)} modules identical; differing: {differ or 'none'}; "
          f"only in old: {only_old or 'none'}; only in new: {only_new or 'none'}")
    for name in differ:
        lines = [line for line in difflib.unified_diff(old[name].splitlines(),
                                                       new[name].splitlines(), lineterm="", n=0)
                 if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        print(f"\n{name}: {len(lines)} differing lines")
        print("\n".join("  " + line for line in lines[:40]))
    return 0 if not (differ or only_old or only_new) else 1


if __name__ == "__main__":
    sys.exit(main())
