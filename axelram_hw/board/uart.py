"""An 8N1 UART with :mod:`amaranth.lib.stream` ports: the host link's byte pipe.

One start bit (low), eight data bits LSB first, one stop bit (high); ``divisor`` clocks of the
``sync`` domain per bit, no parity, no flow control. A synchronous reset returns both halves to
idle.
"""

from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter"]

#: Data bits per frame.
BITS = 8


def _check_divisor(component, divisor):
    """Return ``divisor``; ``ValueError`` unless it is an ``int`` of at least 4 (the start bit is
    confirmed two clocks after the falling edge at the least)."""
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        component._MustUse__silence = True  # not built: no "never elaborated" warning
        raise ValueError(f"divisor must be an integer of at least 4, not {divisor!r}")
    return divisor


def _saturating_increment(m, counter):
    """Count ``counter`` up by one in ``m``'s ``sync`` domain, stopping at its largest value."""
    with m.If(counter != (1 << len(counter)) - 1):
        m.d.sync += counter.eq(counter + 1)


class UARTReceiver(wiring.Component):
    """8N1 receiver: the ``rx`` pin in, one byte per frame out on a stream.

    ``rx`` is asynchronous: two flip-flops synchronise it first. A falling edge on the idle line
    starts a frame; the start bit is confirmed at the half-bit point (``divisor // 2`` clocks
    later; a low pulse shorter than that is ignored), and from there every bit is sampled once,
    ``divisor`` clocks after the previous one, so in the middle of the bit. The stop bit is
    sampled in its middle too and the receiver is idle again right away, so the sender's clock
    may be a few per cent faster or slower than ours.

    ``o`` is a one-byte buffer: a byte is offered from the middle of its stop bit and must be
    taken before the next byte's stop bit is sampled, i.e. within one frame (``10 * divisor``
    clocks) of back-to-back traffic. The receiver never stalls the line: a byte that completes
    while ``o`` still holds the previous one is dropped (the held byte stays, as the stream
    rules ask) and counted in ``overruns``. A frame whose stop bit is low (a framing error, or a
    break) is dropped and counted in ``framing_errors``; the receiver then waits for the line to
    be high before it looks for a start bit. It waits in the same way after a reset, so a
    frame already under way is not taken for a new one.

    Parameters
    ----------
    divisor : int
        Clocks per bit, at least 4 (``clock frequency / baud rate``).

    Members
    -------
    rx : ``In(1)``
        The serial line (idle high), asynchronous to the clock.
    o : ``Out(stream.Signature(unsigned(8)))``
        One byte per good frame.
    framing_errors : ``Out(16)``
        Frames whose stop bit was low; saturates at 65535.
    overruns : ``Out(16)``
        Bytes dropped because ``o`` was not taken in time; saturates at 65535.

    Raises
    ------
    ValueError
        If ``divisor`` is not an integer of at least 4.
    """

    rx: In(1)
    o: Out(stream.Signature(unsigned(BITS)))
    framing_errors: Out(16)
    overruns: Out(16)

    def __init__(self, divisor):
        self.divisor = _check_divisor(self, divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)

        # ``timer`` runs down to 0 at each sample point and reloads itself to a full bit;
        # leaving Idle loads it with half a bit instead.
        timer = Signal(range(self.divisor))
        sample = timer == 0
        m.d.sync += timer.eq(timer - 1)
        with m.If(sample):
            m.d.sync += timer.eq(self.divisor - 1)
        shift = Signal(BITS)                 # data bits, LSB first: each enters at the top
        count = Signal(range(BITS))          # data bits sampled so far
        do_take = self.o.valid & self.o.ready
        held = self.o.valid & ~self.o.ready  # the buffer still holds the previous byte

        with m.If(do_take):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM(init="Wait-high"):
            with m.State("Wait-high"):       # after a reset or a framing error
                with m.If(rx):
                    m.next = "Idle"
            with m.State("Idle"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "Start"
            with m.State("Start"):
                with m.If(sample):
                    m.d.sync += count.eq(0)
                    with m.If(rx):           # a glitch, not a start bit
                        m.next = "Idle"
                    with m.Else():
                        m.next = "Data"
            with m.State("Data"):
                with m.If(sample):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), count.eq(count + 1)]
                    with m.If(count == BITS - 1):
                        m.next = "Stop"
            with m.State("Stop"):
                with m.If(sample & ~rx):
                    _saturating_increment(m, self.framing_errors)
                    m.next = "Wait-high"
                with m.Elif(sample):
                    with m.If(held):
                        _saturating_increment(m, self.overruns)
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                    m.next = "Idle"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter: bytes in on a stream, frames out on the ``tx`` pin.

    A byte taken from ``i`` goes out at once: the start bit (low), eight data bits LSB first and
    the stop bit (high), each ``divisor`` clocks long. ``i.ready`` is high while the line is idle
    and in the last clock of a stop bit, so a steady stream of bytes goes out back to back, one
    frame every ``10 * divisor`` clocks.

    Parameters
    ----------
    divisor : int
        Clocks per bit, as for :class:`UARTReceiver`.

    Members
    -------
    i : ``In(stream.Signature(unsigned(8)))``
        The bytes to send.
    tx : ``Out(1, init=1)``
        The serial line, registered; high when idle.

    Raises
    ------
    ValueError
        If ``divisor`` is not an integer of at least 4.
    """

    i: In(stream.Signature(unsigned(BITS)))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        self.divisor = _check_divisor(self, divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))  # clocks left in the bit on the line, minus one
        rest = Signal(BITS + 1)              # the bits after the one on the line: data, stop
        left = Signal(range(BITS + 3))       # bits of the frame still to finish: 0 when idle
        bit_done = timer == 0
        last_clock = (left == 0) | ((left == 1) & bit_done)
        m.d.comb += self.i.ready.eq(last_clock)
        do_send = self.i.valid & self.i.ready

        with m.If(do_send):
            m.d.sync += [
                self.tx.eq(0),
                rest.eq(Cat(self.i.payload, 1)),
                left.eq(BITS + 2),
                timer.eq(self.divisor - 1),
            ]
        with m.Elif(left != 0):
            m.d.sync += timer.eq(timer - 1)
            with m.If(bit_done):
                m.d.sync += [
                    Cat(self.tx, rest).eq(Cat(rest, 1)),  # the idle level follows the stop bit
                    left.eq(left - 1),
                    timer.eq(self.divisor - 1),
                ]
        return m
