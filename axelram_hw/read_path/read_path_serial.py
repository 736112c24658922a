"""The coordinate-serial read side of the macro (``lanes = 1``): packed store, builder, scorer.

::

    store_w ──► PackedIndexStore ◄────── reads ──────┐
    query ───► SerialQueryTableBuilder ── qs ──┐      │
                       ▲   ▲ table reads       ▼      │
                       │   └──────────── SerialScorer ──► score
                       └──── release ─────────┘  ▲
    cmd ─────────────────────────────────────────┘ (joined with the table's qs)

The same interface and contract as :class:`~axelram_hw.read_path.read_path.ReadPath`, for
``cfg.lanes = 1``, built for size: the index store is one single-ported memory of 16-coordinate
words (iCE40 SPRAM), the norms, the query coordinates and the double-buffered table are block
RAM, one multiplier builds the table (one entry per clock) and one multiplies by the norm.

Ordering: commands pair with query vectors in order; a command is accepted once its table is
complete; scores leave in slot order ``first .. first + count - 1``, commands in order,
``last`` on the final score of each; ``count = 0`` gives no score (its table is still built
and released). Slots ``>= t`` score ``oob = 1, mant = exp = 0`` and read no memory; slots
never written score 0 (``mant = 0``, ``exp = qs``, as :meth:`golden.fixed.FixedModel.score`
gives for a zero norm).

Visibility: a key whose last ``store_w`` beat was accepted before a command's ``cmd`` transfer
is seen by all of that command's reads (a word is written in the clock its last coordinate
is accepted; the command's first read comes in the clock after its transfer). A key written
later may or may not be seen; if its ``d`` beats are offered on consecutive clocks it is seen
either whole or not at all, also while a command reads its slot (a key written with gaps into
a slot being read may be seen mixed, as with ``ReadPath``). The memories keep their contents
across ``rst``, which drops everything in flight (a key being written at a reset must be
rewritten).

Rates: ``store_w`` takes one coordinate per clock, also while scoring; the index store's reads
go first, so a word's last beat meeting a read waits (at most two clocks, at most once in 16
beats, and only while the two line up: a few clocks per command). One slot per ``d`` clocks
inside a command (one table look-up per clock), whatever the writes; the next query's table
is built while the current command is scored; all latencies are fixed.

``count`` must be at most ``t`` (slot numbers are ``addr_width + 1`` bits wide).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring

from ..lib.checks import check_serial_config
from .interface import ReadPathSignature
from .join import join_read_path
from .packed_store import PackedIndexStore
from .query_table_serial import SerialQueryTableBuilder
from .scorer_serial import SerialScorer

__all__ = ["SerialReadPath"]


class SerialReadPath(wiring.Component):
    """Packed index store, serial table builder and serial scorer, joined (``lanes = 1``).

    Parameters
    ----------
    cfg : AxelramConfig
        ``lanes`` must be 1.

    Members
    -------
    store_w : In(stream.Signature(store_write_layout(cfg)))
        Key write beats, one coordinate each (``slot`` on every beat, the norm used with the
        last).
    query : In(stream.Signature(ArrayLayout(signed(u_width), 1)))
        Rotated query coordinates, ``d`` per query.
    cmd : In(stream.Signature(command_layout(cfg)))
        One command per query, in order.
    score : Out(stream.Signature(score_layout(cfg)))
        ``{mant, exp, slot, last, oob}`` per slot, bit-exact with
        :meth:`golden.fixed.FixedModel.score`.

    Attributes
    ----------
    store, builder, scorer : PackedIndexStore, SerialQueryTableBuilder, SerialScorer
    clocks_per_query : int
        First ``query`` beat to its table being complete (idle builder, free bank).
    query_latency : int
        First ``query`` beat to the first ``score.valid`` (blocks idle, its ``cmd`` waiting):
        ``clocks_per_query + start_latency + d - 1 + latency``.
    table_gap : int
        Clocks between the last score of a command and the first of the next when both
        tables are built and ``score.ready`` is high: ``d + start_latency = d + 2``.
    clocks_per_slot : int
        One stored slot per ``d`` clocks inside a command (``scorer.latency + 1`` when ``d`` is
        not larger: at d = 4 a key waits for the score register).

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    ValueError
        If ``cfg.lanes`` is not 1.
    """

    def __init__(self, cfg):
        self.cfg = check_serial_config(self, cfg, "ReadPath")
        self.store = PackedIndexStore(cfg)
        self.builder = SerialQueryTableBuilder(cfg)
        self.scorer = SerialScorer(cfg)
        self.clocks_per_query = self.builder.clocks_per_query
        self.query_latency = (self.clocks_per_query + self.scorer.start_latency + cfg.d - 1
                              + self.scorer.latency)
        self.table_gap = cfg.d + self.scorer.start_latency
        # one per d clocks; a key waits for the score register only if d <= the scorer latency
        self.clocks_per_slot = max(cfg.d, self.scorer.latency + 1)
        super().__init__(ReadPathSignature(cfg))

    @staticmethod
    def architecture(cfg):
        """The micro-architecture of a design built on this read path (for its description)."""
        return {
            "form": "coordinate-serial (lanes = 1): one coordinate per clock, iterative norm "
                    "root and thresholds, block-RAM FWHT delay lines and tables",
            "index_store": "single-ported memory of 16-coordinate words (iCE40: SB_SPRAM256KA),"
                           " not initialised (memory *_noinit): a never-written slot scores 0 "
                           "because its norm word (a separate, zero-initialised block RAM) is 0",
        }

    def elaborate(self, platform):
        m = Module()
        join_read_path(m, self)
        return m
