"""Sign flip and fast Walsh–Hadamard transform: ``u = FWHT(s * x)``, bit-exact.

Bit-exact with :meth:`golden.fixed.FixedModel.rotate` (``golden.fwht.fwht`` of the sign-flipped
vector: Sylvester order, unnormalised, exact integers).
"""

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .interface import RotationSignature

__all__ = ["SignFlipFWHT"]


class SignFlipFWHT(wiring.Component):
    """Sign flip followed by the fast Walsh–Hadamard transform, ``u = FWHT(s * x)``.

    A vector is ``cfg.beats`` consecutive beats on ``i`` and leaves as ``cfg.beats`` beats on
    ``o`` (beat ``c``, element ``p`` = coordinate ``c * lanes + p``, both sides). Throughput is
    one beat per clock in steady state, also when folded (``lanes < d``); valid and ready may
    have any gaps. A vector never waits for the next one: the last vector flushes on its own.
    ``rst`` drops every beat in flight (no partial vector survives it).

    Structure (``P = lanes``; between datapath registers at most one adder, or one
    multiplexer; LUT-level XOR/AND in front of an adder):

    1. **Sign flip**: ``neg[p] ? -x : x`` as ``(x ^ neg) + neg``, ``in_width + 1`` bits.
    2. **In-beat butterflies**: ``log2(P)`` stages; stage ``s`` maps the pair ``(i, i + 2**s)``
       to ``(a + b, a - b)``, one bit wider per stage.

       Stages 1 and 2 form one pure pipeline with a global enable
       (``en = ~valid_out | ready_out``, ``i.ready = en``).
    3. **Cross-beat butterflies**: ``log2(d / P)`` stages; stage ``k`` (distance
       ``D = 2**k`` beats) pairs beats ``c`` and ``c + D`` of each group of ``2D`` beats. The
       first ``D`` beats of a group are stored (first-half buffer); each of the next ``D``
       beats is combined with its stored partner: the sum goes to a 2-entry sum queue, the
       difference to a difference FIFO. An output register (a 3-input multiplexer in front)
       takes the ``D`` sums, then the ``D`` differences, while the next group's first half is
       already being stored. Each
       stage has its own handshake: its ``ready`` is a function of its registers only, so no
       combinational path runs from ``o.ready`` to ``i.ready`` through these stages.

    Storage per cross-beat stage ``k`` (``D = 2**k``, ``w`` = its input width
    ``in_width + 1 + log2(P) + k``): a first-half buffer of ``D`` words of ``P * w`` bits
    (a register at ``D = 1``), a difference FIFO of ``max(D, 2)`` words of ``P * (w + 1)``
    bits — both :class:`~amaranth.lib.memory.Memory` with registered, non-transparent read
    ports (block RAM) — and three ``P * (w + 1)``-bit registers (sum queue, output).

    Parameters
    ----------
    cfg : AxelramConfig

    Attributes
    ----------
    latency : int
        Clocks from the transfer of a vector's last beat on ``i`` to the transfer of its last
        beat on ``o`` when neither side stalls:
        ``1 + log2(P) + (beats - 1) + 2 * log2(beats)``
        (pipeline ``1 + log2(P)``, cross-beat stage ``k`` adds ``2**k + 2``).

    Members
    -------
    i : ``In(stream.Signature(fwht_in_layout(cfg)))``
        ``{data, neg}``: ``lanes`` signed ``in_width``-bit coordinates; bit ``p`` of ``neg``
        set negates coordinate ``p`` of the beat (sign ``-1``). ``i.ready`` never depends on
        ``i.valid``.
    o : ``Out(stream.Signature(fwht_out_layout(cfg)))``
        ``lanes`` signed ``u_width``-bit coordinates of ``u``.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self._log2_beats = cfg.log2d - cfg.log2_lanes
        self.latency = (1 + cfg.log2_lanes
                        + sum(_CrossBeatStage.stage_latency(1 << k)
                              for k in range(self._log2_beats)))
        super().__init__(RotationSignature(cfg))

    def _width(self, stages):
        """Signed width after the sign flip and ``stages`` butterfly stages."""
        return self.cfg.u_width - self.cfg.log2d + stages

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        lanes = cfg.lanes

        # -- pure pipeline: sign flip, then the in-beat butterflies, one global enable ---------
        en = Signal()
        out_ready = Signal()
        valid = Signal(name="flip_valid")
        with m.If(en):
            m.d.sync += valid.eq(self.i.valid)
            lane = []
            for p in range(lanes):
                x = self.i.payload.data[p]
                neg = self.i.payload.neg[p]
                # -x = ~x + 1: the XOR is LUT-level, the +neg is the stage's one adder.
                flip = (x ^ neg.replicate(cfg.in_width).as_signed()) + neg
                lane.append(self._reg(m, f"flip_{p}", flip, self._width(0)))
            for s in range(cfg.log2_lanes):
                valid_next = Signal(name=f"bfly{s}_valid")
                m.d.sync += valid_next.eq(valid)
                valid = valid_next
                h = 1 << s
                nxt = list(lane)
                for j in range(lanes):
                    if not j & h:
                        a, b = lane[j], lane[j + h]
                        nxt[j] = self._reg(m, f"bfly{s}_{j}", a + b, self._width(s + 1))
                        nxt[j + h] = self._reg(m, f"bfly{s}_{j + h}", a - b, self._width(s + 1))
                lane = nxt
        m.d.comb += [
            en.eq(~valid | out_ready),
            self.i.ready.eq(en),
        ]

        # -- cross-beat stages, each with its own handshake ------------------------------------
        cross = []
        for k in range(self._log2_beats):
            stage = _CrossBeatStage(lanes, self._width(cfg.log2_lanes + k), 1 << k)
            m.submodules[f"cross{k}"] = stage
            cross.append(stage)
        dest = cross[0].i if cross else self.o
        m.d.comb += [
            dest.valid.eq(valid),
            out_ready.eq(dest.ready),
        ]
        m.d.comb += [dest.payload[p].eq(lane[p]) for p in range(lanes)]
        for a, b in zip(cross, cross[1:], strict=False):
            wiring.connect(m, a.o, b.i)
        if cross:
            wiring.connect(m, cross[-1].o, wiring.flipped(self.o))
        return m

    @staticmethod
    def _reg(m, name, value, width):
        """A datapath register of ``signed(width)`` loaded with ``value`` (caller gates it)."""
        reg = Signal(signed(width), name=name, reset_less=True)
        m.d.sync += reg.eq(value)
        return reg


class _CrossBeatStage(wiring.Component):
    """One cross-beat butterfly stage: beats ``c`` and ``c + distance`` of each group.

    Within each group of ``2 * distance`` beats, beat ``c < distance`` and beat
    ``c + distance`` become ``(a + b, a - b)`` at the same positions. The first half of a group
    is written into a buffer; each beat of the second half is combined with its partner read
    back from it, the sum entering a 2-entry sum queue and the difference a FIFO. The output
    register takes the ``distance`` sums of a group, then its ``distance`` differences (those
    leave while the next group's first half arrives, so the stage sustains one beat per clock).

    ``i.ready`` depends on registers only (first half: always ready; second half: room in the
    sum queue and in the difference FIFO), which decouples the stage from ``o.ready``.
    Both memories have registered, non-transparent read ports whose address is the next entry
    to be consumed; every entry is read at least two clocks after it is written, so the read
    data is always current.

    Parameters
    ----------
    lanes : int
        Coordinates per beat.
    width : int
        Signed input width; the output is one bit wider.
    distance : int
        Pairing distance in beats, a power of two.

    Attributes
    ----------
    latency : int
        Clocks from the transfer of a group's last input beat to the transfer of its last
        output beat with no stalls: ``distance + 2``.

    Members
    -------
    i : ``In(stream.Signature(data.ArrayLayout(signed(width), lanes)))``
    o : ``Out(stream.Signature(data.ArrayLayout(signed(width + 1), lanes)))``
    """

    @staticmethod
    def stage_latency(distance):
        """Latency of a stage of the given distance (see ``latency``)."""
        return distance + 2

    def __init__(self, lanes, width, distance):
        self._lanes = lanes
        self._width = width
        self._distance = distance
        self.latency = self.stage_latency(distance)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(width), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(width + 1), lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, dist = self._lanes, self._distance
        log2_dist = dist.bit_length() - 1
        in_layout = data.ArrayLayout(signed(self._width), lanes)
        out_layout = data.ArrayLayout(signed(self._width + 1), lanes)
        diff_depth = max(dist, 2)

        # -- input side ------------------------------------------------------------------------
        in_pos = Signal(log2_dist + 1)      # beat position within the 2*dist-beat group
        second = in_pos[log2_dist]          # second half: combine with the stored partner
        sum_count = Signal(range(3))
        diff_count = Signal(range(diff_depth + 1))
        m.d.comb += self.i.ready.eq(~second | ((sum_count != 2) & (diff_count != diff_depth)))
        accept = self.i.valid & self.i.ready
        store = accept & ~second
        combine = accept & second
        with m.If(accept):
            m.d.sync += in_pos.eq(in_pos + 1)

        # First-half buffer, addressed by the position within the half.
        if dist == 1:
            partner = Signal(in_layout, name="partner", reset_less=True)
            with m.If(store):
                m.d.sync += partner.eq(self.i.payload)
        else:
            m.submodules.first_half = first_half = Memory(shape=in_layout, depth=dist, init=[])
            fh_write = first_half.write_port()
            fh_read = first_half.read_port()
            next_pos = Mux(accept, in_pos + 1, in_pos)
            m.d.comb += [
                fh_write.addr.eq(in_pos[:log2_dist]),
                fh_write.data.eq(self.i.payload),
                fh_write.en.eq(store),
                fh_read.addr.eq(next_pos[:log2_dist]),
            ]
            partner = fh_read.data

        # Sum queue: two registers written alternately, so the adder feeds registers directly.
        sums = [Signal(out_layout, name=f"sum{j}", reset_less=True) for j in range(2)]
        sum_wr = Signal()
        sum_rd = Signal()
        with m.If(combine):
            m.d.sync += sum_wr.eq(~sum_wr)
            for j, reg in enumerate(sums):
                with m.If(sum_wr == j):
                    m.d.sync += [reg[p].eq(partner[p] + self.i.payload[p])
                                 for p in range(lanes)]

        # Difference FIFO (power-of-two depth: the pointers wrap by themselves).
        m.submodules.differences = differences = Memory(shape=out_layout, depth=diff_depth,
                                                        init=[])
        diff_write = differences.write_port()
        diff_read = differences.read_port()
        diff_wr = Signal(range(diff_depth))
        diff_rd = Signal(range(diff_depth))
        m.d.comb += [
            diff_write.addr.eq(diff_wr),
            diff_write.en.eq(combine),
        ]
        m.d.comb += [diff_write.data[p].eq(partner[p] - self.i.payload[p]) for p in range(lanes)]
        with m.If(combine):
            m.d.sync += diff_wr.eq(diff_wr + 1)

        # -- output side: dist sums, then dist differences -------------------------------------
        out_pos = Signal(log2_dist + 1)
        out_second = out_pos[log2_dist]
        out_data = Signal(out_layout, name="out_data", reset_less=True)
        available = Mux(out_second, diff_count != 0, sum_count != 0)
        load = available & (~self.o.valid | self.o.ready)
        take_sum = load & ~out_second
        take_diff = load & out_second
        m.d.comb += [
            diff_read.addr.eq(Mux(take_diff, diff_rd + 1, diff_rd)),
            self.o.payload.eq(out_data),
        ]
        with m.If(load):
            m.d.sync += [
                self.o.valid.eq(1),
                out_pos.eq(out_pos + 1),
            ]
            with m.If(out_second):
                m.d.sync += out_data.eq(diff_read.data)
            with m.Elif(sum_rd):
                m.d.sync += out_data.eq(sums[1])
            with m.Else():
                m.d.sync += out_data.eq(sums[0])
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(take_sum):
            m.d.sync += sum_rd.eq(~sum_rd)
        with m.If(take_diff):
            m.d.sync += diff_rd.eq(diff_rd + 1)
        m.d.sync += [
            sum_count.eq(sum_count + combine - take_sum),
            diff_count.eq(diff_count + combine - take_diff),
        ]
        return m
