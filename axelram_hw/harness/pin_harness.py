"""A five-pin harness around the macro, for place and route and timing on a real package."""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..macro import AxelramMacro

__all__ = ["PinHarness"]


class PinHarness(wiring.Component):
    """:class:`~axelram_hw.macro.AxelramMacro` with its wide ports behind a few pins.

    The macro's ports are thousands of bits wide at ``lanes = d``: more than any package has
    pins, and a stand-alone netlist cannot be placed. This harness keeps every macro port driven
    and observed, so that synthesis removes nothing and place and route sees the macro as it
    would sit inside a larger design:

    * one shift register, as long as the write and query payloads together, shifts in ``sdi``
      every clock; the write payload is its low end, the query payload the rest (separate bits,
      so that nothing in the macro sees two inputs as one and simplifies);
    * ``write_valid``, ``query_valid`` and ``score_ready`` come from pins;
    * ``sdo`` is a register holding the XOR of the score payload, ``score.valid``,
      ``write.ready`` and ``query.ready``.

    It measures: it is not an interface to use (the stimulus is whatever arrives on ``sdi``).
    Timing paths from and to the pins go through registers, so the clock constraint covers the
    macro's register-to-register paths and the harness's own (which are short).

    Parameters
    ----------
    cfg : AxelramConfig
    signs : SignSet or None
        Passed to the macro.
    """

    sdi: In(1)
    write_valid: In(1)
    query_valid: In(1)
    score_ready: In(1)
    sdo: Out(1)

    def __init__(self, cfg, signs=None):
        self.macro = AxelramMacro(cfg, signs)
        self.cfg = cfg
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.macro = macro = self.macro
        write = macro.write.payload.as_value()
        query = macro.query.payload.as_value()
        chain = Signal(len(write) + len(query), name="chain")
        m.d.sync += chain.eq(Cat(self.sdi, chain[:-1]))
        inputs = [Signal(name=n) for n in ("write_valid_r", "query_valid_r", "score_ready_r")]
        m.d.sync += [reg.eq(pin) for reg, pin in
                     zip(inputs, (self.write_valid, self.query_valid, self.score_ready),
                         strict=True)]
        m.d.comb += [
            macro.write.payload.eq(chain[:len(write)]),
            macro.query.payload.eq(chain[len(write):]),
            macro.write.valid.eq(inputs[0]),
            macro.query.valid.eq(inputs[1]),
            macro.score.ready.eq(inputs[2]),
        ]
        out = Signal(name="sdo_r")
        m.d.sync += out.eq(macro.score.payload.as_value().xor() ^ macro.score.valid
                           ^ macro.write.ready ^ macro.query.ready)
        m.d.comb += self.sdo.eq(out)
        return m
