"""The ``axelram`` command line: one sub-command per task.

Every sub-command lives in its own module that defines ``add_parser(subparsers)``; that function
registers the sub-command's arguments and sets ``func`` (called with the parsed arguments, returns
an exit code). Heavy imports (amaranth, torch, transformers) happen inside ``func`` so that
``axelram --help`` stays fast. :data:`COMMANDS` is the one place that registers them.
"""

import argparse
import sys

from axelram_hw.commands import board, verilog
from golden.commands import calibrate, codebook, evaluate, kvdump, ops

#: The sub-command modules, in the order ``--help`` lists them.
COMMANDS = (codebook, ops, verilog, board, kvdump, calibrate, evaluate)


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2, no traceback."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="axelram",
        description="AXELRAM hardware generator: golden model, RTL generation, calibration and "
                    "evaluation. Run 'axelram <command> --help' for the options of one command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
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
