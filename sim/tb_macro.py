"""Testbench for the whole AXELRAM macro (``--block macro``).

Ports (see ``AxelramMacro``): ``write`` ``{key, layer, slot}``, ``query`` ``{query, layer, first,
count}`` (a vector is ``beats`` beats; side fields are taken from its first beat), ``score``
``{mant, exp, slot, last, oob}``. With ``junk=True`` the testbench fills the side fields of
every beat after a vector's first with random values (valid layers, any slot/first/count within
their widths): the DUT must take them from the first beat only.

Reference: ``golden.fixed.FixedModel`` with the sign ROM of the description. Monitors on the two
input streams see what the DUT accepted, in vector order; a write becomes a version in the
:class:`~sim.shadow_store.ShadowStore`; a query queues one expected score per slot, computed when
the score arrives from the slot's candidate versions.

The store model lives as long as the simulator (the DUT's index store keeps its contents across
tests and resets): each test's testbench continues from the last one's, or from *unknown* if that
one did not finish cleanly.
"""

import random
from collections import deque

import numpy as np

from golden.fixed import FixedModel

from .scoreboard import Deferred, Scoreboard
from .shadow_store import ShadowStore
from .streams import StreamMonitor, StreamSink, StreamSource
from .tb import TB

__all__ = ["MacroTB"]

#: Store model per described design, kept across the tests of one simulator run.
_STORES = {}


