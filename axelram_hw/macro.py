"""The top-level AXELRAM macro: write keys, score queries, never dequantise."""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.signs import SignSet, default_signs

from .front_end.factory import make_rotation
from .front_end.sign_rom import SignRom
from .lib.checks import check_config
from .lib.fifo import BufferedFIFO
from .read_path.factory import make_read_path
from .write_path.factory import make_key_encoder

__all__ = ["AxelramMacro", "write_layout", "query_layout", "sign_write_layout"]

#: Width of the key sequence counters that order queries after earlier writes.
_SEQ_WIDTH = 16


def write_layout(cfg):
    """One write beat: ``lanes`` key coordinates, the key's layer and its slot."""
    return data.StructLayout({
        "key": data.ArrayLayout(signed(cfg.in_width), cfg.lanes),
        "layer": unsigned(cfg.layer_width),
        "slot": unsigned(cfg.addr_width),
    })


def query_layout(cfg):
    """One query beat: ``lanes`` query coordinates, the layer, and the slots to score."""
    return data.StructLayout({
        "query": data.ArrayLayout(signed(cfg.in_width), cfg.lanes),
        "layer": unsigned(cfg.layer_width),
        "first": unsigned(cfg.addr_width),
        "count": unsigned(cfg.count_width),
    })


def sign_write_layout(cfg):
    """One sign write: a layer and its ``d`` negate bits (bit ``i`` set: coordinate ``i`` has
    sign -1, as in :func:`golden.signs.rom_words`)."""
    return data.StructLayout({
        "layer": unsigned(cfg.layer_width),
        "word": unsigned(cfg.d),
    })


