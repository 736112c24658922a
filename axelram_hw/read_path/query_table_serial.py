"""The coordinate-serial query-table builder (``lanes = 1``): one multiplier, tables in block RAM.

Bit-exact with :meth:`golden.fixed.FixedModel.query` (``H = cfg.half_levels``, ``C_j`` the
centroid ROM, ``Q = cfg.table_shift_max``): ``a = max_i bitlen(ones(v_i))``,
``qs = max(0, a + centroid_rom_width - (table_width - 1))``,
``E[i][j] = (v_i * C_j + 2**(qs-1)) >> qs``.

**Normalised form.** With ``sh = Q - qs = min(Q, (u_width - 1) - a)`` (the leading zeros of
the OR of the one's-complement magnitudes, capped at ``Q``), every ``v_i << sh`` still fits
``u_width`` signed bits, and ``E[i][j] = (v'_i * C_j + 2**(Q-1)) >> Q`` with
``v'_i = v_i << sh``: the per-query shift moves in front of the multiplier, onto the
``u_width``-bit coordinate, and the rounding shift is the constant ``Q`` (bits ``Q-1 .. Q +
table_width - 1`` of the product, then ``(x + 1) >> 1``; exact also for ``qs = 0``; with
``Q = 0`` there is no shifter and the entry is the product itself).

Dataflow:

1. **Load** — one coordinate per clock on ``i`` into the ``v`` memory (two banks of ``d``
   words of ``u_width`` bits, block RAM), while the magnitudes ``v ^ sign`` are OR-ed into one
   register (no adder). One clock after the last coordinate the leading-zero thermometer of
   the OR is registered, one clock later its binary code ``sh``. The next query may start
   loading (into the other bank) as soon as the previous one has started generating, at the
   earliest 4 clocks after the previous query's last coordinate; its first coordinate waits
   until then (``i.ready`` never drops inside a query).
2. **Generate** — when a table bank is free: ``d * H`` entries, one per clock, coordinate
   major: ``v_i`` is read once (held for its ``H`` entries), shifted left by ``sh`` (one
   register per bit of ``sh``, one multiplexer level each), multiplied by ``C_j`` (the only
   multiplier; the ROM word is a LUT of the entry counter; a register before, DSP-sized
   partial products and their registered sums after:
   :func:`~axelram_hw.lib.multiply.pipelined_product`, ``M`` stages), then
   ``(x + 1) >> 1`` (one adder). The next table starts when this one's last entry is written.
3. **Store** — entry ``(i, j)`` into the table memory (two banks of ``d * H`` words of
   ``table_width`` bits, block RAM) at ``Cat(j, i, bank)``; after the last one the table's
   ``qs`` is pushed on ``o``.

The two table banks double-buffer: the next query's table is built while the scorer reads the
current one. ``release`` frees a bank (one pulse per table, in order). No memory word is ever
written and read in the same clock: a query loads into the ``v`` bank the generator does not
read (it starts loading only after the previous query started generating, i.e. after the one
before that was completely generated), and a table is built only into a released bank (the
scorer reads the other one); so both memories are marked ``no_rw_check``.

Latency (``clocks_per_query``, pinned by a test): from the first coordinate on ``i`` to
``o.valid`` with an idle builder and a free bank,
``d + 2 + d * H + shift_stages + 4 + M``: 653 at d=128, b=3.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..lib.checks import check_serial_config
from ..lib.interface import ReadPortSignature
from ..lib.multiply import pipelined_product, product_latency
from .interface import query_beat_layout

__all__ = ["SerialQueryTableBuilder"]


class SerialQueryTableBuilder(wiring.Component):
    """Builds query tables one entry per clock into two block-RAM banks.

    Parameters
    ----------
    cfg : AxelramConfig
        ``lanes`` must be 1.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(u_width), 1)))
        Rotated query coordinates, ``d`` per query, one per beat.
    o : Out(stream.Signature(StructLayout({"qs": unsigned(table_shift_width)})))
        One payload per completed table, in query order: its shift ``qs``. Tables go to banks
        ``0, 1, 0, 1, ...``.
    release : In(1)
        One-clock pulse per table, in order, when the scorer no longer reads it.
    t : In(ReadPortSignature(range(2 * d * H), signed(table_width)))
        Table read port: address ``Cat(j, i, bank)`` (entry ``j`` of coordinate ``i``); the
        entry one clock after ``addr`` / ``en`` (held while ``en`` is low).

    Attributes
    ----------
    banks : int
        2.
    shift_stages : int
        Registers of the normalising shifter, ``bitlen(table_shift_max)``.
    clocks_per_query : int
        Clocks from the first query coordinate to ``o.valid`` (idle builder, free bank).

    Raises
    ------
    TypeError
        If ``cfg`` is not an :class:`AxelramConfig`.
    ValueError
        If ``cfg.lanes`` is not 1.
    """

    def __init__(self, cfg):
        self.cfg = check_serial_config(self, cfg, "QueryTableBuilder")
        self.banks = 2
        self.shift_stages = cfg.table_shift_max.bit_length()
        self._mul_latency = product_latency(Signal(signed(cfg.u_width)),
                                            Signal(cfg.centroid_rom_width))
        # load d, OR complete 1, thermometer 1 (then the start), d*H issues, then read 1,
        # shifter, product, rounding 1 to the last write, token FIFO 2
        self.clocks_per_query = (cfg.d + 2 + cfg.d * cfg.half_levels + self.shift_stages
                                 + 2 + self._mul_latency + 2)
        super().__init__({
            "i": In(stream.Signature(query_beat_layout(cfg))),
            "o": Out(stream.Signature(data.StructLayout({
                "qs": unsigned(cfg.table_shift_width)}))),
            "release": In(1),
            "t": In(ReadPortSignature(range(self.banks * cfg.d * cfg.half_levels),
                                      signed(cfg.table_width))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        d, H, uw, tw = cfg.d, cfg.half_levels, cfg.u_width, cfg.table_width
        Q = cfg.table_shift_max
        sh_width = max(1, self.shift_stages)
        m = Module()

        # A bank is never written and read at once (see the class docstring): no_rw_check
        # spares Yosys's read-during-write logic.
        m.submodules.vmem = vmem = Memory(shape=signed(uw), depth=2 * d, init=[],
                                          attrs={"no_rw_check": 1})
        m.submodules.tmem = tmem = Memory(shape=signed(tw), depth=2 * d * H, init=[],
                                          attrs={"no_rw_check": 1})

        # ---- load: store v, OR the one's-complement magnitudes ------------------------------
        li = Signal(range(d))  # coordinate being loaded
        lbank = Signal()
        or_acc = Signal(uw - 1, reset_less=True)
        fin_valid = Signal()  # or_acc holds a complete query's OR
        th_valid = Signal()
        pend = Signal()  # a loaded query with its sh waits for generation
        pend_sh = Signal(sh_width, reset_less=True)
        v = self.i.p[0]
        m.d.comb += self.i.ready.eq((li != 0) | ~(fin_valid | th_valid | pend))
        accept = self.i.valid & self.i.ready
        load_done = accept & (li == d - 1)
        vw = vmem.write_port()
        m.d.comb += [vw.addr.eq(Cat(li, lbank)), vw.data.eq(v), vw.en.eq(accept)]
        ones = v.as_unsigned()[:uw - 1] ^ v[uw - 1].replicate(uw - 1)
        with m.If(accept):
            m.d.sync += [
                or_acc.eq(Mux(li == 0, 0, or_acc) | ones),
                li.eq(li + 1),  # wraps at d
            ]
        with m.If(load_done):
            m.d.sync += lbank.eq(~lbank)
        m.d.sync += [fin_valid.eq(load_done), th_valid.eq(fin_valid)]

        # thermometer: therm[s-1] = the top s bits of the OR are zero (leading zeros >= s)
        therm = Signal(max(1, Q), reset_less=True)
        zero = 1
        for s in range(1, Q + 1):
            zero = zero & ~or_acc[uw - 1 - s]
            m.d.sync += therm[s - 1].eq(zero)
        # its code: sh = the largest s with therm[s-1] (0 if none)
        code = 0
        for s in range(1, Q + 1):
            top = therm[s - 1] & ~therm[s] if s < Q else therm[s - 1]
            code = code | Mux(top, s, 0)

        # ---- generate: d * H entries, one per clock --------------------------------------
        free = Signal(range(self.banks + 1), init=self.banks)  # table banks to build into
        writing = Signal()  # a table is being issued or is still in the pipeline
        gen = Signal()  # issuing entries
        g = Signal(range(d * H))  # entry being issued: Cat(j, i)
        gbank = Signal()  # v bank being generated from
        gsh = Signal(sh_width, reset_less=True)
        start = pend & (free != 0) & ~writing
        with m.If(th_valid):
            m.d.sync += [pend.eq(1), pend_sh.eq(code)]
        with m.If(start):
            m.d.sync += [pend.eq(0), gen.eq(1), writing.eq(1), gsh.eq(pend_sh)]
        m.d.sync += free.eq(free - start + self.release)
        gen_last = g == d * H - 1
        with m.If(gen):
            m.d.sync += g.eq(g + 1)  # wraps at d * H
            with m.If(gen_last):
                m.d.sync += [gen.eq(0), gbank.eq(~gbank)]

        log2h = cfg.b - 1
        vr = vmem.read_port()
        m.d.comb += [
            vr.addr.eq(Cat(g[log2h:], gbank)),
            vr.en.eq(gen & (g[:log2h] == 0) if log2h else gen),
        ]
        # the valid bit of the pipeline: read, shifter, multiplier input
        valid = Signal(name="rd_valid")
        m.d.sync += valid.eq(gen)
        x = vr.data
        for k in range(self.shift_stages):
            nx = Signal(signed(uw), name=f"sh{k}", reset_less=True)
            nvalid = Signal(name=f"sh{k}_valid")
            m.d.sync += [nx.eq(Mux(gsh[k], x << (1 << k), x)), nvalid.eq(valid)]
            x, valid = nx, nvalid
        # multiplier input: v' (register) and the ROM word of entry j (a LUT of a counter)
        jm = Signal(max(1, log2h))  # entry number j at the multiplier input
        if log2h:
            with m.If(valid):
                m.d.sync += jm.eq(jm + 1)  # wraps at H
        cent = Signal(cfg.centroid_rom_width)
        with m.Switch(jm):
            for j, c in enumerate(cfg.centroid_rom):
                with m.Case(j):
                    m.d.comb += cent.eq(c)
        # v' * C_j exact: DSP-sized partial products and their registered sums
        prod = pipelined_product(m, "prod", x, cent)
        prod_valid = valid
        for k in range(self._mul_latency):
            nvalid = Signal(name=f"mul{k}_valid")
            m.d.sync += nvalid.eq(prod_valid)
            prod_valid = nvalid
        # rounding: (P + 2**(Q-1)) >> Q = ((P >> (Q-1)) + 1) >> 1
        ent = Signal(signed(tw), reset_less=True)
        ent_valid = Signal()
        if Q:
            m.d.sync += ent.eq((prod[Q - 1:Q + tw].as_signed() + 1)[1:])
        else:
            m.d.sync += ent.eq(prod)  # (u_width + centroid_rom_width <= table_width)
        m.d.sync += ent_valid.eq(prod_valid)

        # ---- store ------------------------------------------------------------------------
        wc = Signal(range(d * H))  # entry being written: Cat(j, i)
        wbank = Signal()
        w_last = ent_valid & (wc == d * H - 1)
        tw_port = tmem.write_port()
        m.d.comb += [tw_port.addr.eq(Cat(wc, wbank)), tw_port.data.eq(ent),
                     tw_port.en.eq(ent_valid)]
        with m.If(ent_valid):
            m.d.sync += wc.eq(wc + 1)  # wraps at d * H
        with m.If(w_last):
            m.d.sync += [writing.eq(0), wbank.eq(~wbank)]
        tr = tmem.read_port()
        m.d.comb += [tr.addr.eq(self.t.addr), tr.en.eq(self.t.en), self.t.word.eq(tr.data)]

        # ---- completed tables: qs tokens, at most one per bank ------------------------------
        m.submodules.tokens = tokens = fifo.SyncFIFOBuffered(
            width=cfg.table_shift_width, depth=self.banks)
        m.d.comb += [
            tokens.w_data.eq(Q - gsh),
            tokens.w_en.eq(w_last),
            self.o.valid.eq(tokens.r_rdy),
            self.o.p.qs.eq(tokens.r_data),
            tokens.r_en.eq(self.o.ready),
        ]
        return m
