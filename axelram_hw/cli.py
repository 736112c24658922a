"""The ``axelram`` command line: one sub-command per task.

Every sub-command lives in its own module that defines ``add_parser(subparsers)``; that function
registers the sub-command's arguments and sets ``func`` (called with the parsed arguments, returns
an exit code). Heavy imports (amaranth, torch, transformers) happen inside ``func`` so that
``axelram --help`` stays fast.
"""

import argparse
import importlib
import sys

#: (module, sub-command) in the order ``--help`` lists them.
COMMAND_MODULES = (
    "golden.commands.codebook",
    "golden.commands.ops",
    "axelram_hw.commands.verilog",
    "golden.commands.kvdump",
    "golden.commands.calibrate",
    "golden.commands.evaluate",
)


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2, no traceback."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="axelram",
        description="AXELRAM hardware generator: golden model, RTL generation, calibration and "
                    "evaluation. Run 'axelram <command> --help' for the options of one command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"axelram {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
