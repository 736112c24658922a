"""The read side of the macro: index store + query-table builder + scorer.

::

    store_w ──► IndexStore ◄──────── reads ────────┐
    query ───► QueryTableBuilder ── table (qs) ──┐  │
                       ▲   ▲ table reads        ▼  │
                       │   └───────────────── Scorer ──► score
                       └──── release ─────────┘  ▲
    cmd ─────────────────────────────────────────┘ (joined with the table's qs)

Ordering: commands pair with query vectors in order (the ``k``-th ``cmd`` is scored against the
``k``-th query's table). A command is accepted once its table is complete; the scores leave in
slot order, commands in order, ``last`` on the final score of each command; ``count = 0``
produces no score beat (its table is still built and released).

Table buffering: double-buffered when folded (``P < d``; two banks in the same block RAM), so the
next query's table is generated while the current command is scored and back-to-back commands
lose one clock (taking the command); single-buffered when fully parallel (``P = d``; a second
8-kbit flip-flop table plus a multiplexer per look-up was judged not cheap), so there the next
table is generated after the current command's last read: ``table_gap`` clocks (about ``d``)
from the last key of one command to the first key of the next. Loading the next query and
finding its ``qs`` always overlap the current command.

Latency with idle blocks: first query beat to first score ``query_latency`` clocks (the table,
then one key through the scorer); then one score per ``beats`` clocks. Both attributes are
pinned by tests.

``count`` must be at most ``t`` (slot numbers are ``addr_width + 1`` bits wide); slots from ``t``
on score as out of bounds.

Writes (``store_w``) and scoring are independent: a key is visible to a command whose reads are
issued after the key's last write beat was accepted (the reads are not transparent); the
integrator orders the two streams. The memories keep their contents across ``rst``.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring

from ..lib.checks import check_config
from .index_store import IndexStore
from .interface import ReadPathSignature
from .join import join_read_path
from .query_table import QueryTableBuilder
from .scorer import Scorer

__all__ = ["ReadPath"]


class ReadPath(wiring.Component):
    """Index store, query-table builder and scorer, joined.

    Parameters
    ----------
    cfg : AxelramConfig

    Members
    -------
    store_w : In(stream.Signature(store_write_layout(cfg)))
        Key write beats (see :class:`~axelram_hw.read_path.index_store.IndexStore`).
    query : In(stream.Signature(ArrayLayout(signed(u_width), P)))
        Rotated query beats, ``beats`` per query.
    cmd : In(stream.Signature(command_layout(cfg)))
        One command per query, in order.
    score : Out(stream.Signature(score_layout(cfg)))
        ``{mant, exp, slot, last, oob}`` per slot, bit-exact with
        :meth:`golden.fixed.FixedModel.score`.

    Attributes
    ----------
    store, builder, scorer : IndexStore, QueryTableBuilder, Scorer
        The sub-blocks (their attributes give latencies and depths).
    clocks_per_query : int
        Clocks to build one table (:attr:`QueryTableBuilder.clocks_per_query`).
    query_latency : int
        Clocks from the first beat on ``query`` to the first ``score.valid``, blocks idle and the
        command waiting.
    table_gap : int
        Clocks from the last score of a command to the first score of the next when both are
        waiting and ``score.ready`` stays high.

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        self.store = IndexStore(cfg)
        self.builder = QueryTableBuilder(cfg)
        self.scorer = Scorer(cfg)
        self.clocks_per_query = self.builder.clocks_per_query
        # first query beat -> table; the command taken; its first key's beats; the scorer; the
        # output FIFO (2)
        self.query_latency = (self.clocks_per_query + 1 + (cfg.beats - 1) + self.scorer.latency
                              + 2)
        # folded: the next table is ready, one clock to take the command; fully parallel: the
        # release (2), WAIT -> GEN (1), generation, the token (1), the command (1)
        self.table_gap = (cfg.beats + 1 if self.builder.banks > 1
                          else self.builder.generate_clocks + 5)
        super().__init__(ReadPathSignature(cfg))

    @staticmethod
    def architecture(cfg):
        """The micro-architecture of a design built on this read path (for its description)."""
        form = ("fully parallel (lanes = d): one key per clock" if cfg.lanes == cfg.d else
                f"folded ({cfg.lanes} lanes, {cfg.beats} clocks per key)")
        return {"form": form,
                "index_store": "dual-ported block RAM, zero-initialised (a never-written slot "
                               "scores 0)"}

    def elaborate(self, platform):
        m = Module()
        join_read_path(m, self)
        return m
