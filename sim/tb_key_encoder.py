"""Testbench for the stand-alone key encoder (``--block key_encoder``): norm, thresholds and
quantiser of each key.

Ports: ``key`` (raw key beats, lanes x in_width), ``u`` (rotated beats, lanes x u_width, same
keys in the same order, independent stream), ``o`` ``{idx: lanes x b, mant, exp}`` per ``u`` beat.
Reference: the stored norm word and the index formula of ``FixedModel.write`` — applied to the
``u`` actually sent, so a test may put ``u`` on the thresholds directly.
"""

import numpy as np

from golden.fixed import encode_norm, quantise, root, scaled_thresholds

from .scoreboard import Scoreboard
from .streams import StreamSink, StreamSource
from .tb import TB

__all__ = ["KeyEncoderTB", "expected_indices"]


def expected_indices(cfg, key, u):
    """``(idx (d,), mant, exp)`` for raw key ``key`` and rotated vector ``u`` (the index formula
    of ``golden.fixed.FixedModel.write``)."""
    m, z = root(cfg, key[None])
    mant, exp = encode_norm(cfg, m, z)
    idx = quantise(cfg, u, scaled_thresholds(cfg, m, z)[0])
    return idx, int(mant[0]), int(exp[0])


class KeyEncoderTB(TB):
    block = "key_encoder"

    def __init__(self, dut, desc, **kwargs):
        super().__init__(dut, desc, **kwargs)
        self.key_src = StreamSource(dut, "key", dut.clk, self.codec("key__payload"),
                                    pause=self.new_pause())
        self.u_src = StreamSource(dut, "u", dut.clk, self.codec("u__payload"),
                                  pause=self.new_pause())
        self.sink = StreamSink(dut, "o", dut.clk, self.codec("o__payload"),
                               pause=self.new_pause(), reset=dut.rst)
        self.sources = [self.key_src, self.u_src]
        self.scoreboard = Scoreboard("key_encoder o")
        self.sink.monitor.add_callback(self.scoreboard.observe)
        self.on_reset(self.scoreboard.drop_outstanding)
        self.keys = 0

    def send(self, key, u):
        """Queue key ``key`` (d,) on ``key`` and ``u`` (d,) on ``u``, and the expected beats."""
        cfg, p = self.cfg, self.cfg.lanes
        key, u = np.asarray(key, dtype=np.int64), np.asarray(u, dtype=np.int64)
        idx, mant, exp = expected_indices(cfg, key, u)
        for c in range(cfg.beats):
            self.key_src.send(key[c * p:(c + 1) * p].tolist())
            self.u_src.send(u[c * p:(c + 1) * p].tolist())
            self.scoreboard.expect({"idx": idx[c * p:(c + 1) * p].tolist(), "mant": mant,
                                    "exp": exp}, f"key {self.keys} beat {c}")
        self.keys += 1

    async def finish(self, max_clocks=None):
        latency = self.desc.timing.get("latency", 64)
        tail = latency + 2 * self.cfg.beats + 8
        if max_clocks is None:
            max_clocks = 20 * (self.scoreboard.outstanding + self.key_src.pending) + 4 * tail + 200
        await self.wait_until(
            lambda: all(s.idle for s in self.sources) and not self.scoreboard.outstanding,
            max_clocks, "the key encoder output")
        self.scoreboard.check()
        await self.expect_quiet(["o"], tail)
        self.scoreboard.check()

    def status(self):
        return f"{super().status()}; {self.scoreboard.report().splitlines()[0]}"
