"""The front end's contract: the beats into and out of the sign-flip + FWHT rotation."""

from amaranth import signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..lib.interface import ContractSignature

__all__ = ["RotationSignature", "fwht_in_layout", "fwht_out_layout"]


def fwht_in_layout(cfg):
    """One input beat: ``lanes`` signed ``in_width``-bit coordinates and their negate bits."""
    return data.StructLayout({
        "data": data.ArrayLayout(signed(cfg.in_width), cfg.lanes),
        "neg": unsigned(cfg.lanes),
    })


def fwht_out_layout(cfg):
    """One output beat: ``lanes`` rotated coordinates of ``u_width`` bits."""
    return data.ArrayLayout(signed(cfg.u_width), cfg.lanes)


class RotationSignature(ContractSignature):
    """``u = FWHT(s * x)``, one vector as ``cfg.beats`` beats in and ``cfg.beats`` beats out.

    Taken by :class:`~axelram_hw.front_end.fwht.SignFlipFWHT` and
    :class:`~axelram_hw.front_end.fwht_serial.SerialFWHT`.

    Members
    -------
    i : In(stream.Signature(fwht_in_layout(cfg)))
        ``{data, neg}``: bit ``p`` of ``neg`` set negates coordinate ``p`` of the beat.
    o : Out(stream.Signature(fwht_out_layout(cfg)))
        ``lanes`` signed ``u_width``-bit coordinates of ``u``.
    """

    def __init__(self, cfg):
        super().__init__({
            "i": In(stream.Signature(fwht_in_layout(cfg))),
            "o": Out(stream.Signature(fwht_out_layout(cfg))),
        })
