"""Signature classes shared by every path: a base for the paths' contracts, and memory read ports.

Modelled on :class:`amaranth.lib.memory.ReadPort.Signature`: a signature class per interface,
equal by value, so two implementations of one contract can be checked to take the same one.
"""

from amaranth import Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ContractSignature", "ReadPortSignature"]


class ContractSignature(wiring.Signature):
    """Base of the signatures a configuration determines (one subclass per twin interface).

    Two are equal when they are of the same class and have the same members, so
    ``a.signature == b.signature`` states that ``a`` and ``b`` implement the same contract.
    """

    def __eq__(self, other):
        return type(self) is type(other) and self.members == other.members

    __hash__ = None

    def __repr__(self):
        return f"{type(self).__name__}({dict(self.members)!r})"


class ReadPortSignature(wiring.Signature):
    """A synchronous memory read port, seen from the reader.

    The reader drives ``addr`` and ``en``; ``word`` is the word at the address taken on the
    previous clock edge with ``en`` high (a registered, non-transparent read), held while ``en``
    is low. (``word``, not ``data``: :func:`~amaranth.lib.wiring.connect` joins members in name
    order, and ``addr``, ``en``, ``word`` keep the order of the generated Verilog.) The memory's
    side takes the flipped signature (``In(ReadPortSignature(...))``); the two are joined with
    :func:`amaranth.lib.wiring.connect`.

    The created signals are named ``<member>_raddr``, ``<member>_ren`` and ``<member>_rdata``
    (e.g. ``idx_raddr``), the names these ports have in the generated Verilog.

    Parameters
    ----------
    addr_shape : ShapeLike
        Shape of the address (e.g. ``range(depth)``).
    data_shape : ShapeLike
        Shape of one word (a layout gives a :class:`~amaranth.lib.data.View`).

    Members
    -------
    addr : Out(addr_shape)
    en : Out(1)
    word : In(data_shape)
    """

    def __init__(self, addr_shape, data_shape):
        self._addr_shape = addr_shape
        self._data_shape = data_shape
        super().__init__({"addr": Out(addr_shape), "en": Out(1), "word": In(data_shape)})

    @property
    def addr_shape(self):
        return self._addr_shape

    @property
    def data_shape(self):
        return self._data_shape

    def __eq__(self, other):
        return (type(self) is type(other)
                and Shape.cast(self.addr_shape) == Shape.cast(other.addr_shape)
                and self.members == other.members)

    __hash__ = None

    def create(self, *, path=None, src_loc_at=0):
        return _ReadPort(self, "__".join(str(item) for item in path or ("port",)))

    def __repr__(self):
        return f"ReadPortSignature({self.addr_shape!r}, {self.data_shape!r})"


class _ReadPort:
    """The interface object of a :class:`ReadPortSignature` (or of its flip)."""

    def __init__(self, signature, prefix):
        self.signature = signature
        self.addr = Signal(signature.addr_shape, name=f"{prefix}_raddr")
        self.en = Signal(1, name=f"{prefix}_ren")
        self.word = Signal(signature.data_shape, name=f"{prefix}_rdata")
