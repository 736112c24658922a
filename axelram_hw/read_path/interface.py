"""The read path's contracts: its layouts, the twin signature, and the memory-port buses.

A read path stores encoded keys (``store_w``), turns each rotated query into a look-up table
(``query``) and scores the slots each command names (``cmd`` -> ``score``); see
:class:`~axelram_hw.read_path.read_path.ReadPath` for the behaviour both twins share.
"""

from amaranth import signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..lib.interface import ContractSignature

__all__ = ["stored_norm_layout", "store_write_layout", "query_beat_layout", "command_layout",
           "scorer_command_layout", "score_layout", "ReadPathSignature"]


def stored_norm_layout(cfg):
    """The stored norm word: mantissa (low bits), exponent (high bits)."""
    return data.StructLayout({
        "mant": unsigned(cfg.norm_mant),
        "exp": unsigned(cfg.norm_exp_width),
    })


def store_write_layout(cfg):
    """One index-store write beat: the slot, ``P`` indices, and the norm (used on the key's
    last beat)."""
    return data.StructLayout({
        "slot": unsigned(cfg.addr_width),
        "idx": data.ArrayLayout(unsigned(cfg.b), cfg.lanes),
        "mant": unsigned(cfg.norm_mant),
        "exp": unsigned(cfg.norm_exp_width),
    })


def query_beat_layout(cfg):
    """One rotated-query beat: ``P`` signed coordinates of ``u_width`` bits."""
    return data.ArrayLayout(signed(cfg.u_width), cfg.lanes)


def command_layout(cfg):
    """A scoring command: slots ``first .. first + count - 1`` (``count`` 0..t)."""
    return data.StructLayout({
        "first": cfg.addr_width,
        "count": cfg.count_width,
    })


def scorer_command_layout(cfg):
    """A scoring command joined with its table's shift."""
    return data.StructLayout({
        "first": unsigned(cfg.addr_width),
        "count": unsigned(cfg.count_width),
        "qs": unsigned(cfg.table_shift_width),
    })


def score_layout(cfg):
    """One score: ``value = mant * 2**(exp + score_exp_offset)``; ``slot`` = first + n."""
    return data.StructLayout({
        "mant": signed(cfg.score_mant_width),
        "exp": unsigned(cfg.score_exp_width),
        "slot": unsigned(cfg.addr_width + 1),
        "last": 1,
        "oob": 1,
    })


class ReadPathSignature(ContractSignature):
    """Index store + query table + scorer, seen from the macro.

    Taken by :class:`~axelram_hw.read_path.read_path.ReadPath` and
    :class:`~axelram_hw.read_path.read_path_serial.SerialReadPath`.

    Members
    -------
    store_w : In(stream.Signature(store_write_layout(cfg)))
        Encoded key beats. Never stalled at ``lanes > 1`` (the dual-ported store's ``w`` is
        ``always_ready``); the single-ported ``lanes = 1`` store holds a write while it reads
        (:class:`~axelram_hw.read_path.packed_store.PackedIndexStore`).
    query : In(stream.Signature(query_beat_layout(cfg)))
        Rotated query beats, ``cfg.beats`` per query.
    cmd : In(stream.Signature(command_layout(cfg)))
        One command per query, in order.
    score : Out(stream.Signature(score_layout(cfg)))
        ``{mant, exp, slot, last, oob}`` per slot, bit-exact with
        :meth:`golden.fixed.FixedModel.score`.
    """

    def __init__(self, cfg):
        super().__init__({
            "store_w": In(stream.Signature(store_write_layout(cfg))),
            "query": In(stream.Signature(query_beat_layout(cfg))),
            "cmd": In(stream.Signature(command_layout(cfg))),
            "score": Out(stream.Signature(score_layout(cfg))),
        })
