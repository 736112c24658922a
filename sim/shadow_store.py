"""What the macro's index store may hold, slot by slot, from the traffic the testbench saw.

Each write the DUT accepts becomes a *version* (the golden model's stored row: indices, norm
mantissa and exponent). A slot normally has exactly one candidate version. Two things make it
several:

* a reset drops writes still in flight, and which of them reached the store is not observable:
  every write not yet *fenced* becomes a candidate next to what the slot held before;
* a query sees every write accepted before its first beat and possibly later ones
  (``AxelramMacro`` docstring), so a score may also match a version written after the query.

A *fence* is proof that writes were committed: a query's first score comes out only after every
key accepted before the query's first beat is in the store.
"""

import numpy as np

__all__ = ["ShadowStore", "UNKNOWN"]

#: Candidate set of a slot whose contents the testbench cannot know.
UNKNOWN = frozenset()


class ShadowStore:
    """Candidate contents of every slot; version 0 is the all-zero row (never written)."""

    def __init__(self, cfg, *, known=True):
        self.cfg = cfg
        self.rows = [(np.zeros(cfg.d, dtype=np.int64), 0, 0, "never written")]
        self.cands = [frozenset({0}) if known else UNKNOWN] * cfg.t
        self.history = [[] for _ in range(cfg.t)]   # per slot: (seq, version), in order
        self._unfenced = []                         # (seq, slot, version, cands before)
        self.dirty = False                          # a test is using it and has not finished
        self.seq = 0                                # vectors accepted so far (writes, queries)

    def forget(self):
        """Nothing is known any more (a test ended with traffic in an unknown state)."""
        self.cands = [UNKNOWN] * self.cfg.t
        self._unfenced.clear()

    def next_seq(self):
        """Number the next accepted vector (numbers never repeat while the store lives)."""
        self.seq += 1
        return self.seq

    def unknown_slots(self):
        return [s for s, c in enumerate(self.cands) if c == UNKNOWN]

    def write(self, seq, slot, idx, mant, exp, label):
        """Record write number ``seq`` (vector order) of a key to ``slot``; returns its version."""
        version = len(self.rows)
        self.rows.append((np.asarray(idx, dtype=np.int64), int(mant), int(exp), label))
        self._unfenced.append((seq, slot, version, self.cands[slot]))
        self.cands[slot] = frozenset({version})
        self.history[slot].append((seq, version))
        return version

    def candidates(self, slot):
        return self.cands[slot]

    def later(self, slot, seq):
        """Versions written to ``slot`` by writes after vector number ``seq``."""
        return [v for s, v in reversed(self.history[slot]) if s > seq]

    def fence(self, seq):
        """Every write before vector number ``seq`` is in the store."""
        self._unfenced = [u for u in self._unfenced if u[0] > seq]

    def fence_all(self):
        """Every write so far is in the store (the DUT has been idle long enough: a write still
        missing later shows up as a score mismatch, so this cannot hide one)."""
        self._unfenced.clear()

    def reset(self):
        """A reset: each unfenced write may or may not have reached the store."""
        unknown = set()
        for _, slot, version, before in self._unfenced:
            if before == UNKNOWN:
                unknown.add(slot)
            self.cands[slot] = self.cands[slot] | before | {version}
        for slot in unknown:
            self.cands[slot] = UNKNOWN
        self._unfenced.clear()

    def uncertain_slots(self):
        """Slots with several candidate versions, or unknown contents."""
        return [s for s, c in enumerate(self.cands) if len(c) != 1]

    def describe(self, version):
        return self.rows[version][3]
