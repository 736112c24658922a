"""The coordinate-serial scorer (``lanes = 1``): one table look-up per clock, one multiply per key.

Bit-exact with :meth:`golden.fixed.FixedModel.score`: for each slot of a command,
``mant = (sum_i term_i) * norm_mant`` and ``exp = qs + norm_exp``, where ``term_i`` is the
table entry selected by the stored index (``idx >= H``: ``+E[idx - H]``, else
``-E[H - 1 - idx]``; ``H - 1 - x`` is ``~x`` on ``b - 1`` bits, so the entry number is the low
index bits XOR the inverted top bit).

Per clock one coordinate ``i`` of the current key is issued (``W = words_per_key``,
``C = coords_per_word``):

====  ==========================================================================================
S0    the index (from a ``C - 1``-index shift register, or at a word start straight from the
      index store's output) addresses the table word ``Cat(j, i, bank)`` (registered read);
      on the key's last coordinate the slot is noted for the score
S1    ``acc <- (first ? 0 : acc) + (E ^ n) + n`` with ``n`` = negate (one adder: the XOR is a
      LUT level, ``n`` the carry in, the restart a LUT level after it); on the key's last
      coordinate ``exp <- qs + norm_exp`` and the norm mantissa is kept
S2..  ``mant <- acc * norm_mant`` (the only multiplier,
      :func:`~axelram_hw.lib.multiply.pipelined_product`: ``M`` stages, 2 at the defaults), the
      accumulator forced to 0 by an explicit select when the norm mantissa is 0 (a never-written
      slot, whatever its undefined index words hold); then the score register
====  ==========================================================================================

**Reads at fixed times.** Word ``w + 1`` of a key (or word 0 of the next slot) is read in the
clock the last coordinate of word ``w`` is issued, so it arrives for its first coordinate; a
key's norm is read one clock after its last word, when that word's first coordinate is issued,
and kept from S1 on. The first word of a command is read in the clock after the command is
taken (so every key whose last write beat came before is seen) and its first coordinate is
issued one clock later (``start_latency = 2``). The index store lets a read go first (a
word's last write beat waits), so the scorer never waits for memory: one slot per ``d``
clocks whatever the writes, and fixed latencies.

**Whole keys.** Relative to its key, every read comes a fixed number of clocks before the
clock a writer that started the key at the same moment would write it (``C`` for the words,
``C - 1`` for the norm, which is written with the last word), and a write that would meet a
read waits. Hence a key whose ``d`` beats are offered on consecutive clocks, written while a
command reads its slot, is seen either old or new as a whole; a key written with gaps may be
seen mixed (as with :class:`~axelram_hw.read_path.scorer.Scorer`).

**Output and back-pressure.** The score register is the only output buffer: a key's last
coordinate (or an out-of-range slot) is issued only while it is empty and no score is on its
way into it, so a stalled ``score`` holds the next key at its last coordinate (its partial sum
waits; the next word is read only with that coordinate) and nothing is ever lost. This takes
the place of the credits and the output FIFO of :class:`~axelram_hw.read_path.scorer.Scorer` (one
credit, taken at the last coordinate instead of the first): a key's score is valid
``latency = 3 + M`` clocks after its last coordinate was issued, and with ``score.ready`` high
it leaves then, before the next key's last coordinate (``d`` clocks later), so no key stalls
while ``d > latency``: one per ``d`` clocks (at d = 4, one per ``latency + 1``). Slots
``>= t`` score ``mant = 0, exp = 0, oob = 1`` without reading memory, one per 2 clocks.

Commands: ``cmd`` is accepted when the scorer is idle; ``count`` must be at most ``t``.
``count = 0`` gives no score; its table is released at once. Scores leave in slot order,
commands in order, ``last`` on a command's final score. ``release`` pulses one clock after a
command's last table read was issued. The ``k``-th command reads table bank ``k mod 2``.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.checks import check_serial_config
from ..lib.interface import ReadPortSignature
from ..lib.multiply import pipelined_product, product_latency
from .interface import score_layout, scorer_command_layout, stored_norm_layout
from .packed_store import coords_per_word, packed_word_layout, words_per_key

__all__ = ["SerialScorer"]


class SerialScorer(wiring.Component):
    """Scores slots ``first .. first + count - 1`` one coordinate per clock.

    Parameters
    ----------
    cfg : AxelramConfig
        ``lanes`` must be 1.

    Members
    -------
    cmd : In(stream.Signature(scorer_command_layout(cfg)))
        ``{first, count, qs}``: a command joined with its table's shift.
    score : Out(stream.Signature(score_layout(cfg)))
    release : Out(1)
        One-clock pulse per command when its table may be overwritten.
    idx : Out(ReadPortSignature(range(t * words_per_key), packed_word_layout(cfg)))
        Index word read (see :class:`~axelram_hw.read_path.packed_store.PackedIndexStore`).
    norm : Out(ReadPortSignature(range(t), stored_norm_layout(cfg)))
        Norm read.
    t : Out(ReadPortSignature(range(2 * d * H), signed(table_width)))
        Table read (see
        :class:`~axelram_hw.read_path.query_table_serial.SerialQueryTableBuilder`).

    Attributes
    ----------
    latency : int
        Clocks from issuing a key's last coordinate to its ``score.valid``: 3.
    start_latency : int
        Clocks from taking a command to issuing its first coordinate: 2.

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    ValueError
        If ``cfg.lanes`` is not 1.
    """

    def __init__(self, cfg):
        self.cfg = check_serial_config(self, cfg, "Scorer")
        self._mul_latency = product_latency(Signal(signed(cfg.acc_width)),
                                            Signal(unsigned(cfg.norm_mant)))
        self.latency = 3 + self._mul_latency
        self.start_latency = 2
        words = cfg.t * words_per_key(cfg)
        super().__init__({
            "cmd": In(stream.Signature(scorer_command_layout(cfg))),
            "score": Out(stream.Signature(score_layout(cfg))),
            "release": Out(1),
            "idx": Out(ReadPortSignature(range(words), packed_word_layout(cfg))),
            "norm": Out(ReadPortSignature(range(cfg.t), stored_norm_layout(cfg))),
            "t": Out(ReadPortSignature(range(2 * cfg.d * cfg.half_levels),
                                       signed(cfg.table_width))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        b, d, t = cfg.b, cfg.d, cfg.t
        C, W = coords_per_word(cfg), words_per_key(cfg)
        log2c = C.bit_length() - 1
        m = Module()

        # ---- command state ------------------------------------------------------------------
        busy = Signal()
        slot = Signal(cfg.addr_width + 1, reset_less=True)  # (loaded with each command)
        rem = Signal(cfg.count_width, reset_less=True)  # slots left, the current one included
        qs = Signal(cfg.table_shift_width, reset_less=True)
        bank = Signal()
        coord = Signal(range(d))  # coordinate of the current key being issued
        release = Signal()

        # ---- index words: each read in the clock before its first coordinate ---------------
        starting = Signal()  # the clock after a command was taken: its first word is read
        faddr = Signal(range(t * W), reset_less=True)  # the next word to read
        sr = Signal(data.ArrayLayout(unsigned(b), C - 1), reset_less=True)

        # ---- the score register --------------------------------------------------------------
        pend = Signal()  # a key's score is in S1 / S2
        o_valid = Signal()
        # (the payload registers count only while o_valid is set: no reset)
        o_slot = Signal(cfg.addr_width + 1, reset_less=True)
        o_last = Signal(reset_less=True)
        o_oob = Signal(reset_less=True)
        o_exp = Signal(cfg.score_exp_width, reset_less=True)
        o_mant = Signal(signed(cfg.score_mant_width), reset_less=True)
        out_free = ~(pend | o_valid)

        # ---- issue --------------------------------------------------------------------------
        oob = slot >= t
        word_start = coord[:log2c] == 0
        last_coord = coord == d - 1
        issue = Signal()
        issue_oob = Signal()
        m.d.comb += [
            issue.eq(busy & ~starting & ~oob & (~last_coord | out_free)),
            issue_oob.eq(busy & ~starting & oob & out_free),
        ]
        key_done = (issue & last_coord) | issue_oob
        cmd_done = key_done & (rem == 1)

        m.d.comb += self.cmd.ready.eq(~busy)
        take = self.cmd.valid & ~busy
        empty = self.cmd.p.count == 0
        cmd_end = cmd_done | (take & empty)
        m.d.sync += release.eq(cmd_end)
        m.d.comb += self.release.eq(release)
        with m.If(cmd_end):
            m.d.sync += bank.eq(~bank)
        with m.If(take):
            m.d.sync += [
                busy.eq(~empty),
                starting.eq(~empty),
                slot.eq(self.cmd.p.first),
                rem.eq(self.cmd.p.count),
                qs.eq(self.cmd.p.qs),
                faddr.eq(self.cmd.p.first << (W.bit_length() - 1)),
            ]
        with m.If(starting):
            m.d.sync += starting.eq(0)
        with m.If(cmd_done):
            m.d.sync += busy.eq(0)
        with m.If(issue):
            m.d.sync += coord.eq(coord + 1)  # wraps at d
        with m.If(key_done):
            m.d.sync += [slot.eq(slot + 1), rem.eq(rem - 1)]

        # word reads: the command's first word when starting, then with each word's last
        # coordinate the next word (of this key, else of the next slot if it is in range)
        key_last_word = coord[log2c:] == W - 1 if W > 1 else 1
        word_end = coord[:log2c] == C - 1
        more = ~(key_last_word & ((rem == 1) | (slot == t - 1)))
        read = Signal()
        m.d.comb += [
            read.eq((starting & ~oob) | (issue & word_end & more)),
            self.idx.en.eq(read),
            self.idx.addr.eq(faddr),
        ]
        with m.If(read):
            m.d.sync += faddr.eq(faddr + 1)
        with m.If(issue & word_start):  # the word read in the clock before
            for k in range(C - 1):
                m.d.sync += sr[k].eq(self.idx.word[k + 1])
        with m.Elif(issue):
            for k in range(C - 2):
                m.d.sync += sr[k].eq(sr[k + 1])
        head = Mux(word_start, self.idx.word[0], sr[0])

        # ---- S0: table and norm reads --------------------------------------------------------
        top = head[b - 1]
        sel = head[:b - 1] ^ (~top).replicate(b - 1)
        m.d.comb += [
            self.t.addr.eq(Cat(sel, coord, bank)),
            self.t.en.eq(issue),
        ]

        # the norm: read with the first coordinate of the key's last word
        m.d.comb += [
            self.norm.addr.eq(slot[:cfg.addr_width]),
            self.norm.en.eq(issue & (coord == d - C)),
        ]

        # ---- S1: accumulate; the exponent ----------------------------------------------------
        s1_valid, s1_last = Signal(), Signal()
        s1_first, s1_neg = Signal(reset_less=True), Signal(reset_less=True)
        m.d.sync += [
            s1_valid.eq(issue),
            s1_first.eq(coord == 0),
            s1_last.eq(issue & last_coord),
            s1_neg.eq(~top),
        ]
        tw = cfg.term_width
        acc = Signal(signed(cfg.acc_width), reset_less=True)
        e = self.t.word.as_signed()
        n = s1_neg
        term = (e ^ n.replicate(tw).as_signed()) + n
        with m.If(s1_valid):
            m.d.sync += acc.eq(Mux(s1_first, term, acc + term))
        norm_mant = Signal(cfg.norm_mant, reset_less=True)
        with m.If(s1_last):
            m.d.sync += [o_exp.eq(qs + self.norm.word.exp), norm_mant.eq(self.norm.word.mant)]

        # ---- S2..: the norm multiply (DSP-sized partial products, registered sums), then the
        # score register ----------------------------------------------------------------------
        s2_last = Signal()
        m.d.sync += s2_last.eq(s1_last)
        zero_norm = norm_mant == 0
        # the zero-norm select on the operand: also no X from never-written index words
        prod = pipelined_product(m, "mul", Mux(zero_norm, 0, acc), norm_mant)
        done = s2_last
        for k in range(self._mul_latency):
            nxt = Signal(name=f"mul{k}_last")
            m.d.sync += nxt.eq(done)
            done = nxt
        with m.If(issue & last_coord):
            m.d.sync += [pend.eq(1), o_slot.eq(slot), o_last.eq(rem == 1), o_oob.eq(0)]
        with m.If(done):
            m.d.sync += [pend.eq(0), o_valid.eq(1), o_mant.eq(prod)]
        with m.If(issue_oob):
            m.d.sync += [o_valid.eq(1), o_slot.eq(slot), o_last.eq(rem == 1), o_oob.eq(1),
                         o_exp.eq(0), o_mant.eq(0)]
        with m.If(self.score.valid & self.score.ready):
            m.d.sync += o_valid.eq(0)
        m.d.comb += [
            self.score.valid.eq(o_valid),
            self.score.p.mant.eq(o_mant),
            self.score.p.exp.eq(o_exp),
            self.score.p.slot.eq(o_slot),
            self.score.p.last.eq(o_last),
            self.score.p.oob.eq(o_oob),
        ]
        return m
