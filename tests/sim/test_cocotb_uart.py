"""cocotb regression of the UART (Icarus) against cocotbext-uart's independent UART model: a
loopback top (RX -> TX) generated from a tiny Amaranth wrapper into build/sim/uart_d<divisor>/.
"""

import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import sim.cocotb_uart
from axelram_hw.board.uart import UARTReceiver, UARTTransmitter
from sim.regression import cocotb_tests
from sim.runner import BUILD, Design, simulator_missing

DIVISORS = [8, 5]


class UARTLoopback(wiring.Component):
    """``rx`` -> receiver -> transmitter -> ``tx``, with the receiver's error counts."""

    rx: In(1)
    tx: Out(1, init=1)
    framing_errors: Out(16)
    overruns: Out(16)

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = UARTReceiver(self.divisor)
        m.submodules.transmitter = transmitter = UARTTransmitter(self.divisor)
        wiring.connect(m, receiver.o, transmitter.i)
        m.d.comb += [
            receiver.rx.eq(self.rx),
            self.tx.eq(transmitter.tx),
            self.framing_errors.eq(receiver.framing_errors),
            self.overruns.eq(receiver.overruns),
        ]
        return m


_RUNS = {}


def _run(divisor):
    """Generate, build and run every cocotb test of ``sim.cocotb_uart`` once per divisor."""
    if divisor not in _RUNS:
        out = BUILD / f"uart_d{divisor}"
        out.mkdir(parents=True, exist_ok=True)
        v = out / "uart_loopback.v"
        text = verilog.convert(UARTLoopback(divisor), name="uart_loopback", emit_src=False)
        if not v.is_file() or v.read_text() != text:   # same text: Icarus does not rebuild
            v.write_text(text)
        design = Design(v, "icarus", out / "icarus")
        _RUNS[divisor] = design.run("sim.cocotb_uart",
                                    extra_env={sim.cocotb_uart.DIVISOR_VAR: str(divisor)})
    return _RUNS[divisor]


@pytest.mark.parametrize("case", cocotb_tests(sim.cocotb_uart))
@pytest.mark.parametrize("divisor", DIVISORS)
def test_uart_against_cocotbext_uart(divisor, case):
    missing = simulator_missing("icarus")
    if missing:
        pytest.skip(missing)
    result = _run(divisor)[case]
    assert result.passed, result.message