class AxelramMacro(wiring.Component):
    """The AXELRAM macro.

    Keys are written once (sign flip, FWHT, norm, norm-scaled Lloyd–Max comparators, index
    store); each query is rotated once into a look-up table, then every requested slot is scored
    by table look-ups, an adder tree and one multiply by the stored norm.

    Behaviour
    ---------
    * A key or query is ``cfg.beats`` consecutive beats on its stream (beat ``c`` carries
      coordinates ``c*lanes .. c*lanes+lanes-1``). ``layer``, ``slot``, ``first`` and ``count``
      are taken from the first beat of each vector. ``layer`` must be below ``cfg.layers``
      (a larger value reads an unspecified sign pattern).
    * Writes and queries share one sign-flip + FWHT unit; between vectors it alternates between
      the two streams when both are waiting, so neither starves. A query enters only when the
      read path can take it (it holds one query being loaded), so a query waiting for its table
      does not hold up the keys behind it.
    * Ordering: a query is scored only after every key accepted before the query's first beat
      has been committed to the index store, so it sees all earlier writes (and possibly some
      later ones, to any slot, that reach the store before the slot is read). Queries are scored
      in order; scores of one query come out in slot order ``first .. first+count-1``, ``last``
      set on the final one.
    * ``count = 0`` produces no scores. Slots at or beyond ``t`` produce a score beat with
      ``oob = 1`` and ``mant = exp = 0``. Slots never written since configuration hold norm 0 and
      score 0 (the store is initialised to zero; a reset does not clear it).
    * Back-pressure: every stream may be stalled at any time without losing data.
    * Reset (synchronous ``rst``) drops every vector in flight, including keys whose beats were
      all accepted but which had not reached the index store (``write_latency`` clocks); the
      index store keeps its contents, so a slot being written at the reset must be rewritten.
    * Sign writes (only with ``sign_port``): a transfer on ``signs`` replaces the pattern of
      ``layer`` with ``word`` (a ``layer`` at or beyond ``cfg.layers`` is ignored). The rule:
      **a vector uses the patterns in force when its first beat is accepted, for all its
      beats** — every vector whose first beat is accepted after the clock of a write's transfer
      uses the new pattern, every vector accepted before it the old one. To make that hold,
      while ``signs.valid`` is high no first beat of a key or query is accepted; a write starts
      once no vector is partly accepted (folded: between a vector's first and last beat) and
      takes ``sign_write_clocks`` (= ``beats``) clocks, one sign word of ``lanes`` bits per
      clock, ``signs.ready`` high on the last. Vectors already accepted are unaffected (their
      negate bits were read when their beats entered). A waiting sign write holds vectors back,
      so back-to-back writes starve the other streams. The sign memory is not reset: ``rst``
      keeps the patterns written (the ROM words are only its power-up contents); a reset in the
      middle of a folded write leaves that layer partly written, so rewrite it.

    Structure
    ---------
    * ``lanes = d``: a vector is one beat and enters the FWHT straight from its input port (the
      sign ROM is read asynchronously: LUTs); the stream multiplexer, the sign XOR and the
      FWHT's sign-flip adder are the first register stage.
    * ``lanes < d``: one input register stage while the sign ROM (block RAM) is read.
    * ``sign_port``: the sign ROM becomes a memory with one write port and the ROM words as its
      initial contents, read exactly as the ROM is (same timing and latencies).
    * ``lanes = 1``: the coordinate-serial twins, picked by each path's factory
      (:class:`~axelram_hw.front_end.fwht_serial.SerialFWHT`,
      :class:`~axelram_hw.write_path.key_encoder_serial.SerialKeyEncoder`,
      :class:`~axelram_hw.read_path.read_path_serial.SerialReadPath` with its single-ported,
      SPRAM-mapped index store), same signatures and contracts.
    * Flow control: a beat enters only when every block it goes to has room for it (the
      encoder's key credits, the read path taking queries, the side FIFOs), so for
      ``lanes > 1`` the FWHT, the norm and threshold pipelines and the encoder's output are
      never stalled and have no clock enable; back-pressure from ``score`` stops at the scorer
      (credits) and the table builder.

    Timing (pinned by ``tests/axelram_hw/test_macro.py::test_throughput``)
    ----------------------------------------------------------------------
    * Write: one beat per clock, so one key per ``beats`` clocks (one per clock at ``P = d``),
      with no bubbles while the write stream alone is active.
    * Score: one slot per ``beats`` clocks inside a query (slots at or beyond ``t`` are faster).
    * ``query_latency``: first query beat to its first score with the macro idle.
    * ``table_gap``: between the last score of one query and the first of the next when both
      are waiting: ``beats + 1`` clocks when folded (the next table is built meanwhile), about
      ``d`` when fully parallel (single table buffer) or serial (one table entry per clock).

    Parameters
    ----------
    cfg : AxelramConfig
    signs : SignSet or None
        Sign ROM contents (``cfg.layers`` patterns of ``cfg.d`` signs); ``None`` uses the
        portable generator with seed 0 (``golden.signs.default_signs``).
    sign_port : bool
        Add the ``signs`` write port (run-time sign patterns, see *Behaviour*); ``signs`` is
        then the initial contents. Off by default: the generated Verilog is unchanged.

    Attributes
    ----------
    query_latency, table_gap : int
        See *Timing*.
    write_latency : int
        Clocks from a key's first beat to its last row beat entering the index store; queries
        see every key whose first beat came before theirs.
    sign_write_clocks : int or None
        Clocks a sign write takes once it starts (``beats``); ``None`` without ``sign_port``.
    kind_depth, slot_depth, cmd_depth : int
        Depths of the side-information FIFOs (derived from the latencies).

    Members
    -------
    write : In(stream.Signature(write_layout(cfg)))
    query : In(stream.Signature(query_layout(cfg)))
    score : Out(stream.Signature(score_layout(cfg)))
        (:func:`~axelram_hw.read_path.interface.score_layout`)
        ``{mant, exp, slot, last, oob}``; value ``mant * 2**(exp + cfg.score_exp_offset)``.
    signs : In(stream.Signature(sign_write_layout(cfg)))
        Only with ``sign_port``: ``{layer, word}``, one layer's ``d`` negate bits.
    """

    def __init__(self, cfg, signs=None, *, sign_port=False):
        check_config(self, cfg)
        if signs is None:
            signs = default_signs(cfg.d, cfg.layers)
        if not isinstance(signs, SignSet):
            raise TypeError(f"signs must be a SignSet, not {signs!r}")
        signs.check(cfg.d, cfg.layers)
        self.cfg = cfg
        self.sign_set = signs
        self.sign_port = bool(sign_port)
        self.sign_write_clocks = cfg.beats if self.sign_port else None
        # each path's factory picks its micro-architecture (lanes = 1: coordinate-serial)
        self._fwht = make_rotation(cfg)
        self._encoder = make_key_encoder(cfg)
        self._read = make_read_path(cfg)
        # The FWHT runs beside the encoder's norm unit (and is shorter); the rotated beats wait
        # in the encoder's FIFO. Stage 1 (folded only), the encoder, then the beats of one key
        # in and out.
        stage1 = 0 if cfg.beats == 1 else 1
        self.write_latency = stage1 + self._encoder.latency + 2 * (cfg.beats - 1)
        self.query_latency = stage1 + self._fwht.latency + self._read.query_latency
        self.table_gap = self._read.table_gap
        # Side-information FIFO depths, from the vectors that can be between stage 1 and the
        # FIFO's reader at full rate (fewer only throttle the input, they cannot deadlock):
        # vectors inside the FWHT; keys on their way to the store; queries until their command
        # is issued (the FWHT, the table being loaded, one per table bank, one being taken).
        in_fwht = -(-self._fwht.latency // cfg.beats) + 1
        self.kind_depth = in_fwht + 2
        self.slot_depth = -(-self.write_latency // cfg.beats) + 3
        self.cmd_depth = in_fwht + 2 + self._read.builder.banks
        members = {
            "write": In(stream.Signature(write_layout(cfg))),
            "query": In(stream.Signature(query_layout(cfg))),
            "score": Out(self._read.score.signature),
        }
        if self.sign_port:
            members["signs"] = In(stream.Signature(sign_write_layout(cfg)))
        super().__init__(members)

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        m.submodules.fwht = fwht = self._fwht
        m.submodules.encoder = encoder = self._encoder
        m.submodules.read_path = read = self._read
        m.submodules.sign_rom = rom = SignRom(cfg, self.sign_set, writable=self.sign_port)

        # Per-vector side information, in vector order (the FWHT and the encoder are in order).
        m.submodules.kind_fifo = kind_fifo = BufferedFIFO(width=1, depth=self.kind_depth)
        m.submodules.slot_fifo = slot_fifo = BufferedFIFO(width=cfg.addr_width,
                                                         depth=self.slot_depth)
        cmd_layout = data.StructLayout({"first": unsigned(cfg.addr_width),
                                        "count": unsigned(cfg.count_width),
                                        "after": unsigned(_SEQ_WIDTH)})
        m.submodules.cmd_fifo = cmd_fifo = BufferedFIFO(width=cmd_layout.size,
                                                       depth=self.cmd_depth)

        key_seq = Signal(_SEQ_WIDTH)      # keys accepted so far (first beats into the FWHT)
        commit_seq = Signal(_SEQ_WIDTH)   # keys committed to the index store
        # A query enters the FWHT only when the read path will take all its beats as they come
        # out: it takes queries now (query.ready) and none is on its way (``query.ready`` can
        # then only drop by receiving one).
        q_flight = Signal(range(2))
        # what a vector's first beat needs to enter (later beats need only the FWHT and, for a
        # key, the encoder)
        room = {
            "key": encoder.key.ready & slot_fifo.w_rdy & kind_fifo.w_rdy,
            "query": (q_flight == 0) & read.query.ready & cmd_fifo.w_rdy & kind_fifo.w_rdy,
        }
        # a waiting sign write holds every vector at its first beat (see _sign_writes)
        hold = self.signs.valid if self.sign_port else Const(0)
        if cfg.beats == 1:
            enter = self._input_direct(m, rom, room, hold)
        else:
            enter = self._input_staged(m, rom, room, hold)

        # Fan the entering beat out; each destination sees it exactly once.
        m.d.comb += [
            fwht.i.valid.eq(enter.valid),
            fwht.i.payload.data.eq(enter.data),
            fwht.i.payload.neg.eq(enter.neg),
            encoder.key.valid.eq(enter.valid & ~enter.query),
            encoder.key.payload.eq(enter.key),
            kind_fifo.w_en.eq(enter.valid & enter.first),
            kind_fifo.w_data.eq(enter.query),
            slot_fifo.w_en.eq(enter.valid & enter.first & ~enter.query),
            slot_fifo.w_data.eq(enter.slot),
            cmd_fifo.w_en.eq(enter.valid & enter.first & enter.query),
            cmd_fifo.w_data.eq(Cat(enter.first_slot, enter.count, key_seq)),
        ]
        with m.If(enter.valid & enter.first & ~enter.query):
            m.d.sync += key_seq.eq(key_seq + 1)

        # -- after the FWHT: rotated keys to the encoder, rotated queries to the read path ----
        # Every beat leaving the FWHT is taken: its kind was queued two or more clocks before
        # (the FWHT's latency); a key beat has room in the encoder's u FIFO (the encoder's key
        # credits bound the keys inside); a query has the read path waiting (ok_query). So for
        # lanes > 1, where the FWHT is one wide pipeline, its output is never stalled and it
        # needs no enable. The serial blocks (lanes = 1) keep the back-pressure.
        out_beat = Signal(range(cfg.beats))
        out_last = out_beat == cfg.beats - 1
        is_query = kind_fifo.r_data[0]
        m.d.comb += [
            encoder.u.valid.eq(fwht.o.valid & ~is_query),
            encoder.u.payload.eq(fwht.o.payload),
            read.query.valid.eq(fwht.o.valid & is_query),
            read.query.payload.eq(fwht.o.payload),
            fwht.o.ready.eq(1 if cfg.lanes > 1
                            else Mux(is_query, read.query.ready, encoder.u.ready)),
        ]
        with m.If(fwht.o.valid & fwht.o.ready):
            m.d.sync += out_beat.eq(Mux(out_last, 0, out_beat + 1))
            m.d.comb += kind_fifo.r_en.eq(out_last)
        q_in = enter.valid & enter.first & enter.query
        q_out = fwht.o.valid & fwht.o.ready & is_query & out_last
        m.d.sync += q_flight.eq(q_flight + q_in - q_out)

        # -- encoded keys into the index store -------------------------------------------------
        store_beat = Signal(range(cfg.beats))
        # (a key's slot was queued when its first beat entered the FWHT, long before)
        m.d.comb += [
            read.store_w.valid.eq(encoder.o.valid),
            read.store_w.payload.slot.eq(slot_fifo.r_data),
            read.store_w.payload.idx.eq(encoder.o.payload.idx),
            read.store_w.payload.mant.eq(encoder.o.payload.mant),
            read.store_w.payload.exp.eq(encoder.o.payload.exp),
            encoder.o.ready.eq(read.store_w.ready),
        ]
        with m.If(read.store_w.valid & read.store_w.ready):
            m.d.sync += store_beat.eq(Mux(store_beat == cfg.beats - 1, 0, store_beat + 1))
            with m.If(store_beat == cfg.beats - 1):
                m.d.comb += slot_fifo.r_en.eq(1)
                m.d.sync += commit_seq.eq(commit_seq + 1)

        # -- commands, each once the keys written before its query are committed -------------
        cmd = Signal(cmd_layout)
        m.d.comb += cmd.eq(cmd_fifo.r_data)
        behind = Signal(_SEQ_WIDTH)
        m.d.comb += behind.eq(cmd.after - commit_seq)  # keys still to commit (mod 2**16)
        ordered = (behind == 0) | behind[-1]
        m.d.comb += [
            read.cmd.valid.eq(cmd_fifo.r_rdy & ordered),
            read.cmd.payload.first.eq(cmd.first),
            read.cmd.payload.count.eq(cmd.count),
            cmd_fifo.r_en.eq(read.cmd.valid & read.cmd.ready),
        ]

        wiring.connect(m, read.score, wiring.flipped(self.score))
        return m

    def _entering(self):
        """The beat entering the FWHT (and, for a key, the encoder) this clock."""
        cfg = self.cfg
        return Signal(data.StructLayout({
            "valid": 1, "query": 1, "first": 1,
            "data": data.ArrayLayout(signed(cfg.in_width), cfg.lanes),
            "neg": unsigned(cfg.lanes),
            "key": data.ArrayLayout(signed(cfg.in_width), cfg.lanes),
            "slot": unsigned(cfg.addr_width),
            "first_slot": unsigned(cfg.addr_width),
            "count": unsigned(cfg.count_width),
        }), name="enter")

    def _pick(self, m, at_start, owner_q):
        """Round-robin choice of the stream for a vector (held for its other beats)."""
        last_q = Signal()  # who had the previous vector
        pick_q = Signal()
        with m.If(at_start):
            m.d.comb += pick_q.eq(Mux(self.write.valid & self.query.valid, ~last_q,
                                      self.query.valid))
        with m.Else():
            m.d.comb += pick_q.eq(owner_q)
        return pick_q, last_q

    def _input_direct(self, m, rom, room, hold):
        """``lanes = d``: a vector is one beat; it enters the FWHT from the input ports.

        The sign ROM is read asynchronously (``layers`` words of ``d`` bits: LUTs, a constant
        for one layer), so the stream multiplexer, the sign XOR and the FWHT's sign-flip adder
        form the first register stage (the FWHT's own): no input register, and the multiplexer
        and the XOR share one LUT per bit. A key goes to the encoder straight from ``write``.
        """
        pick_q, last_q = self._pick(m, Const(1), Const(0))
        rom_rd = rom.read_port(domain="comb")
        ok_w = self._fwht.i.ready & room["key"]
        ok_q = self._fwht.i.ready & room["query"]
        if self.sign_port:
            ok_w, ok_q = ok_w & ~hold, ok_q & ~hold
            self._sign_writes(m, rom, Const(1))
        enter = self._entering()
        m.d.comb += [
            self.write.ready.eq(~pick_q & ok_w),
            self.query.ready.eq(pick_q & ok_q),
            rom_rd.addr.eq(Mux(pick_q, self.query.payload.layer, self.write.payload.layer)),
            enter.valid.eq(Mux(pick_q, self.query.valid & ok_q, self.write.valid & ok_w)),
            enter.query.eq(pick_q),
            enter.first.eq(1),
            enter.data.eq(Mux(pick_q, self.query.payload.query, self.write.payload.key)),
            enter.neg.eq(rom_rd.data),
            enter.key.eq(self.write.payload.key),
            enter.slot.eq(self.write.payload.slot),
            enter.first_slot.eq(self.query.payload.first),
            enter.count.eq(self.query.payload.count),
        ]
        with m.If(enter.valid):
            m.d.sync += last_q.eq(pick_q)
        return enter

    def _input_staged(self, m, rom, room, hold):
        """``lanes < d``: one register stage (stage 1) while the sign ROM (block RAM) is read
        for the beat; the beat then enters when every destination has room."""
        cfg = self.cfg
        in_beat = Signal(range(cfg.beats))
        owner_q = Signal()  # the stream that owns the current vector (1 = query)
        at_start = in_beat == 0
        pick_q, last_q = self._pick(m, at_start, owner_q)
        in_valid = Mux(pick_q, self.query.valid, self.write.valid)
        if self.sign_port:
            # no first beat while a sign write waits; a write runs only between vectors
            held = at_start & hold
            in_valid = in_valid & ~held
            self._sign_writes(m, rom, at_start)
        # The layer is taken from a vector's first beat and held for its other beats.
        held_layer = Signal(cfg.layer_width)
        vec_layer = Signal(cfg.layer_width)
        m.d.comb += vec_layer.eq(Mux(at_start, Mux(pick_q, self.query.payload.layer,
                                                   self.write.payload.layer), held_layer))
        rom_rd = rom.read_port()

        s1 = self._entering()  # valid: stage 1 holds a beat
        need = Mux(s1.first, Mux(s1.query, room["query"], room["key"]),
                   s1.query | self._encoder.key.ready)
        take = Signal()
        m.d.comb += take.eq(s1.valid & self._fwht.i.ready & need)
        s1_en = ~s1.valid | take
        accept = s1_en & in_valid
        open_ = s1_en & ~held if self.sign_port else s1_en
        m.d.comb += [
            self.write.ready.eq(open_ & ~pick_q),
            self.query.ready.eq(open_ & pick_q),
            rom_rd.en.eq(s1_en),
            rom_rd.addr.eq(Cat(in_beat, vec_layer)[:len(rom_rd.addr)]),
        ]
        with m.If(s1_en):
            m.d.sync += s1.valid.eq(in_valid)
        with m.If(accept):
            data_in = Mux(pick_q, self.query.payload.query, self.write.payload.key)
            m.d.sync += [
                s1.query.eq(pick_q),
                s1.first.eq(at_start),
                s1.data.eq(data_in),
                s1.key.eq(data_in),
                s1.slot.eq(self.write.payload.slot),
                s1.first_slot.eq(self.query.payload.first),
                s1.count.eq(self.query.payload.count),
                owner_q.eq(pick_q),
                in_beat.eq(Mux(in_beat == cfg.beats - 1, 0, in_beat + 1)),
            ]
            with m.If(at_start):
                m.d.sync += [last_q.eq(pick_q), held_layer.eq(vec_layer)]

        enter = self._entering()
        m.d.comb += [enter.eq(s1), enter.valid.eq(take), enter.neg.eq(rom_rd.data)]
        return enter

    def _sign_writes(self, m, rom, between):
        """The ``signs`` port: one layer's ``beats`` sign words, one per clock, while
        ``between`` (no vector partly accepted); ``signs.ready`` on the last word.

        The sign memory has no read-during-write check (``SignRom(writable=True)``): a read's
        data is used only for a beat accepted in that clock (``lanes = d``: the asynchronous
        read; folded: the registered read loaded on acceptance), and no beat is accepted while
        ``signs.valid`` is high at a vector boundary, which is the only time a word is written.
        """
        cfg = self.cfg
        wr = rom.write_port()
        word = Signal(range(cfg.beats))          # the sign word being written
        last = word == cfg.beats - 1
        do_word = self.signs.valid & between
        layer = self.signs.payload.layer
        m.d.comb += [
            wr.en.eq(do_word & (layer < cfg.layers)),
            wr.addr.eq(Cat(word, layer)[:len(wr.addr)]),
            self.signs.ready.eq(do_word & last),
        ]
        with m.Switch(word):  # (a multiplexer; word_select would be a shifter)
            for c in range(cfg.beats):
                with m.Case(c):
                    lanes = self.signs.payload.word[c * cfg.lanes:(c + 1) * cfg.lanes]
                    m.d.comb += wr.data.eq(lanes)
        with m.If(do_word):
            m.d.sync += word.eq(Mux(last, 0, word + 1))
        with m.Else():
            m.d.sync += word.eq(0)