class MacroTB(TB):
    block = "macro"

    def __init__(self, dut, desc, *, junk=False, **kwargs):
        super().__init__(dut, desc, **kwargs)
        self.junk = junk            # random side fields on the beats after the first
        cfg = self.cfg
        self.model = FixedModel(cfg, desc.signs)
        self.write_src = StreamSource(dut, "write", dut.clk, self.codec("write__payload"),
                                      pause=self.new_pause())
        self.query_src = StreamSource(dut, "query", dut.clk, self.codec("query__payload"),
                                      pause=self.new_pause())
        self.sink = StreamSink(dut, "score", dut.clk, self.codec("score__payload"),
                               pause=self.new_pause(), reset=dut.rst)
        self.sources = [self.write_src, self.query_src]
        self.write_mon = StreamMonitor(dut, "write", dut.clk, self.codec("write__payload"),
                                       reset=dut.rst)
        self.query_mon = StreamMonitor(dut, "query", dut.clk, self.codec("query__payload"),
                                       reset=dut.rst)
        self.write_mon.add_callback(self._write_beat)
        self.query_mon.add_callback(self._query_beat)
        self.sink.monitor.add_callback(self._score_beat)
        self.scoreboard = Scoreboard("macro score")
        self.store = self._store()
        self.on_reset(self._on_reset)
        self._junk = random.Random(self.seed + 17)
        self._wbeats, self._qbeats = [], []
        self._queries = deque()     # [seq, scores still to come] of accepted queries, count > 0
        self.writes_seen = self.queries_seen = 0
        self.writes_sent = self.queries_sent = 0
        self._budget = 0            # clocks the queued traffic may take, for the watchdog

    def _store(self):
        key = str(self.desc.verilog_path.resolve())
        store = _STORES.get(key)
        if store is None:
            # A fresh simulator: the store is initialised to zero.
            store = _STORES[key] = ShadowStore(self.cfg)
        elif store.dirty:
            store.forget()
        store.dirty = True          # until this test finishes cleanly
        return store

    # -- traffic --------------------------------------------------------------------------------

    def _beats(self, vector, head, junk_fields):
        """Payloads of one vector: coordinates per beat; the side fields on the first beat, and
        on the others the same (or random junk within their widths if ``self.junk``)."""
        cfg, p = self.cfg, self.cfg.lanes
        vector = np.asarray(vector, dtype=np.int64)
        if vector.shape != (cfg.d,):
            raise ValueError(f"vector must have shape ({cfg.d},), not {vector.shape}")
        name = "key" if "slot" in head else "query"
        out = []
        for c in range(cfg.beats):
            side = head if c == 0 or not self.junk else {
                f: self._junk.randrange(cfg.layers) if f == "layer" else self._junk.getrandbits(w)
                for f, w in junk_fields}
            out.append({name: vector[c * p:(c + 1) * p].tolist(), **side})
        return out

    def write(self, key, slot, layer=0):
        """Queue a key write."""
        cfg = self.cfg
        if not (0 <= slot < cfg.t and 0 <= layer < cfg.layers):
            raise ValueError(f"slot {slot} / layer {layer} out of range (t={cfg.t}, "
                             f"layers={cfg.layers})")
        for beat in self._beats(key, {"layer": layer, "slot": slot},
                                [("layer", cfg.layer_width), ("slot", cfg.addr_width)]):
            self.write_src.send(beat)
        self.writes_sent += 1
        self._budget += 20 * cfg.beats

    def query(self, q, first, count, layer=0):
        """Queue a query scoring slots ``first .. first + count - 1``."""
        cfg = self.cfg
        if not (0 <= first < cfg.t and 0 <= count <= cfg.t and 0 <= layer < cfg.layers):
            raise ValueError(f"first {first} / count {count} / layer {layer} out of range")
        for beat in self._beats(q, {"layer": layer, "first": first, "count": count},
                                [("layer", cfg.layer_width), ("first", cfg.addr_width),
                                 ("count", cfg.count_width)]):
            self.query_src.send(beat)
        self.queries_sent += 1
        # the table (about d entries per table row, H rows) and one slot per `beats` clocks,
        # with room for pauses on every stream
        self._budget += 20 * cfg.beats + 8 * count * cfg.beats + 4 * cfg.d * cfg.half_levels + 400

    async def accepted(self, source):
        """Wait until ``source`` (``write_src`` or ``query_src``) has delivered all its beats:
        later traffic on the other stream is then ordered after it."""
        await self.wait_until(lambda: source.idle, 4 * self._budget + 2000,
                              f"the {source.name} stream to drain")

    async def make_known(self):
        """Write a zero key to every slot whose contents are unknown (an earlier test failed
        with traffic in flight), so that this test's expectations do not depend on it."""
        unknown = self.store.unknown_slots()
        for slot in unknown:
            self.write(np.zeros(self.cfg.d, dtype=np.int64), slot)
        if unknown:
            await self.settle()
        return len(unknown)

    # -- what the DUT accepted -----------------------------------------------------------------

    def _vector(self, beats, name):
        return np.concatenate([np.asarray(b[name], dtype=np.int64) for b in beats])

    def _write_beat(self, beat):
        self._wbeats.append(beat)
        if len(self._wbeats) == 1:
            self._wseq = self.store.next_seq()
        if len(self._wbeats) < self.cfg.beats:
            return
        head, key = self._wbeats[0], self._vector(self._wbeats, "key")
        self._wbeats = []
        n = self.writes_seen
        self.writes_seen += 1
        if head["layer"] >= self.cfg.layers or head["slot"] >= self.cfg.t:
            raise AssertionError(f"write {n}: the DUT accepted layer {head['layer']} slot "
                                 f"{head['slot']}, which the testbench never sends")
        stored = self.model.write(key[None], head["layer"])
        self.store.write(self._wseq, head["slot"], stored.idx[0], stored.mant[0],
                         stored.exp[0], f"write {n} (slot {head['slot']})")

    def _query_beat(self, beat):
        self._qbeats.append(beat)
        if len(self._qbeats) == 1:
            self._qseq = self.store.next_seq()
        if len(self._qbeats) < self.cfg.beats:
            return
        head, q = self._qbeats[0], self._vector(self._qbeats, "query")
        self._qbeats = []
        n = self.queries_seen
        self.queries_seen += 1
        table = self.model.query(q, head["layer"])
        full, qs = table.full(self.cfg), table.qs
        first, count = head["first"], head["count"]
        for k, slot in enumerate(range(first, first + count)):
            last = int(k == count - 1)
            label = f"query {n} slot {slot}"
            if slot >= self.cfg.t:
                self.scoreboard.expect({"mant": 0, "exp": 0, "slot": slot, "last": last,
                                        "oob": 1}, label)
            else:
                self.scoreboard.expect(Deferred(self._deferred(full, qs, slot, last,
                                                               self._qseq)), label)
        if count:
            self._queries.append([self._qseq, count])

    def _deferred(self, full, qs, slot, last, seq):
        cands = self.store.candidates(slot)
        store = self.store

        def compute():
            versions = list(dict.fromkeys([*sorted(cands), *store.later(slot, seq)]))
            return [self._score(full, qs, slot, last, v) for v in versions]
        return compute

    def _score(self, full, qs, slot, last, version):
        idx, mant, exp, _ = self.store.rows[version]
        acc = int(full[np.arange(self.cfg.d), idx].sum())
        return {"mant": acc * mant, "exp": qs + exp, "slot": slot, "last": last, "oob": 0}

    def _score_beat(self, beat):
        if self._queries:
            head = self._queries[0]
            self.store.fence(head[0])
            head[1] -= 1
            if head[1] == 0:
                self._queries.popleft()
        self.scoreboard.observe(beat)

    def _on_reset(self):
        self._wbeats, self._qbeats = [], []
        self._queries.clear()
        self.scoreboard.drop_outstanding()
        self.store.reset()

    # -- ending a test --------------------------------------------------------------------------

    @property
    def quiet(self):
        return (self.write_src.idle and self.query_src.idle and not self.scoreboard.outstanding
                and not self._wbeats and not self._qbeats)

    async def settle(self, max_clocks=None):
        """Wait until everything queued was accepted and every expected score arrived."""
        limit = max_clocks if max_clocks is not None else 4 * self._budget + 2000
        await self.wait_until(lambda: self.quiet, limit, "the macro to finish its traffic")
        self._budget = 0

    async def finish(self, max_clocks=None):
        """``settle``, check the scores, then check that no extra score comes."""
        await self.settle(max_clocks)
        self.scoreboard.check()
        await self.expect_quiet(["score"], 4 * self.cfg.d + 200)
        self.scoreboard.check()
        self.store.fence_all()
        self.store.dirty = False

    def status(self):
        return (f"{super().status()}; writes seen {self.writes_seen}/{self.writes_sent}, "
                f"queries seen {self.queries_seen}/{self.queries_sent}; "
                f"{self.scoreboard.report().splitlines()[0]}")
