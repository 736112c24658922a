"""Read path (index store + query tables + scorer): test vectors and queries, the store
contents the golden model should see, expected score beats, the check, and a run of writes
then queries/commands/scores with seeded random valid/ready."""

import random
from collections import defaultdict

import numpy as np

from axelram_hw.read_path.packed_store import coords_per_word
from axelram_hw.read_path.read_path import ReadPath
from golden.config import AxelramConfig
from golden.fixed import FixedModel, StoredKeys
from golden.signs import default_signs
from sim import vectors as sim_vectors
from tests.support.streams import run, sink, source

__all__ = ["cfg_id", "serial_config", "model_of", "vectors", "Store",
           "query_beats", "expected_scores", "as_tuples", "check_scores", "after", "then_flag",
           "run_traffic", "versions"]


def vectors(cfg, rng, n_gauss, outlier=True, zero=True, extreme=False, signs=None):
    """Integer vectors (a list): Gaussian at full scale, outlier channels (a few coordinates
    100x), zero, and the extremes (every ``s_i * v_i`` at ``+-2**(in_width-1)`` or one less, so
    ``|v_0|`` comes close to ``d * 2**(in_width-1)``; then the most negative everywhere)."""
    out = list(sim_vectors.gaussian(cfg, rng, n_gauss, scale_bits=0))
    if outlier:
        out += list(sim_vectors.outliers(cfg, rng, 1, shared=False))
    if zero:
        out.append(np.zeros(cfg.d, dtype=np.int64))
    if extreme:
        _, most_negative, _, signed = sim_vectors.extremes(cfg, signs)
        out += [signed, most_negative]
    return out


class Store:
    """What the index store should hold: zeros until written."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.idx = np.zeros((cfg.t, cfg.d), dtype=np.uint8)
        self.mant = np.zeros(cfg.t, dtype=np.int64)
        self.exp = np.zeros(cfg.t, dtype=np.int64)

    def write(self, slots, stored):
        """Record the writes; return their beats for ``store_w``."""
        cfg, P, beats = self.cfg, self.cfg.lanes, []
        for n, s in enumerate(slots):
            self.idx[s], self.mant[s], self.exp[s] = stored.idx[n], stored.mant[n], stored.exp[n]
            for c in range(cfg.beats):
                idx = [int(x) for x in stored.idx[n, c * P:(c + 1) * P]]
                beats.append({"slot": int(s), "idx": idx,
                              "mant": int(stored.mant[n]), "exp": int(stored.exp[n])})
        return beats

    def keys(self):
        return StoredKeys(self.idx.copy(), self.mant.copy(), self.exp.copy())


def query_beats(cfg, model, queries):
    P = cfg.lanes
    out = []
    for q in queries:
        v = model.rotate(q, 0)
        out += [[int(x) for x in v[c * P:(c + 1) * P]] for c in range(cfg.beats)]
    return out


def expected_scores(cfg, model, store, queries, cmds):
    """(mant, exp, slot, last, oob) per score beat, in order."""
    keys = store.keys()
    out = []
    for q, (first, count) in zip(queries, cmds, strict=True):
        sc = model.score(model.query(q), keys)
        for n, s in enumerate(range(first, first + count)):
            last = int(n == count - 1)
            if s < cfg.t:
                out.append((int(sc.mant[s]), int(sc.exp[s]), s, last, 0))
            else:
                out.append((0, 0, s, last, 1))
    return out


def as_tuples(got):
    return [(int(g.mant), int(g.exp), int(g.slot), int(g.last), int(g.oob)) for g in got]


def check_scores(got, want):
    got = as_tuples(got)
    assert len(got) == len(want), f"{len(got)} scores, expected {len(want)}"
    bad = [n for n, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, (f"{len(bad)} of {len(want)} scores differ; first: beat {bad[0]} got "
                     f"(mant, exp, slot, last, oob) {got[bad[0]]}, want {want[bad[0]]}")


def after(flag, testbench):
    """Run ``testbench`` once ``flag['done']`` is set (the writes have all been accepted)."""

    async def wrapped(ctx):
        while not flag.get("done"):
            await ctx.tick()
        await testbench(ctx)
    return wrapped


def then_flag(testbench, flag, settle=2):
    async def wrapped(ctx):
        await testbench(ctx)
        for _ in range(settle):
            await ctx.tick()
        flag["done"] = True
    return wrapped


def run_traffic(cfg, model, store_beats, queries, cmds, want, seed, p=0.6, path=ReadPath):
    """Writes first, then queries, commands and scores, all with random valid/ready, through
    a read path (``ReadPath`` or ``SerialReadPath``)."""
    dut = path(cfg)
    rng = random.Random(seed)
    flag, got = {}, []
    bound = (len(store_beats) * 4 + len(queries) * (dut.clocks_per_query + 40) * 4
             + sum(c for _, c in cmds) * cfg.beats * 8 + 2000)
    run(dut,
        then_flag(source(dut.store_w, store_beats, rng=random.Random(rng.random()), p_valid=p),
                  flag),
        after(flag, source(dut.query, query_beats(cfg, model, queries),
                           rng=random.Random(rng.random()), p_valid=p)),
        after(flag, source(dut.cmd, [{"first": f, "count": c} for f, c in cmds],
                           rng=random.Random(rng.random()), p_valid=p)),
        after(flag, sink(dut.score, len(want), got, rng=random.Random(rng.random()), p_ready=p,
                         tail=4 * cfg.beats + 40)),
        deadline_cycles=bound)
    check_scores(got, want)


def cfg_id(p):
    return "-".join(f"{k}{v}" for k, v in p.items())


def serial_config(params):
    """The ``lanes = 1`` configuration of ``params``."""
    return AxelramConfig(lanes=1, **params)


def model_of(cfg):
    """The golden model with the default sign patterns."""
    return FixedModel(cfg, default_signs(cfg.d, cfg.layers))


def versions(cfg, writes):
    """What the memories hold over time: ``words[(slot, w)]`` and ``norms[slot]`` are lists of
    (clock written, value) in order (a word is written with its last coordinate, the norm with
    the key's last beat)."""
    C = coords_per_word(cfg)
    words, norms = defaultdict(list), defaultdict(list)
    key = []
    for n, slot, idx, mant, exp in writes:
        key.append(idx)
        c = len(key) - 1
        if c % C == C - 1 and slot < cfg.t:
            words[(slot, c // C)].append((n, np.array(key[c - C + 1:c + 1])))
        if c == cfg.d - 1:
            if slot < cfg.t:
                norms[slot].append((n, (mant, exp)))
            key = []
    return words, norms
