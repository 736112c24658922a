"""The scorer: stored keys against a built query table, by look-up, one multiply per key.

Bit-exact with :meth:`golden.fixed.FixedModel.score`: for each slot of a command,
``mant = (sum_i term_i) * norm_mant`` and ``exp = qs + norm_exp``, where ``term_i`` is the
table entry selected by the stored index (``idx >= H``: ``+E[idx - H]``, else
``-E[H - 1 - idx]``; ``H - 1 - x`` is ``~x`` on ``b - 1`` bits, so the entry number is the low
bits XOR the inverted top bit).

Pipeline (``P = cfg.lanes``, ``L = log2 P``), free-running — it is never stalled:

====  ==========================================================================================
S0    issue: index word ``slot * beats + beat``, table word ``bank * beats + beat`` and (on a
      key's last beat) the norm are read (registered block-RAM reads)
S1    per lane: entry select (one ``H``-way multiplexer)
S2    per lane: conditional negation ``(e ^ n) + n`` (one adder), ``term_width`` bits
S3..  adder tree over the ``P`` lanes, one adder level per register stage (``L`` stages)
A     accumulate over the ``beats`` beats of a key (one adder; the first beat restarts it)
M     ``sum * norm_mant`` (the only multiplier: registers before and after) and ``qs + exp``
====  ==========================================================================================

A key's score is written into the output FIFO ``5 + L`` clocks after its last beat was issued.
Throughput: one key per ``beats`` clocks (one per clock when ``P = d``); a slot ``>= t`` (out of
bounds) is one clock, reads no memory and scores ``mant = 0, exp = 0, oob = 1``.

**Back-pressure.** Memory reads cannot be stalled, so the results land in an output
``SyncFIFOBuffered`` guarded by ``D`` credits: a key is issued only while a credit is free
(taken at its first beat, returned when its score leaves on ``score``), so at most ``D`` scores
are in the pipeline or the FIFO and nothing is lost. The credit loop is issue -> FIFO write
(``beats - 1 + 5 + L``) -> FIFO output (2) -> credit back (1), so ``D = ceil((beats + 7 + L) /
beats)`` credits keep one key per ``beats`` clocks flowing while ``score.ready`` stays high:
15 at d=128, P=128 and 2 at d=128, P=8 (``credits``). The FIFO is ``D + 1`` deep
(``fifo_depth``): ``SyncFIFOBuffered`` counts an entry moving to its output register against its
memory for one clock, so with only ``D`` entries two writes in a row into an empty FIFO would
see ``w_rdy`` low. A slower consumer simply throttles issue.

Commands: ``cmd`` is accepted when the scorer is idle (one clock per command); ``count`` must
be at most ``t`` (slot numbers are ``addr_width + 1`` bits wide). ``count = 0``
gives no score beats; its table is released at once. Scores leave in slot order, commands in
order; ``last`` marks the final score of a command. ``release`` pulses one clock after a
command's last read was issued (its table is no longer needed).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ._stage import check_config
from .index_store import norm_layout
from .query_table import table_banks, table_row_layout

__all__ = ["Scorer", "score_layout", "scorer_command_layout"]


def score_layout(cfg):
    """One score: ``value = mant * 2**(exp + score_exp_offset)``; ``slot`` = first + n."""
    return data.StructLayout({
        "mant": signed(cfg.score_mant_width),
        "exp": unsigned(cfg.score_exp_width),
        "slot": unsigned(cfg.addr_width + 1),
        "last": 1,
        "oob": 1,
    })


def scorer_command_layout(cfg):
    """A scoring command joined with its table's shift."""
    return data.StructLayout({
        "first": unsigned(cfg.addr_width),
        "count": unsigned(cfg.count_width),
        "qs": unsigned(cfg.table_shift_width),
    })


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
    idx_raddr, idx_ren : Out
        Index-store read (see :class:`~axelram_hw.index_store.IndexStore`).
    idx_rdata : In(ArrayLayout(unsigned(b), P))
    norm_raddr, norm_ren : Out
    norm_rdata : In(norm_layout(cfg))
    t_raddr, t_ren : Out
        Table read (see :class:`~axelram_hw.query_table.QueryTableBuilder`).
    t_rdata : In(ArrayLayout(table_row_layout(cfg), P))

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
        self.latency = 5 + cfg.log2_lanes
        # credit loop: issue -> FIFO write (beats - 1 + latency) -> output (2) -> credit back (1)
        self.credits = -(-(cfg.beats + 2 + self.latency) // cfg.beats)
        self.fifo_depth = self.credits + 1
        super().__init__({
            "cmd": In(stream.Signature(scorer_command_layout(cfg))),
            "score": Out(stream.Signature(score_layout(cfg))),
            "release": Out(1),
            "idx_raddr": Out(range(cfg.t * cfg.beats)),
            "idx_ren": Out(1),
            "idx_rdata": In(data.ArrayLayout(unsigned(cfg.b), cfg.lanes)),
            "norm_raddr": Out(range(cfg.t)),
            "norm_ren": Out(1),
            "norm_rdata": In(norm_layout(cfg)),
            "t_raddr": Out(range(self.banks * cfg.beats)),
            "t_ren": Out(1),
            "t_rdata": In(data.ArrayLayout(table_row_layout(cfg), cfg.lanes)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        P, b, H, beats = cfg.lanes, cfg.b, cfg.half_levels, cfg.beats
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

        m.d.sync += release.eq(cmd_end)
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
        m.d.comb += [
            self.idx_raddr.eq(Cat(beat, key_addr)),
            self.idx_ren.eq(issue & ~oob),
            self.norm_raddr.eq(key_addr),
            self.norm_ren.eq(issue & ~oob & item_last),
            self.t_raddr.eq(Cat(beat, bank)),
            self.t_ren.eq(issue & ~oob),
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

        # ---- S1: memory data; entry select per lane --------------------------------------------
        t1 = stage(t0, "t1")
        ent = [Signal(signed(cfg.table_width), name=f"ent{p}") for p in range(P)]
        neg = [Signal(name=f"neg{p}") for p in range(P)]
        for p in range(P):
            idx = self.idx_rdata[p]
            top = idx[b - 1]
            row = self.t_rdata[p]
            if H == 1:
                m.d.sync += ent[p].eq(row[0])
            else:
                sel = idx[:b - 1] ^ (~top).replicate(b - 1)
                with m.Switch(sel):  # an H-way multiplexer (View indexing would be a shifter)
                    for j in range(H):
                        with m.Case(j):
                            m.d.sync += ent[p].eq(row[j])
            m.d.sync += neg[p].eq(~top)
        t2 = stage(t1, "t2")
        norm2 = Signal(norm_layout(cfg))
        m.d.sync += norm2.eq(self.norm_rdata)

        # ---- S2: conditional negation (e ^ n) + n ---------------------------------------------
        tw = cfg.term_width
        terms = [Signal(signed(tw), name=f"term{p}") for p in range(P)]
        for p in range(P):
            e = ent[p].as_signed()
            m.d.sync += terms[p].eq((e ^ neg[p].replicate(tw).as_signed()) + neg[p])
        tag = stage(t2, "t3")
        norm = stage(norm2, "norm3")

        # ---- adder tree ------------------------------------------------------------------------
        level = 0
        while len(terms) > 1:
            level += 1
            nxt = [Signal(signed(tw + level), name=f"sum{level}_{k}")
                   for k in range(len(terms) // 2)]
            for k, s in enumerate(nxt):
                m.d.sync += s.eq(terms[2 * k] + terms[2 * k + 1])
            terms = nxt
            tag = stage(tag, f"t_sum{level}")
            norm = stage(norm, f"norm_sum{level}")
        beat_sum = terms[0]

        # ---- A: accumulate over the beats of a key ---------------------------------------------
        acc = Signal(signed(cfg.acc_width))
        with m.If(tag.valid):
            m.d.sync += acc.eq(Mux(tag.first, 0, acc) + beat_sum)
        ta = stage(tag, "t_acc")
        norm_a = stage(norm, "norm_acc")

        # ---- M: the norm multiply and the exponent ----------------------------------------------
        prod = Signal(signed(cfg.score_mant_width))
        exp = Signal(unsigned(cfg.score_exp_width))
        m.d.sync += [
            prod.eq(acc * norm_a.mant),
            exp.eq(ta.qs + norm_a.exp),
        ]
        tm = stage(ta, "t_mul")

        # ---- output FIFO (credit-guarded) -----------------------------------------------------
        # One entry more than credits: SyncFIFOBuffered counts an entry that is moving from its
        # memory to its output register against the memory for a clock (w_rdy would drop).
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
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

