"""PinHarness: five pins in front of the macro, every macro port driven and observed."""

from amaranth.back import verilog
from amaranth.sim import Simulator

from axelram_hw.harness.pin_harness import PinHarness
from golden.config import AxelramConfig


def test_ports_are_the_five_pins():
    h = PinHarness(AxelramConfig(d=8, b=2, t=8))
    text = verilog.convert(h, name="harness", emit_src=False)
    header = text[text.index("module harness("):].split(";", 1)[0]
    assert sorted(p.strip() for p in header[len("module harness("):-1].split(",")) == sorted(
        ["clk", "rst", "sdi", "write_valid", "query_valid", "score_ready", "sdo"])
    assert "harness.macro" in text  # the macro is inside, not optimised into the harness


def test_sdi_shifts_into_both_payloads():
    cfg = AxelramConfig(d=8, b=2, t=8)
    h = PinHarness(cfg)
    bits = [1, 0, 1, 1, 0, 0, 1, 0] * 20
    n_write = len(h.macro.write.payload.as_value())
    n_query = len(h.macro.query.payload.as_value())
    n = n_write + n_query

    async def testbench(ctx):
        for bit in bits[:n]:
            ctx.set(h.sdi, bit)
            await ctx.tick()
        chain = bits[:n][::-1]  # the first bit in is now at the top
        value = sum(b << i for i, b in enumerate(chain))
        assert ctx.get(h.macro.write.payload.as_value()) == value & ((1 << n_write) - 1)
        assert ctx.get(h.macro.query.payload.as_value()) == value >> n_write

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
