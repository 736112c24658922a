"""Shared pieces of the macro tests: test traffic, the ordering-aware reference, the monitor."""

import random

import numpy as np

from golden.fixed import StoredKeys
from golden.signs import SignSet, sign_pattern
from sim.vectors import extremes, gaussian, outliers

__all__ = ["random_signs", "vectors", "beats", "traffic", "Reference", "monitor", "check"]


def random_signs(cfg, seed):
    """A sign set with a different generator seed per layer (as calibration would give)."""
    rows = [sign_pattern(cfg.d, seed + n, n) for n in range(cfg.layers)]
    return SignSet(np.array(rows, dtype=np.int8), seeds=tuple(seed + n for n in range(cfg.layers)),
                   source="test")


def vectors(cfg, rng, n):
    """Gaussian vectors (``sim.vectors``) in a cycle of six: full scale, outlier channels,
    shifted right by 1..``in_width - 1`` bits, then full scale, except that every 12th from the
    4th is zero and every 12th from the 5th an extreme with random signs (their Gaussians are
    still drawn)."""
    out = []
    for i in range(n):
        if i % 6 == 1:
            v = outliers(cfg, rng, 1, shared=False)[0]
        else:
            v = gaussian(cfg, rng, 1, scale_bits=0)[0]
        if i % 6 == 2:
            v = v >> int(rng.integers(1, cfg.in_width))
        elif i % 12 == 3:
            v = np.zeros(cfg.d, dtype=np.int64)
        elif i % 12 == 4:
            v = extremes(cfg, np.where(rng.random(cfg.d) < 0.5, -1, 1))[3]
        out.append(v)
    return out


_junk = random.Random(99)


def beats(cfg, vec, extra):
    """The beats of one vector; ``extra`` (layer, slot or first/count) on the first beat, other
    in-range values on the later ones (the macro must take them from the first beat only)."""
    p, out = cfg.lanes, []
    for c in range(cfg.beats):
        side = extra if c == 0 else {
            "layer": _junk.randrange(cfg.layers), "slot": _junk.randrange(cfg.t),
            "first": _junk.randrange(cfg.t), "count": _junk.randrange(cfg.t + 1)}
        side = {k: side[k] for k in extra}
        out.append({**side, "key" if "slot" in extra else "query": vec[c * p:(c + 1) * p].tolist()})
    return out


class Reference:
    """Per-slot history of stored keys, stamped with the cycle the key was accepted.

    ``models``: one ``FixedModel``, or a list of them, one per sign-set version (the run-time
    sign port); ``version`` picks the one a key was encoded and a query scored under.
    """

    def __init__(self, cfg, models):
        self.cfg = cfg
        self.models = models if isinstance(models, list) else [models]
        zero = self.models[0].write(np.zeros(cfg.d, dtype=np.int64))  # never written: norm 0
        zero = StoredKeys(np.zeros_like(zero.idx), np.zeros_like(zero.mant),
                          np.zeros_like(zero.exp))
        self.history = {s: [(-1, zero)] for s in range(cfg.t)}

    def write(self, cycle, slot, key, layer, version=0):
        self.history[slot].append((cycle, self.models[version].write(key, layer)))

    def candidates(self, table, slot, cycle, version=0):
        """Every score the slot may give to a query accepted at ``cycle`` (the key accepted
        last before it, or any later one: see the macro's ordering rule)."""
        hist = self.history[slot]
        start = max(n for n, (c, _) in enumerate(hist) if c < cycle)
        out = set()
        for _, stored in hist[start:]:
            sc = self.models[version].score(table, stored)
            out.add((int(sc.mant[0]), int(sc.exp[0])))
        return out


def monitor(dut, cfg, stamps):
    """Background testbench: the cycle of each first-beat acceptance on ``write`` and ``query``
    (``stamps["write"]``, ``stamps["query"]``) and, with a sign port, of each sign write
    (``stamps["signs"]``)."""
    names = ["write", "query"] + (["signs"] if "signs" in dut.signature.members else [])
    signals = [x for name in names for x in (getattr(dut, name).valid,
                                             getattr(dut, name).ready)]

    async def testbench(ctx):
        cycle, nbeat = 0, {"write": 0, "query": 0}
        while True:
            sampled = (await ctx.tick().sample(*signals))[2:]
            for n, name in enumerate(names):
                if sampled[2 * n] and sampled[2 * n + 1]:
                    if name == "signs":
                        stamps["signs"].append(cycle)
                        continue
                    if nbeat[name] == 0:
                        stamps[name].append(cycle)
                    nbeat[name] = (nbeat[name] + 1) % cfg.beats
            cycle += 1
    return testbench


def traffic(cfg, rng, n_writes, n_queries, slots=None):
    keys = vectors(cfg, rng, n_writes)
    slots = rng.integers(0, cfg.t, n_writes) if slots is None else slots
    writes = [(k, int(rng.integers(cfg.layers)), int(s)) for k, s in zip(keys, slots,
                                                                         strict=True)]
    ranges = [(0, cfg.t), (int(rng.integers(cfg.t)), 5), (cfg.t - 2, 4), (3, 0),
              (int(rng.integers(cfg.t)), cfg.t)]
    queries = [(q, int(rng.integers(cfg.layers)), *ranges[n % len(ranges)])
               for n, q in enumerate(vectors(cfg, rng, n_queries))]
    return writes, queries


def check(cfg, ref, queries, got, q_stamps, version_of=None):
    """Compare score beats with ``ref``, in order; report the first mismatches.

    ``version_of(cycle)``: the sign-set version in force for a query accepted at ``cycle``
    (``None``: one version)."""
    want_len = sum(c for *_, c in queries)
    assert len(got) == want_len, f"{len(got)} scores, expected {want_len}"
    bad, n = [], 0
    for (q, layer, first, count), cycle in zip(queries, q_stamps, strict=True):
        version = 0 if version_of is None else version_of(cycle)
        table = ref.models[version].query(q, layer)
        for k in range(count):
            s, g, last = first + k, got[n], int(k == count - 1)
            g = (int(g.mant), int(g.exp), int(g.slot), int(g.last), int(g.oob))
            if s >= cfg.t:
                want, ok = "oob", g == (0, 0, s, last, 1)
            else:
                want = ref.candidates(table, s, cycle, version)
                ok = g[2:] == (s, last, 0) and g[:2] in want
            if not ok:
                where = f"slot {s}" + ("" if version_of is None else f", sign version {version}")
                bad.append(f"score {n} ({where}): got (mant, exp, slot, last, oob) {g}, "
                           f"want (mant, exp) in {want}")
            n += 1
    assert not bad, f"{len(bad)} of {n} scores differ; first: " + "; ".join(bad[:3])
