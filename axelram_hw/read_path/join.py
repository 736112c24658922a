"""Joining a read path's three blocks: shared by both twins, whose blocks have the same ports."""

from amaranth.lib import wiring

__all__ = ["join_read_path"]


def join_read_path(m, path):
    """Add ``path.store``, ``.builder`` and ``.scorer`` to ``m`` and wire them to ``path``'s
    members (:class:`~axelram_hw.read_path.interface.ReadPathSignature`)."""
    m.submodules.store = store = path.store
    m.submodules.builder = builder = path.builder
    m.submodules.scorer = scorer = path.scorer

    wiring.connect(m, wiring.flipped(path.store_w), store.w)
    wiring.connect(m, wiring.flipped(path.query), builder.i)
    wiring.connect(m, scorer.score, wiring.flipped(path.score))

    # join each command with its table (both must be present; ready depends on valid only)
    both = path.cmd.valid & builder.o.valid
    m.d.comb += [
        scorer.cmd.valid.eq(both),
        scorer.cmd.p.first.eq(path.cmd.p.first),
        scorer.cmd.p.count.eq(path.cmd.p.count),
        scorer.cmd.p.qs.eq(builder.o.p.qs),
        path.cmd.ready.eq(scorer.cmd.ready & builder.o.valid),
        builder.o.ready.eq(scorer.cmd.ready & path.cmd.valid),
        builder.release.eq(scorer.release),
    ]

    # the scorer's memory reads
    wiring.connect(m, scorer.idx, store.idx)
    wiring.connect(m, scorer.norm, store.norm)
    wiring.connect(m, scorer.t, builder.t)
