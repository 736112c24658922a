"""Coordinate-serial sign flip and FWHT (``lanes = 1``): ``u = FWHT(s * x)``, bit-exact.

Bit-exact with :meth:`golden.fixed.FixedModel.rotate` (Sylvester order, unnormalised, exact
integers), one coordinate per clock, built from radix-2 single-path delay-feedback stages.
"""

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from ..lib.checks import check_serial_config
from .interface import RotationSignature

__all__ = ["SerialFWHT"]

#: Delay lines of at most this many words are registers; longer ones are block RAM.
_REGISTER_DELAY = 4


def _less_than(bits, value):
    """``bits < value`` for a constant ``value`` as plain logic (no carry chain)."""
    if value >= 1 << len(bits):
        return Const(1)
    result = Const(0)
    for i in range(len(bits)):  # from the least significant bit up
        if (value >> i) & 1:
            result = ~bits[i] | result
        else:
            result = ~bits[i] & result
    return result


class SerialFWHT(wiring.Component):
    """Sign flip and fast Walsh–Hadamard transform, one coordinate per clock (``lanes = 1``).

    Same :class:`~axelram_hw.front_end.interface.RotationSignature` and contract as
    :class:`~axelram_hw.front_end.fwht.SignFlipFWHT` at ``lanes = 1``: a vector is
    ``d`` beats on ``i`` (coordinate order) and leaves as ``d`` beats of
    ``u = FWHT(s * x)`` on ``o``, in coordinate order. Sustains one beat per clock, so ``N``
    back-to-back vectors take ``N * d`` clocks plus ``latency``; ``valid`` and ``ready`` may
    have any gaps. ``rst`` drops every vector in flight.

    Structure: a sign flip ``(x ^ neg) + neg`` into a register, then ``log2 d`` radix-2
    single-path delay-feedback (SDF) stages. Stage ``k`` (pairing distance ``D = 2**k``, input
    width ``w = in_width + 1 + k``) has a delay line of ``D`` words of ``w + 1`` bits
    (registers for ``D <= 4``; otherwise a :class:`~amaranth.lib.memory.Memory` used as a
    circular buffer, its registered read port addressed one step ahead), one adder, one
    subtractor and an output register. In each group of ``2D`` coordinates the first ``D``
    enter the delay line while the line's previous contents (the last group's differences)
    leave; each of the next ``D`` meets its partner ``a`` from the line: ``a + x`` leaves,
    ``a - x`` enters the line. Between registers: one adder, then a 2-way multiplexer.

    Flow control: the whole datapath is one pipeline with one enable (a *step*); a step shifts
    every stage by one coordinate. The stages stay aligned because the input is framed in
    whole ``d``-step frames: a frame is either a vector (its ``d`` beats, taken in ``d``
    steps) or a flush frame of ``d`` empty steps. What happens exactly:

    * Inside a vector's frame the pipeline steps only when the next beat arrives (and ``o``
      can take a beat). A vector ``V`` is still wholly inside when its last beat is taken, and
      comes out while the next frame goes in: ``V``'s output beat ``t`` is produced by the
      step that takes beat ``t + log2 d - 1`` of the next vector ``V + 1``, its last
      ``log2 d - 1`` beats by the first steps of the frame after that (``V + 2`` or a flush
      frame). So while ``V + 1`` is arriving, ``V`` leaves only as fast as ``V + 1`` enters:
      a gap inside ``V + 1`` holds up ``V``'s output beats for as long.
    * At a frame boundary with no beat waiting but vector coordinates still inside, a flush
      frame starts: the pipeline steps without input until the last vector's final coordinate
      has reached the output register (``latency - 1`` steps after its last input beat), then
      stops. A vector offered during a flush is taken at the next frame boundary (``d``
      steps after the flush began) or, if the flush ends first, one clock after it ends (with
      nothing inside, the frame count restarts at once). Without output stalls, a vector
      offered just after the previous one waits ``d`` clocks.
    * ``i.ready`` is low during a flush frame and when ``o`` holds a beat that is not taken;
      it never depends on ``i.valid``.

    Parameters
    ----------
    cfg : AxelramConfig
        ``cfg.lanes`` must be 1.

    Attributes
    ----------
    latency : int
        Clocks from the transfer of a vector's last beat on ``i`` to the transfer of its last
        beat on ``o`` with no stalls: ``d + log2 d`` (the delay lines hold ``d - 1``
        coordinates; the flip register and the ``log2 d`` stage registers add one clock
        each). 135 at d = 128.

    Members
    -------
    i : ``In(stream.Signature(fwht_in_layout(cfg)))``
        ``{data, neg}``: one signed ``in_width``-bit coordinate; ``neg`` set negates it.
    o : ``Out(stream.Signature(fwht_out_layout(cfg)))``
        One signed ``u_width``-bit coordinate of ``u``.

    Raises
    ------
    TypeError
        If ``cfg`` is not an ``AxelramConfig``.
    ValueError
        If ``cfg.lanes`` is not 1.
    """

    def __init__(self, cfg):
        self.cfg = check_serial_config(self, cfg, "SignFlipFWHT")
        # Steps from a coordinate entering the flip register to its result in the output
        # register: the delay lines (d - 1 in all) and one register per stage.
        self._steps = cfg.d - 1 + cfg.log2d
        self.latency = self._steps + 1
        super().__init__(RotationSignature(cfg))

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        log2d = cfg.log2d

        # -- framing ---------------------------------------------------------------------------
        pos = Signal(log2d)      # frame position of the coordinate entering at this step
        data_frame = Signal()    # the current frame carries a vector
        prev_frame = Signal()    # ... the frame before it
        out_frame = Signal()     # ... the frame of the coordinates now entering `o`
        # The coordinate entering `o` at a step entered the flip register `_steps` steps ago:
        # from two frames back until position log2 d - 2, then from the previous frame.
        first_out = pos == log2d - 1
        pending = Signal()       # vector coordinates still to reach `o`: steps needed
        m.d.comb += pending.eq(data_frame | prev_frame | (out_frame & (pos < log2d - 1)))
        start = pos == 0
        can_out = ~self.o.valid | self.o.ready

        m.d.comb += self.i.ready.eq(can_out & (start | data_frame))
        accept = self.i.valid & self.i.ready
        step = Signal()
        m.d.comb += step.eq(accept | (can_out & pending & (start | ~data_frame)))

        with m.If(step):
            m.d.sync += pos.eq(pos + 1)  # d is a power of two: wraps to 0
            with m.If(start):
                m.d.sync += [prev_frame.eq(data_frame), data_frame.eq(accept)]
            with m.If(first_out):
                m.d.sync += out_frame.eq(prev_frame)
            m.d.sync += self.o.valid.eq(Mux(first_out, prev_frame, out_frame))
        with m.Else():
            with m.If(self.o.ready):
                m.d.sync += self.o.valid.eq(0)
            with m.If(~pending & ~data_frame):
                # Nothing inside: restart the frame count, forget the old frames.
                m.d.sync += [pos.eq(0), out_frame.eq(0)]

        # -- datapath --------------------------------------------------------------------------
        # Every stage register holds the complement ~v of its value v (except the last): a
        # subtractor's inverted operand is then free, see `_stage`.
        x_in = self.i.payload.data[0]
        neg = self.i.payload.neg[0]
        x_c = Signal(signed(cfg.in_width + 1), name="flip_c", reset_less=True)
        with m.If(step):
            # ~(-x) = x - 1 and ~x: (x ^ ~neg) - neg; the XOR is LUT-level, one adder.
            m.d.sync += x_c.eq((x_in ^ (~neg).replicate(cfg.in_width).as_signed())
                               - neg)

        lag = 0  # steps from a coordinate entering the flip register to `x_c`, minus one
        for k in range(log2d):
            x_c = self._stage(m, k, x_c, step, pos, lag, last=k == log2d - 1)
            lag += (1 << k) + 1
        m.d.comb += self.o.payload[0].eq(x_c)
        return m

    def _stage(self, m, k, x_c, step, pos, lag, last):
        """SDF stage ``k``. ``x_c`` holds ``~x`` for the coordinate ``x`` that entered the flip
        register ``lag + 1`` steps ago; returns the output register (``~`` unless ``last``)."""
        dist = 1 << k
        width = len(x_c) + 1
        # Second half of a group of 2 * dist: bit k of the position of the coordinate in `x_c`.
        # lag + 1 = 2**k + k, so this is ~bit k of (pos - k): pos[k] and a borrow.
        assert lag + 1 == dist + k
        second = Signal(name=f"st{k}_second")
        m.d.comb += second.eq(~(pos[k] ^ _less_than(pos[:k], k)))

        # The delay line holds true values: x in the first half, a - x = a + ~x + 1 in the
        # second (an adder on the stored complement, the multiplexer in the same LUT).
        partner = Signal(signed(width), name=f"st{k}_partner")
        line_in = Signal(signed(width), name=f"st{k}_line_in")
        m.d.comb += line_in.eq(Mux(second, partner + x_c + 1, ~x_c))
        if dist <= _REGISTER_DELAY:
            line = [Signal(signed(width), name=f"st{k}_line{j}", reset_less=True)
                    for j in range(dist)]
            with m.If(step):
                m.d.sync += line[0].eq(line_in)
                m.d.sync += [b.eq(a) for a, b in zip(line, line[1:], strict=False)]
            m.d.comb += partner.eq(line[-1])
        else:
            # Circular buffer: written at pos mod dist, read one step ahead (registered read).
            m.submodules[f"st{k}_line"] = mem = Memory(shape=signed(width), depth=dist,
                                                       init=[])
            wr = mem.write_port()
            rd = mem.read_port()
            m.d.comb += [
                wr.addr.eq(pos[:k]),
                wr.data.eq(line_in),
                wr.en.eq(step),
                rd.addr.eq((pos + 1)[:k]),
                rd.en.eq(step),
                partner.eq(rd.data),
            ]

        # First half: the stored difference a leaves; second half: a + x.
        value = Mux(second, partner + ~x_c, partner)
        out = Signal(signed(width), name=f"st{k}_out" if last else f"st{k}_out_c",
                     reset_less=True)
        with m.If(step):
            m.d.sync += out.eq(value if last else ~value)
        return out
