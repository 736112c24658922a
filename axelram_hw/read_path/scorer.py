"""The scorer: stored keys against a built query table, by look-up, one multiply per key.

Bit-exact with :meth:`golden.fixed.FixedModel.score`: for each slot of a command,
``mant = (sum_i term_i) * norm_mant`` and ``exp = qs + norm_exp``, where ``term_i`` is the
table entry selected by the stored index (``idx >= H``: ``+E[idx - H]``, else
``-E[H - 1 - idx]``; ``H - 1 - x`` is ``~x`` on ``b - 1`` bits, so the entry number is the low
bits XOR the inverted top bit).

Pipeline (``P = cfg.lanes``, ``L = log2 P``), free-running — it is never stalled:

====  ==========================================================================================
S0    issue: index word ``slot * beats + beat`` and (on a key's last beat) the norm are read
      (registered block-RAM reads); the table word ``bank * beats + beat`` one clock later
S1    the index and norm words into registers (a block RAM's output feeds no logic)
S2    per lane: entry select (a tree of 2:1 multiplexers on the ``b - 1`` low index bits) and
      the negation flag ``n`` (index below ``H``)
S2..  adder tree over the ``P`` lanes of the one's complements ``e ^ n`` (LUT-level XOR in
      front of the first adders; ``-e = ~e + 1``), one adder level per register stage
      (``L`` stages), and beside it a tree counting the flags ``n``
J     the sum plus the count of negated lanes (the ``+1`` of every negation, one adder)
A     accumulate over the ``beats`` beats of a key (one adder; the first beat restarts it)
M     ``sum * norm_mant``, the only multiplier (:func:`~axelram_hw.lib.multiply.pipelined_product`:
      ``M = product_latency`` stages, 2 at the defaults), and ``qs + exp``
====  ==========================================================================================

A key's score is written into the output FIFO ``5 + L + M`` clocks after its last beat was
issued (``latency``).
Throughput: one key per ``beats`` clocks (one per clock when ``P = d``); a slot ``>= t`` (out of
bounds) is one clock, reads no memory and scores ``mant = 0, exp = 0, oob = 1``.

**Back-pressure.** Memory reads cannot be stalled, so the results land in an output
``BufferedFIFO`` guarded by ``D`` credits: a key is issued only while a credit is free
(taken at its first beat, returned when its score leaves on ``score``), so at most ``D`` scores
are in the pipeline or the FIFO and nothing is lost. The credit loop is issue -> FIFO write
(``beats - 1 + latency``) -> FIFO output (2) -> credit back (1), so
``D = ceil((beats + 2 + latency) / beats)`` credits keep one key per ``beats`` clocks flowing
while ``score.ready`` stays high (``credits``). The FIFO is ``D + 1`` deep
(``fifo_depth``): ``BufferedFIFO`` counts an entry moving to its output register against its
memory for one clock, so with only ``D`` entries two writes in a row into an empty FIFO would
see ``w_rdy`` low. A slower consumer simply throttles issue.

Commands: ``cmd`` is accepted when the scorer is idle (one clock per command); ``count`` must
be at most ``t`` (slot numbers are ``addr_width + 1`` bits wide). ``count = 0``
gives no score beats; its table is released at once. Scores leave in slot order, commands in
order; ``last`` marks the final score of a command. ``release`` pulses two clocks after a
command's last read was issued (its table is no longer needed).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.checks import check_config
from ..lib.fifo import BufferedFIFO
from ..lib.interface import ReadPortSignature
from ..lib.multiply import pipelined_product, product_latency
from .interface import score_layout, scorer_command_layout, stored_norm_layout
from .query_table import table_banks, table_row_layout

__all__ = ["Scorer"]


class Scorer(wiring.Component):
    """Scores slots ``first .. first + count - 1`` against the current query table.

    The ``k``-th command uses table bank ``k mod banks`` (the builder fills banks in the same
    order).

    Parameters
    ----------
    cfg : AxelramConfig

    Members
    -------
    cmd : In(stream.Signature(scorer_command_layout(cfg)))
    score : Out(stream.Signature(score_layout(cfg)))
    release : Out(1)
        One-clock pulse per command when its table may be overwritten.
    idx : Out(ReadPortSignature(range(t * beats), ArrayLayout(unsigned(b), P)))
        Index-store read (see :class:`~axelram_hw.read_path.index_store.IndexStore`); Verilog
        ports ``idx_raddr``, ``idx_ren``, ``idx_rdata`` (likewise below).
    norm : Out(ReadPortSignature(range(t), stored_norm_layout(cfg)))
    t : Out(ReadPortSignature(range(banks * beats), ArrayLayout(table_row_layout(cfg), P)))
        Table read (see :class:`~axelram_hw.read_path.query_table.QueryTableBuilder`).

    Attributes
    ----------
    latency : int
        Clocks from issuing a key's last beat to writing its score into the output FIFO.
    credits : int
        Scores that may be in flight or waiting in the output FIFO.
    fifo_depth : int
        Output FIFO depth, ``credits + 1``.

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        self.banks = table_banks(cfg)
        self._mul_latency = product_latency(Signal(signed(cfg.acc_width)),
                                            Signal(unsigned(cfg.norm_mant)))
        self.latency = 5 + cfg.log2_lanes + self._mul_latency
        # credit loop: issue -> FIFO write (beats - 1 + latency) -> output (2) -> credit back (1)
        self.credits = -(-(cfg.beats + 2 + self.latency) // cfg.beats)
        self.fifo_depth = self.credits + 1
        super().__init__({
            "cmd": In(stream.Signature(scorer_command_layout(cfg))),
            "score": Out(stream.Signature(score_layout(cfg))),
            "release": Out(1),
            "idx": Out(ReadPortSignature(range(cfg.t * cfg.beats),
                                         data.ArrayLayout(unsigned(cfg.b), cfg.lanes))),
            "norm": Out(ReadPortSignature(range(cfg.t), stored_norm_layout(cfg))),
            "t": Out(ReadPortSignature(range(self.banks * cfg.beats),
                                       data.ArrayLayout(table_row_layout(cfg), cfg.lanes))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        P, b, beats = cfg.lanes, cfg.b, cfg.beats
        m = Module()

        # ---- S0: command and issue ------------------------------------------------------------
        busy = Signal()
        slot = Signal(cfg.addr_width + 1)
        rem = Signal(cfg.count_width)  # keys left, including the current one
        beat = Signal(range(beats))
        qs = Signal(cfg.table_shift_width)
        bank = Signal(range(self.banks))
        credits = Signal(range(self.credits + 1), init=self.credits)
        release = Signal()

        m.d.comb += self.cmd.ready.eq(~busy)
        take_cmd = self.cmd.valid & ~busy
        empty_cmd = self.cmd.p.count == 0

        oob = slot >= cfg.t
        at_key_start = beat == 0
        issue = busy & (~at_key_start | (credits != 0))
        item_last = oob | (beat == beats - 1)
        key_done = issue & item_last
        cmd_done = key_done & (rem == 1)
        cmd_end = cmd_done | (take_cmd & empty_cmd)

        # two clocks after the last issue: the last look-up (in S2) has read the table
        release_1 = Signal()
        m.d.sync += [release_1.eq(cmd_end), release.eq(release_1)]
        m.d.comb += self.release.eq(release)
        with m.If(cmd_end & (self.banks > 1)):
            m.d.sync += bank.eq(bank + 1)
        with m.If(take_cmd & ~empty_cmd):
            m.d.sync += [
                busy.eq(1),
                slot.eq(self.cmd.p.first),
                rem.eq(self.cmd.p.count),
                qs.eq(self.cmd.p.qs),
            ]
        with m.If(issue):
            with m.If(item_last):
                m.d.sync += beat.eq(0)
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        with m.If(key_done):
            m.d.sync += [slot.eq(slot + 1), rem.eq(rem - 1)]
        with m.If(cmd_done):
            m.d.sync += busy.eq(0)

        key_addr = slot[:cfg.addr_width]
        # the table is read one clock after the index store, so that its row arrives with the
        # registered index word (S2)
        t_raddr = Signal.like(self.t.addr)
        t_ren = Signal()
        m.d.sync += [t_raddr.eq(Cat(beat, bank)), t_ren.eq(issue & ~oob)]
        m.d.comb += [
            self.idx.addr.eq(Cat(beat, key_addr)),
            self.idx.en.eq(issue & ~oob),
            self.norm.addr.eq(key_addr),
            self.norm.en.eq(issue & ~oob & item_last),
            self.t.addr.eq(t_raddr),
            self.t.en.eq(t_ren),
        ]

        tag_layout = data.StructLayout({
            "valid": 1, "first": 1, "last": 1, "oob": 1, "cmd_last": 1,
            "slot": unsigned(cfg.addr_width + 1), "qs": unsigned(cfg.table_shift_width),
        })
        t0 = Signal(tag_layout)
        m.d.comb += [
            t0.valid.eq(issue), t0.first.eq(at_key_start), t0.last.eq(item_last),
            t0.oob.eq(oob), t0.cmd_last.eq(cmd_done), t0.slot.eq(slot), t0.qs.eq(qs),
        ]

        def stage(prev, name):
            nxt = Signal.like(prev, name=name)
            m.d.sync += nxt.eq(prev)
            return nxt

        # ---- S1: the index and norm words into registers (the block RAMs' slow outputs feed no
        # logic) ---------------------------------------------------------------------------------
        t1 = stage(t0, "t1")
        idx_word = stage(self.idx.word, "idx_word")
        norm = stage(self.norm.word, "norm_word")
        t2 = stage(t1, "t2")

        # ---- S2: entry select per lane -----------------------------------------------------------
        ent = [Signal(signed(cfg.table_width), name=f"ent{p}") for p in range(P)]
        neg = [Signal(name=f"neg{p}") for p in range(P)]
        for p in range(P):
            idx = idx_word[p]
            top = idx[b - 1]
            row = self.t.word[p]
            # entry number H - 1 - x for a negative index is ~x on b - 1 bits
            sel = idx[:b - 1] ^ (~top).replicate(b - 1)
            m.d.sync += [ent[p].eq(_select(row, sel)), neg[p].eq(~top)]
        tag = stage(t2, "t3")
        norm = stage(norm, "norm3")

        # ---- adder tree over the one's complements e ^ n, and the count of negations ------------
        # -e = ~e + 1: the tree sums e ^ n (the XOR is LUT-level, in front of the first adder)
        # and a parallel tree counts the lanes with n = 1; one adder joins them.
        tw = cfg.table_width
        terms = [ent[p] ^ neg[p].replicate(tw).as_signed() for p in range(P)]
        count = list(neg)
        level = 0
        while len(terms) > 1:
            level += 1
            terms = self._tree_level(m, terms, signed(tw + level), f"sum{level}")
            count = self._tree_level(m, count, unsigned(level + 1), f"neg{level}")
            tag = stage(tag, f"t_sum{level}")
            norm = stage(norm, f"norm_sum{level}")
        beat_sum = Signal(signed(tw + cfg.log2_lanes + 1), name="beat_sum")
        m.d.sync += beat_sum.eq(terms[0] + count[0])
        tag = stage(tag, "t_join")
        norm = stage(norm, "norm_join")

        # ---- A: accumulate over the beats of a key ---------------------------------------------
        acc = Signal(signed(cfg.acc_width))
        with m.If(tag.valid):
            m.d.sync += acc.eq(Mux(tag.first, 0, acc) + beat_sum)
        ta = stage(tag, "t_acc")
        norm_a = stage(norm, "norm_acc")

        # ---- M: the norm multiply and the exponent ----------------------------------------------
        prod = pipelined_product(m, "mul", acc, norm_a.mant)
        exp = Signal(unsigned(cfg.score_exp_width))
        m.d.sync += exp.eq(ta.qs + norm_a.exp)
        tm = stage(ta, "t_mul")
        for k in range(1, self._mul_latency):
            tm = stage(tm, f"t_mul{k}")
            exp = stage(exp, f"exp_mul{k}")

        # ---- output FIFO (credit-guarded) -----------------------------------------------------
        # One entry more than credits: BufferedFIFO counts an entry that is moving from its
        # memory to its output register against the memory for a clock (w_rdy would drop).
        m.submodules.out_fifo = out_fifo = BufferedFIFO(
            width=score_layout(cfg).size, depth=self.fifo_depth)
        w_score = Signal(score_layout(cfg))
        m.d.comb += [
            w_score.mant.eq(Mux(tm.oob, 0, prod)),
            w_score.exp.eq(Mux(tm.oob, 0, exp)),
            w_score.slot.eq(tm.slot),
            w_score.last.eq(tm.cmd_last),
            w_score.oob.eq(tm.oob),
            out_fifo.w_data.eq(w_score),
            out_fifo.w_en.eq(tm.valid & tm.last),
            self.score.valid.eq(out_fifo.r_rdy),
            self.score.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.score.ready),
        ]
        take_credit = issue & at_key_start
        give_credit = self.score.valid & self.score.ready
        m.d.sync += credits.eq(credits - take_credit + give_credit)
        return m


    @staticmethod
    def _tree_level(m, terms, shape, name):
        """One adder-tree level: registered sums of neighbouring pairs."""
        out = [Signal(shape, name=f"{name}_{k}") for k in range(len(terms) // 2)]
        m.d.sync += [s.eq(terms[2 * k] + terms[2 * k + 1]) for k, s in enumerate(out)]
        return out


def _select(row, sel):
    """``row[sel]`` as a tree of 2:1 multiplexers on the bits of ``sel`` (LUT-level; a
    ``Switch`` here maps to about twice the LUTs on ECP5)."""
    items = [row[j] for j in range(len(row))]
    for bit in sel:
        items = [Mux(bit, items[k + 1], items[k]) for k in range(0, len(items), 2)]
    return items[0]
