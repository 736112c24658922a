"""A buffered synchronous FIFO whose memory needs no read-during-write logic."""

from amaranth import Elaboratable, Module, Mux, Signal
from amaranth.lib.fifo import FIFOInterface
from amaranth.lib.memory import Memory

__all__ = ["BufferedFIFO", "collision_free_memory", "FIFO_LATENCY"]

#: Clocks from a write into an empty :class:`BufferedFIFO` to ``r_rdy`` (its registered output).
FIFO_LATENCY = 2


def collision_free_memory(*, shape, depth, init=()):
    """A :class:`~amaranth.lib.memory.Memory` marked ``no_rw_check``.

    Use it only where a read port is never enabled in the clock in which a write port writes the
    address it reads (the caller's proof goes in a comment). Amaranth's read ports are
    non-transparent, and block RAMs leave a read of the address being written through the other
    port undefined, so without the mark Yosys keeps the old-data behaviour with a bypass: one
    register for the write data and a multiplexer per bit, plus the address compare (measured:
    1030 LUT4 and 2056 FF beside the 29 DP16KD of a 1024-bit x 64 memory on ECP5; none with
    the mark).
    """
    return Memory(shape=shape, depth=depth, init=list(init), attrs={"no_rw_check": 1})


class BufferedFIFO(Elaboratable, FIFOInterface):
    """First-in first-out queue of ``depth`` entries with a registered (block-RAM) read.

    The interface and timing of :class:`amaranth.lib.fifo.SyncFIFOBuffered` (``w_data``,
    ``w_en``, ``w_rdy``, ``r_data``, ``r_en``, ``r_rdy``, ``level``, ``w_stream``, ``r_stream``):
    ``depth - 1`` entries in a memory plus the memory's read register, which holds the head; an
    entry written into an empty queue is readable two clocks later, and ``w_rdy`` does not count
    the head leaving in the same clock as free. The memory is :func:`collision_free_memory`:
    an entry is read only after it was written, and the write pointer meets the read pointer only
    when the memory part is empty (no read) or full (no write).

    With ``output_register``, the head is a fabric register loaded straight from the memory's
    read data (``depth - 2`` entries in the memory, the read register, the head): a block RAM's
    clock-to-output delay is long (5.6 ns on an ECP5 at speed grade 6, against a 6.7 ns clock
    period at 150 MHz), so this keeps logic off the memory's output at the cost of ``width``
    flip-flops and one clock of latency (an entry is readable three clocks after it is written
    into an empty queue).

    Parameters
    ----------
    width : int
    depth : int
        At least 2 (3 with ``output_register``).
    output_register : bool
    """

    def __init__(self, *, width, depth, output_register=False):
        if depth < 2 + output_register:
            self._MustUse__silence = True  # not built: no "never elaborated" warning
            raise ValueError(f"BufferedFIFO depth must be at least {2 + output_register}"
                             f"{' with an output register' if output_register else ''}, "
                             f"not {depth}")
        super().__init__(width=width, depth=depth)
        self.output_register = output_register
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        inner_depth = self.depth - 1 - self.output_register
        inner_level = Signal(range(inner_depth + 1))
        produce = Signal(range(inner_depth))
        consume = Signal(range(inner_depth))
        m.submodules.storage = storage = collision_free_memory(shape=self.width,
                                                               depth=inner_depth)
        w_port = storage.write_port()
        r_port = storage.read_port()

        # The memory's read register holds the head (or, with the output register, the entry
        # behind it): ``held`` says it holds an entry, ``take`` that the entry moves on.
        held = self.r_rdy if not self.output_register else Signal()
        take = self.r_en if not self.output_register else ~self.r_rdy | self.r_en
        do_write = self.w_rdy & self.w_en
        do_inner_read = (inner_level != 0) & (~held | take)
        m.d.comb += [
            self.w_rdy.eq(inner_level != inner_depth),
            w_port.addr.eq(produce),
            w_port.data.eq(self.w_data),
            w_port.en.eq(do_write),
            r_port.addr.eq(consume),
            r_port.en.eq(do_inner_read),
            self.w_level.eq(self.level),
            self.r_level.eq(self.level),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(_next(produce, inner_depth))
        with m.If(do_inner_read):
            m.d.sync += [consume.eq(_next(consume, inner_depth)), held.eq(1)]
        with m.Elif(take):
            m.d.sync += held.eq(0)
        m.d.sync += inner_level.eq(inner_level + do_write - do_inner_read)
        if not self.output_register:
            m.d.comb += [self.r_data.eq(r_port.data), self.level.eq(inner_level + held)]
            return m

        head = Signal(self.width, name="head", reset_less=True)
        with m.If(held & take):
            m.d.sync += [head.eq(r_port.data), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        m.d.comb += [self.r_data.eq(head), self.level.eq(inner_level + held + self.r_rdy)]
        return m


def _next(pointer, depth):
    """``pointer + 1`` modulo ``depth`` (the wrap is free when ``depth`` is a power of two)."""
    if depth & (depth - 1) == 0:
        return (pointer + 1)[:len(pointer)]
    return Mux(pointer == depth - 1, 0, pointer + 1)
