"""The per-query table builder: rotated query beats in, the ``d x H`` table of ``v_i * C_j`` out.

Bit-exact with :meth:`golden.fixed.FixedModel.query` (``H = cfg.half_levels``, ``C`` the
centroid ROM): ``a = max_i bitlen(ones(v_i))`` with the one's-complement magnitude
``ones(v) = v ^ sign(v)``, ``qs = max(0, a + centroid_rom_width - (table_width - 1))``,
``E[i][j] = (v_i * C_j + 2**(qs-1)) >> qs`` (exact when ``qs = 0``).

Dataflow (``P = cfg.lanes``, ``beats = d / P``):

1. **Load** — ``beats`` beats on ``i`` (one per clock at most). Each beat is stored as it
   arrives (a ``beats x P*u_width`` memory when folded; the ``d``-coordinate shift register when
   ``P = d``) and its one's-complement magnitudes ``v ^ sign`` are OR-reduced
   (``max bitlen = bitlen(OR)``; the XOR merges into the first OR stage's LUTs): 8-input
   OR stages over the lanes, an accumulating OR over the beats, a
   thermometer ``[OR >> (K + s - 1) != 0]`` (``K = table_width - 1 - centroid_rom_width``) and
   its one-hot-to-binary encoding ``qs``.
2. **Generate** — once ``qs`` is known and a table bank is free, one coordinate per clock leaves
   the shift register (folded: a ``P``-coordinate shift register reloaded from the memory every
   ``P`` clocks, the next word read ahead) into ``H`` constant multipliers (a register before,
   pipelined partial products after: :func:`~axelram_hw.lib.multiply.pipelined_product`), a rounding
   adder (``+ 2**(qs-1)``), and a barrel shifter with one register per shift
   bit (``table_shift_width`` stages, one multiplexer level each). Only ``H`` multipliers exist.
3. **Store** — entry row of coordinate ``c*P + p`` goes to lane ``p`` at address ``c`` (plus the
   bank): per-lane memories of ``H * table_width`` bits, so the scorer reads ``P`` rows per clock.
   For ``P = d`` each lane is a register (``d * H * table_width`` flip-flops: 8 kbit at d=128,
   b=3). When the last row is written, ``qs`` is pushed on ``o``: the table is complete.

Clocks per query, input at full rate (``clocks_per_query``, pinned by a test):
``beats + 2 + or_stages`` to load and find ``qs``, ``d + 2 + product latency +
table_shift_width`` to generate (``d`` multiply issues plus the pipeline), 1 (one bank) or 2 to
present the token. Loading the next query overlaps the scoring of the previous one; generating
the next table starts only when a bank is free.

**Banks.** Folded (``P < d``): two banks (double buffering: the lane memories are
``2 * beats`` deep — the same block RAM as ``beats``), so the next table is built while the
scorer reads the current one. Fully parallel (``P = d``): one bank (double buffering would
double the 8-kbit flip-flop table and add a multiplexer to every look-up), so the next table is
generated only after the scorer ``release``\\ s the current one.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..lib.checks import check_config
from ..lib.interface import ReadPortSignature
from ..lib.multiply import pipelined_product, product_latency
from .interface import query_beat_layout

__all__ = ["QueryTableBuilder", "table_banks", "table_row_layout", "query_beat_layout"]

#: Fan-in of one OR-reduction stage over the lanes (an 8-input OR is one LUT level plus a bit).
_OR_FANIN = 8


def table_banks(cfg):
    """Table banks: 2 (double-buffered) when folded, 1 when fully parallel (``P = d``)."""
    return 1 if cfg.beats == 1 else 2


def table_row_layout(cfg):
    """The ``H`` entries of one coordinate: entry ``j`` = ``v_i * C_j`` rounded, signed."""
    return data.ArrayLayout(signed(cfg.table_width), cfg.half_levels)


def _or_stages(lanes):
    n, stages = lanes, 0
    while n > 1:
        n = -(-n // _OR_FANIN)
        stages += 1
    return stages


class QueryTableBuilder(wiring.Component):
    """Builds one query table at a time, one coordinate (``H`` multiplies) per clock.

    Parameters
    ----------
    cfg : AxelramConfig

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(u_width), P)))
        Rotated query beats, ``beats`` per query (beat ``c`` = coordinates ``c*P .. c*P+P-1``).
    o : Out(stream.Signature(StructLayout({"qs": unsigned(table_shift_width)})))
        One payload per completed table, in query order: the table's shift ``qs``. Tables go to
        banks ``0, 1, 0, 1, ...`` (always 0 when fully parallel).
    release : In(1)
        One-clock pulse per table, in order, when the scorer no longer reads it (its bank is
        free from the next clock on).
    t : In(ReadPortSignature(range(banks * beats), ArrayLayout(table_row_layout(cfg), P)))
        Table read port: address ``bank * beats + beat`` and enable (both unused when fully
        parallel); in ``word``, lane ``p`` = row of coordinate ``beat * P + p``, a registered
        read (one clock after ``addr``) when folded, the table registers themselves when fully
        parallel.

    Attributes
    ----------
    banks : int
    clocks_per_query : int
        Clocks from the first query beat to ``o.valid`` with an idle builder and a free bank.
    generate_clocks : int
        Clocks from the start of a table's generation to its last row being written.

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    """

    def __init__(self, cfg):
        self.cfg = check_config(self, cfg)
        self.banks = table_banks(cfg)
        self.or_stages = _or_stages(cfg.lanes)
        token_latency = 1 if self.banks == 1 else 2  # SyncFIFOBuffered of depth banks
        self._mul_latency = max(product_latency(Signal(signed(cfg.u_width)), c)
                                for c in cfg.centroid_rom)
        # GEN entry to the last row written: d issues, the operand register, the multiply, the
        # rounding adder and the shifter
        self.generate_clocks = cfg.d + 2 + self._mul_latency + cfg.table_shift_width
        self.clocks_per_query = (cfg.beats + 2 + self.or_stages  # load, ORs, qs
                                 + self.generate_clocks + token_latency)
        super().__init__({
            "i": In(stream.Signature(query_beat_layout(cfg))),
            "o": Out(stream.Signature(data.StructLayout({
                "qs": unsigned(cfg.table_shift_width)}))),
            "release": In(1),
            "t": In(ReadPortSignature(range(self.banks * cfg.beats),
                                      data.ArrayLayout(table_row_layout(cfg), cfg.lanes))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        P, d, H, beats = cfg.lanes, cfg.d, cfg.half_levels, cfg.beats
        folded = beats > 1
        uw, tw = cfg.u_width, cfg.table_width
        log2_lanes = cfg.log2_lanes
        m = Module()

        # ---- control state ------------------------------------------------------------------
        # LOAD: accept query beats. WAIT: qs being computed / no free bank / previous table
        # still being written (folded: word 0 is read when leaving). GEN: a coordinate per clock.
        free = Signal(range(self.banks + 1), init=self.banks)  # banks neither built nor in use
        writing = Signal()  # a table is in the generate pipeline (gen_qs/gen_rc are in use)
        qs = Signal(cfg.table_shift_width)  # shift of the loaded query
        qs_valid = Signal()
        gen_qs = Signal(cfg.table_shift_width)  # shift of the table being generated
        gen_rc = Signal(cfg.table_shift_max + 1)  # its rounding constant 2**(qs-1) (0 if qs=0)
        gc = Signal(range(d))  # coordinate being issued
        gen_start = Signal()
        gen_issue = Signal()
        gen_last = gc == d - 1
        at_word_start = gc[:log2_lanes] == 0 if log2_lanes else Const(1)

        ld_beat = Signal(range(beats))  # query beat being loaded
        with m.FSM(name="fsm"):
            with m.State("LOAD"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    if folded:
                        m.d.sync += ld_beat.eq(ld_beat + 1)  # wraps at beats
                    with m.If(ld_beat == beats - 1):
                        m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(qs_valid & (free != 0) & ~writing):
                    m.d.comb += gen_start.eq(1)
                    m.next = "GEN"
            with m.State("GEN"):
                m.d.comb += gen_issue.eq(1)
                m.d.sync += gc.eq(gc + 1)  # wraps at d
                with m.If(gen_last):
                    m.next = "LOAD"

        m.d.sync += free.eq(free - gen_start + self.release)
        with m.If(gen_start):
            m.d.sync += [
                qs_valid.eq(0),
                gen_qs.eq(qs),
                gen_rc.eq((Const(1, cfg.table_shift_max + 2) << qs)[1:]),
                writing.eq(1),
            ]

        # ---- load: store the beat, OR-reduce magnitudes, compute qs ---------------------------
        accept = self.i.valid & self.i.ready
        last_beat = ld_beat == beats - 1 if folded else Const(1)

        # coordinate store: folded memory or the d-coordinate shift register, written from the
        # input (the FWHT's output register) directly
        shift_len = P if folded else d
        sh = Signal(data.ArrayLayout(signed(uw), shift_len))
        if folded:
            m.submodules.vmem = vmem = Memory(shape=query_beat_layout(cfg), depth=beats, init=[])
            vw = vmem.write_port()
            vr = vmem.read_port()
            m.d.comb += [vw.addr.eq(ld_beat), vw.data.eq(self.i.payload), vw.en.eq(accept)]

        # one's-complement magnitudes v ^ sign (their bit length is the signed width - 1): a
        # LUT-level XOR that merges into the first OR stage
        mag = [self.i.payload[p].as_unsigned()[:-1] ^ self.i.payload[p][-1].replicate(uw - 1)
               for p in range(P)]
        # OR tree over the lanes, _OR_FANIN inputs per stage
        terms, valid, last = mag, accept, last_beat
        for s in range(self.or_stages):
            groups = [terms[k:k + _OR_FANIN] for k in range(0, len(terms), _OR_FANIN)]
            nxt = [Signal(unsigned(uw - 1), name=f"or{s}_{k}") for k in range(len(groups))]
            for sig, grp in zip(nxt, groups, strict=True):
                acc = grp[0]
                for t in grp[1:]:
                    acc = acc | t
                m.d.sync += sig.eq(acc)
            nvalid, nlast = Signal(name=f"or{s}_valid"), Signal(name=f"or{s}_last")
            m.d.sync += [nvalid.eq(valid), nlast.eq(last)]
            terms, valid, last = nxt, nvalid, nlast
        beat_or = terms[0]
        # OR over the beats of the query
        q_or = Signal(unsigned(uw - 1))
        fin = Signal(unsigned(uw - 1))
        fin_valid = Signal()
        m.d.sync += fin_valid.eq(valid & last)
        with m.If(valid):
            m.d.sync += [q_or.eq(Mux(last, 0, q_or | beat_or)), fin.eq(q_or | beat_or)]
        # thermometer: therm[s-1] = qs >= s  <=>  bitlen(fin) >= K + s  <=>  fin >> (K+s-1) != 0
        K = cfg.table_width - 1 - cfg.centroid_rom_width
        n_therm = cfg.table_shift_max
        therm = Signal(max(1, n_therm))
        therm_valid = Signal()
        m.d.sync += therm_valid.eq(fin_valid)
        for s in range(1, n_therm + 1):
            m.d.sync += therm[s - 1].eq(fin[K + s - 1:].any())
        # one-hot-to-binary: qs = s where therm[s-1] & ~therm[s]
        code = Const(0, cfg.table_shift_width)
        for s in range(1, n_therm + 1):
            top = therm[s - 1] & ~therm[s] if s < n_therm else therm[s - 1]
            code = code | Mux(top, s, 0)
        with m.If(therm_valid):
            m.d.sync += [qs.eq(code), qs_valid.eq(1)]

        # ---- generate: one coordinate per clock through H multipliers ------------------------
        head = Signal(signed(uw))
        if folded:
            # word c is consumed at its first coordinate; the next word is read at that moment
            rd_addr = Signal(range(beats))  # 0 whenever a table starts
            consume = gen_issue & at_word_start
            m.d.comb += [vr.addr.eq(rd_addr), vr.en.eq(gen_start | consume)]
            with m.If(gen_issue & gen_last):
                m.d.sync += rd_addr.eq(0)
            with m.Elif(gen_start | consume):
                m.d.sync += rd_addr.eq(rd_addr + 1)  # wraps at beats
            m.d.comb += head.eq(Mux(at_word_start, vr.data[0], sh[0]))
            with m.If(gen_issue):
                for k in range(P - 1):
                    m.d.sync += sh[k].eq(Mux(at_word_start, vr.data[k + 1], sh[k + 1]))
        else:
            m.d.comb += head.eq(sh[0])
            with m.If(accept):
                m.d.sync += sh.eq(self.i.payload)
            with m.Elif(gen_issue):
                for k in range(d - 1):
                    m.d.sync += sh[k].eq(sh[k + 1])

        # register before the multipliers
        g1_valid, g1_last = Signal(), Signal()
        g1_v = Signal(signed(uw))
        m.d.sync += [g1_valid.eq(gen_issue), g1_last.eq(gen_issue & gen_last), g1_v.eq(head)]
        # multipliers by the constant centroid ROM words (pipelined partial products)
        pw = uw + cfg.centroid_rom_width + 1  # product + rounding constant, signed
        prod = [pipelined_product(m, f"prod{j}", g1_v, c, latency=self._mul_latency)
                for j, c in enumerate(cfg.centroid_rom)]
        g2_valid, g2_last = g1_valid, g1_last
        for k in range(self._mul_latency):
            nvalid, nlast = Signal(name=f"mul{k}_valid"), Signal(name=f"mul{k}_last")
            m.d.sync += [nvalid.eq(g2_valid), nlast.eq(g2_last)]
            g2_valid, g2_last = nvalid, nlast
        # rounding constant
        valid, last = Signal(), Signal()
        x = [Signal(signed(pw), name=f"rnd{j}") for j in range(H)]
        m.d.sync += [valid.eq(g2_valid), last.eq(g2_last)]
        for j in range(H):
            m.d.sync += x[j].eq(prod[j] + gen_rc)
        # barrel shifter, one register per bit of qs
        for k in range(cfg.table_shift_width):
            nvalid, nlast = Signal(name=f"sh{k}_valid"), Signal(name=f"sh{k}_last")
            nx = [Signal(signed(pw), name=f"sh{k}_{j}") for j in range(H)]
            m.d.sync += [nvalid.eq(valid), nlast.eq(last)]
            for j in range(H):
                m.d.sync += nx[j].eq(Mux(gen_qs[k], x[j] >> (1 << k), x[j]))
            valid, last, x = nvalid, nlast, nx

        # ---- store --------------------------------------------------------------------------
        row = Signal(table_row_layout(cfg))
        for j in range(H):
            m.d.comb += row[j].eq(x[j][:tw])
        wc = Signal(range(d))  # coordinate being written
        wbank = Signal(range(self.banks))
        with m.If(valid):
            m.d.sync += wc.eq(wc + 1)  # wraps at d
        with m.If(valid & last):
            m.d.sync += writing.eq(0)
            if self.banks > 1:
                m.d.sync += wbank.eq(wbank + 1)
        lane = wc[:log2_lanes]
        for p in range(P):
            we = valid & (lane == p) if log2_lanes else valid
            if folded:
                mem = Memory(shape=table_row_layout(cfg), depth=self.banks * beats, init=[])
                m.submodules[f"tmem{p}"] = mem
                wp = mem.write_port()
                rp = mem.read_port()
                m.d.comb += [
                    wp.addr.eq(Cat(wc[log2_lanes:], wbank)),
                    wp.data.eq(row),
                    wp.en.eq(we),
                    rp.addr.eq(self.t.addr),
                    rp.en.eq(self.t.en),
                    self.t.word[p].eq(rp.data),
                ]
            else:
                reg = Signal(table_row_layout(cfg), name=f"treg{p}")
                with m.If(we):
                    m.d.sync += reg.eq(row)
                m.d.comb += self.t.word[p].eq(reg)

        # ---- completed tables: qs tokens, at most one per bank ------------------------------
        m.submodules.tokens = tokens = fifo.SyncFIFOBuffered(
            width=cfg.table_shift_width, depth=self.banks)
        m.d.comb += [
            tokens.w_data.eq(gen_qs),
            tokens.w_en.eq(valid & last),
            self.o.valid.eq(tokens.r_rdy),
            self.o.p.qs.eq(tokens.r_data),
            tokens.r_en.eq(self.o.ready),
        ]
        return m
