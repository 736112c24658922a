"""Testbench for the stand-alone sign flip + FWHT block (``--block fwht``).

Ports: ``i`` ``{data: lanes x in_width signed, neg: lanes bits}``, ``o``: lanes x u_width signed;
a vector is ``beats`` beats each way. Reference: ``golden.fwht.fwht`` of the sign-flipped vector
(what ``FixedModel.rotate`` computes with the sign ROM's negate bits).
"""

import numpy as np

from golden.fwht import fwht

from .scoreboard import Scoreboard
from .streams import StreamSink, StreamSource
from .tb import TB

__all__ = ["FwhtTB"]


class FwhtTB(TB):
    block = "fwht"

    def __init__(self, dut, desc, **kwargs):
        super().__init__(dut, desc, **kwargs)
        self.src = StreamSource(dut, "i", dut.clk, self.codec("i__payload"),
                                pause=self.new_pause())
        self.sink = StreamSink(dut, "o", dut.clk, self.codec("o__payload"),
                               pause=self.new_pause(), reset=dut.rst)
        self.sources = [self.src]
        self.scoreboard = Scoreboard("fwht o")
        self.sink.monitor.add_callback(self.scoreboard.observe)
        self.on_reset(self.scoreboard.drop_outstanding)
        self.vectors = 0

    def send(self, x, neg):
        """Queue one vector ``x`` (d,) with negate bits ``neg`` (d,) and its expected output."""
        cfg = self.cfg
        x, neg = np.asarray(x, dtype=np.int64), np.asarray(neg, dtype=np.int64)
        want = fwht(np.where(neg == 1, -x, x))
        p = cfg.lanes
        for c in range(cfg.beats):
            bits = neg[c * p:(c + 1) * p]
            self.src.send({"data": x[c * p:(c + 1) * p].tolist(),
                           "neg": sum(int(b) << i for i, b in enumerate(bits))})
            self.scoreboard.expect(want[c * p:(c + 1) * p].tolist(),
                                   f"vector {self.vectors} beat {c}")
        self.vectors += 1

    async def finish(self, max_clocks=None):
        """Wait for every expected beat, check that nothing more comes, raise on mismatches."""
        latency = self.desc.timing.get("latency", 64)
        tail = latency + 2 * self.cfg.beats + 8
        if max_clocks is None:
            max_clocks = 20 * (self.scoreboard.outstanding + self.src.pending) + 4 * tail + 200
        await self.wait_until(lambda: self.src.idle and not self.scoreboard.outstanding,
                              max_clocks, "the FWHT output")
        self.scoreboard.check()
        await self.expect_quiet(["o"], tail)
        self.scoreboard.check()

    def status(self):
        return f"{super().status()}; {self.scoreboard.report().splitlines()[0]}"
