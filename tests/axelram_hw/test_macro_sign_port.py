"""AxelramMacro with the run-time sign port, against golden.fixed.FixedModel.

Keys, queries and sign writes go in at once with seeded random valid/ready. A monitor stamps the
cycle at which each vector's first beat and each sign write are accepted; the reference applies
the documented rule: a vector uses the patterns of every sign write accepted before its first
beat (``SignSet.with_word`` gives each version, a ``FixedModel`` per version scores it).
"""

import random

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Fragment, Module

from axelram_hw.generate import generate
from axelram_hw.macro import AxelramMacro
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from golden.signs import rom_words
from tests.support.macro import Reference, beats, check, monitor, random_signs, traffic, vectors
from tests.support.streams import run, sink, source


def cfg_id(p):
    return "-".join(f"{k}{v}" for k, v in p.items())


def version_at(sign_stamps, cycle):
    """The sign set in force for a vector whose first beat was accepted at ``cycle``."""
    assert cycle not in sign_stamps, f"a vector started in the clock of a sign write ({cycle})"
    return sum(c < cycle for c in sign_stamps)


def versions(signs, sign_writes):
    out = [signs]
    for layer, word in sign_writes:
        out.append(out[-1].with_word(layer, word))
    return out


def new_words(cfg, rng, n):
    """``n`` sign writes: random layers (one beyond ``layers`` where the port has room for it)
    and random words, one of them all -1."""
    top = 1 << cfg.layer_width
    out = []
    for i in range(n):
        layer = cfg.layers if (i == 1 and top > cfg.layers) else int(rng.integers(cfg.layers))
        word = (1 << cfg.d) - 1 if i == 2 else int.from_bytes(rng.bytes(cfg.d // 8), "little")
        out.append((layer, word))
    return out


CONFIGS = [
    dict(d=16, b=3, t=16, layers=2),
    dict(d=16, b=3, t=16, lanes=4, layers=3),
    dict(d=16, b=3, t=16, lanes=1, layers=2),
    dict(d=8, b=2, t=8, lanes=2),
]


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_sign_writes_between_traffic_bit_exact(params):
    """Keys, queries and sign writes at once with random back-pressure; every score is exact
    for the sign set in force when each key and each query started."""
    cfg = AxelramConfig(**params)
    signs = random_signs(cfg, seed=3)
    rng = np.random.default_rng(cfg.d + cfg.lanes)
    writes, queries = traffic(cfg, rng, 28, 10)
    sign_writes = new_words(cfg, rng, 5)
    dut = AxelramMacro(cfg, signs, sign_port=True)
    prng = random.Random(cfg.lanes)
    wbeats = [b for k, la, s in writes for b in beats(cfg, k, {"layer": la, "slot": s})]
    qbeats = [b for q, la, f, c in queries
              for b in beats(cfg, q, {"layer": la, "first": f, "count": c})]
    sbeats = [{"layer": la, "word": w} for la, w in sign_writes]
    n_scores = sum(c for *_, c in queries)
    stamps, got = {"write": [], "query": [], "signs": []}, []

    async def sign_source(ctx):
        await ctx.tick().repeat(cfg.beats * 6)  # some vectors under the ROM patterns first
        await source(dut.signs, sbeats, rng=random.Random(prng.random()), p_valid=0.08)(ctx)

    run(dut,
        source(dut.write, wbeats, rng=random.Random(prng.random()), p_valid=0.6),
        source(dut.query, qbeats, rng=random.Random(prng.random()), p_valid=0.5),
        sign_source,
        sink(dut.score, n_scores, got, rng=random.Random(prng.random()), p_ready=0.6,
             tail=cfg.beats * 8 + 200),
        background=[monitor(dut, cfg, stamps)],
        deadline_cycles=60000)

    models = [FixedModel(cfg, v) for v in versions(signs, sign_writes)]
    used = {version_at(stamps["signs"], c) for c in stamps["write"] + stamps["query"]}
    assert len(used) >= 3, f"traffic saw only sign versions {used}"  # the test means something
    ref = Reference(cfg, models)
    for (k, la, s), cycle in zip(writes, stamps["write"], strict=True):
        ref.write(cycle, s, k, la, version_at(stamps["signs"], cycle))
    check(cfg, ref, queries, got, stamps["query"],
          version_of=lambda cycle: version_at(stamps["signs"], cycle))


@pytest.mark.parametrize("lanes", [16, 4, 1])
def test_sign_write_waits_for_a_partly_accepted_vector_and_takes_beats_clocks(lanes):
    """A sign write offered in the middle of a key is accepted only after the key's last beat,
    ``beats`` clocks after it starts; the key keeps the old pattern, the next one gets the
    new."""
    cfg = AxelramConfig(d=16, b=3, t=8, lanes=lanes)
    signs = random_signs(cfg, seed=1)
    dut = AxelramMacro(cfg, signs, sign_port=True)
    rng = np.random.default_rng(2)
    keys, q = [vectors(cfg, rng, 1)[0] for _ in range(2)], vectors(cfg, rng, 1)[0]  # Gaussian
    # three signs flipped (flipping all of them, or a Walsh pattern such as 0x5a5a, only
    # negates or permutes u and gives the same scores)
    new = rom_words(signs)[0] ^ 0b111
    got, seen = [], {}

    async def driver(ctx):
        kb = beats(cfg, keys[0], {"layer": 0, "slot": 0})
        for n, b in enumerate(kb):
            ctx.set(dut.write.payload, b)
            ctx.set(dut.write.valid, 1)
            if n == len(kb) // 2 and len(kb) > 1:   # the sign write arrives mid-key
                ctx.set(dut.signs.payload, {"layer": 0, "word": new})
                ctx.set(dut.signs.valid, 1)
            await ctx.tick().until(dut.write.ready)
        ctx.set(dut.write.valid, 0)
        if len(kb) == 1:  # lanes = d: a key is one beat; a waiting sign write would go first
            ctx.set(dut.signs.payload, {"layer": 0, "word": new})
            ctx.set(dut.signs.valid, 1)
        clocks = 0
        while True:
            clocks += 1
            *_, ready = await ctx.tick().sample(dut.signs.ready)
            if ready:
                break
        ctx.set(dut.signs.valid, 0)
        seen["clocks"] = clocks
        await source(dut.write, beats(cfg, keys[1], {"layer": 0, "slot": 1}))(ctx)
        await ctx.tick().repeat(dut.write_latency + 4)
        await source(dut.query, beats(cfg, q, {"layer": 0, "first": 0, "count": 2}))(ctx)

    run(dut, driver, sink(dut.score, 2, got, tail=50), deadline_cycles=3000)
    assert seen["clocks"] == cfg.beats  # the write ran only once the key was wholly in
    old, after = FixedModel(cfg, signs), FixedModel(cfg, signs.with_word(0, new))
    table = after.query(q, 0)
    for n, (right, wrong) in enumerate([(old, after), (after, old)]):
        sc, other = (after.score(table, model.write(keys[n], 0)) for model in (right, wrong))
        assert (int(got[n].mant), int(got[n].exp)) == (int(sc.mant[0]), int(sc.exp[0])), n
        assert (int(sc.mant[0]), int(sc.exp[0])) != (int(other.mant[0]), int(other.exp[0]))


@pytest.mark.parametrize("lanes", [4, 1])
def test_reset_keeps_written_signs(lanes):
    """``rst`` does not restore the ROM words: keys and queries after a reset use the pattern
    written before it."""
    cfg = AxelramConfig(d=16, b=3, t=4, lanes=lanes, layers=2)
    signs = random_signs(cfg, seed=8)
    word = rom_words(signs)[1] ^ 0b111  # (not a Walsh pattern: see above)
    dut = AxelramMacro(cfg, signs, sign_port=True)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    rng = np.random.default_rng(4)
    k, q = vectors(cfg, rng, 2)
    got = []

    async def driver(ctx):
        await source(dut.signs, [{"layer": 1, "word": word}])(ctx)
        ctx.set(cd.rst, 1)
        for _ in range(2):
            await ctx.tick()  # (``repeat`` would raise DomainReset)
        ctx.set(cd.rst, 0)
        await source(dut.write, beats(cfg, k, {"layer": 1, "slot": 2}))(ctx)
        await ctx.tick().repeat(dut.write_latency + 4)
        await source(dut.query, beats(cfg, q, {"layer": 1, "first": 2, "count": 1}))(ctx)
        await sink(dut.score, 1, got, tail=50)(ctx)  # (a sink waiting across rst would raise)

    run(top, driver, deadline_cycles=3000)
    model = FixedModel(cfg, signs.with_word(1, word))
    sc = model.score(model.query(q, 1), model.write(k, 1))
    assert (int(got[0].mant), int(got[0].exp)) == (int(sc.mant[0]), int(sc.exp[0]))
    rom = FixedModel(cfg, signs)
    sc_rom = rom.score(rom.query(q, 1), rom.write(k, 1))
    assert (int(sc.mant[0]), int(sc.exp[0])) != (int(sc_rom.mant[0]), int(sc_rom.exp[0]))


def test_sign_port_is_optional():
    cfg = AxelramConfig(d=16, b=3, t=8, lanes=4, layers=3)
    plain, port = AxelramMacro(cfg), AxelramMacro(cfg, sign_port=True)
    for dut in (plain, port):  # built to look at: elaborate them (no UnusedElaboratable)
        Fragment.get(dut, None)
    assert "signs" not in plain.signature.members
    assert plain.sign_write_clocks is None
    assert port.sign_write_clocks == 4
    layout = port.signature.members["signs"].signature.members["payload"].shape
    assert dict(layout.members) == {"layer": layout["layer"].shape, "word": layout["word"].shape}
    assert (layout["layer"].shape.width, layout["word"].shape.width) == (2, 16)


def test_generate_and_describe_the_sign_port(tmp_path):
    """``generate(sign_port=True)``: its own name, the ``signs`` port with its fields in the
    JSON, ``roms.sign.writable`` and the write time; the standard description has neither."""
    cfg = AxelramConfig(d=16, b=3, t=8, lanes=4, layers=3)
    signs = random_signs(cfg, seed=5)
    name, text, doc = generate(cfg, signs, sign_port=True)
    assert name == "axelram_d16_b3_t8_p4_l3_signport"
    assert "signs__payload" in text
    port = {p["name"]: p for p in doc["ports"]}
    assert port["signs__valid"]["direction"] == "in" and port["signs__ready"]["direction"] == "out"
    fields = {f["name"]: f for f in port["signs__payload"]["fields"]}
    assert (fields["layer"]["offset"], fields["layer"]["width"]) == (0, 2)
    assert (fields["word"]["offset"], fields["word"]["width"]) == (2, 16)
    assert "bit i set" in fields["word"]["format"]
    assert doc["roms"]["sign"]["writable"] is True
    assert "first beat is accepted" in doc["roms"]["sign"]["write_port"]
    assert doc["timing"]["sign_write_clocks"] == cfg.beats
    assert [int(w, 16) for w in doc["roms"]["sign"]["words_hex"]] == rom_words(signs)

    plain_name, plain_text, plain = generate(cfg, signs)
    assert plain_name == "axelram_d16_b3_t8_p4_l3" and "signs__" not in plain_text
    assert "writable" not in plain["roms"]["sign"] and "sign_write_clocks" not in plain["timing"]
    with pytest.raises(ValueError, match="sign_port needs block 'macro', not 'fwht'"):
        generate(cfg, signs, "fwht", sign_port=True)
