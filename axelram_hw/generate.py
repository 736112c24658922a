"""Generating Verilog and its JSON description: the library behind ``axelram verilog``.

Benches, simulation runners and tests call :func:`generate` (or :func:`build_block`) rather than
the command module.
"""

import re

from amaranth.back import verilog

from .describe import describe
from .front_end.factory import make_rotation
from .macro import AxelramMacro
from .read_path.factory import make_read_path
from .write_path.factory import make_key_encoder, make_norm_unit
from .write_path.quantiser import Quantiser

__all__ = ["BLOCKS", "build_block", "default_name", "drop_noinit_initialisers", "generate"]

#: The blocks that can be generated on their own, each built the way the macro builds it.
BLOCKS = {
    "macro": AxelramMacro,
    "fwht": lambda cfg, signs: make_rotation(cfg),
    "norm": lambda cfg, signs: make_norm_unit(cfg),
    "quantiser": lambda cfg, signs: Quantiser(cfg),
    "key_encoder": lambda cfg, signs: make_key_encoder(cfg),
    "read_path": lambda cfg, signs: make_read_path(cfg),
}


def build_block(cfg, signs, block, *, sign_port=False):
    """The Amaranth component for ``block`` (one of :data:`BLOCKS`); ``sign_port`` gives the
    macro its run-time sign write port (``AxelramMacro(..., sign_port=True)``)."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {', '.join(BLOCKS)}, not {block!r}")
    if sign_port:
        if block != "macro":
            raise ValueError(f"sign_port needs block 'macro', not {block!r}")
        return AxelramMacro(cfg, signs, sign_port=True)
    return BLOCKS[block](cfg, signs)


def default_name(cfg, block, *, sign_port=False):
    """``axelram_d128_b3`` plus a suffix for each parameter that differs from the default
    (``_signport`` for the macro with the run-time sign port)."""
    from golden.config import AxelramConfig

    base = AxelramConfig(d=cfg.d, b=cfg.b)
    name = f"axelram_d{cfg.d}_b{cfg.b}" if block == "macro" else f"{block}_d{cfg.d}_b{cfg.b}"
    short = {"t": "t", "lanes": "p", "layers": "l", "in_width": "w", "norm_mant": "nm",
             "sqrt_mant": "sm", "thr_frac": "tf", "cent_frac": "cf", "table_width": "tw"}
    for field, tag in short.items():
        if getattr(cfg, field) != getattr(base, field):
            name += f"_{tag}{getattr(cfg, field)}"
    if not cfg.antisymmetric:
        name += "_full"
    if sign_port:
        name += "_signport"
    return name


_NOINIT = re.compile(r"^( *reg \[\d+:0\] (\w+_noinit) \[\d+:0\];\n) *initial begin\n"
                     r"(?: *\2\[\d+\] = \d+'h[0-9a-f]+;\n)+ *end\n", re.M)


def drop_noinit_initialisers(text):
    """Remove the ``initial`` block of every memory named ``*_noinit``.

    Amaranth gives every memory an initialiser (zeros by default), and Yosys maps no initialised
    memory to iCE40 SPRAM (whose contents are undefined at power-up). The designs name a memory
    ``*_noinit`` only where nothing depends on its initial contents (the lanes = 1 index store:
    a never-written slot has norm 0 in a separate, initialised memory and scores 0).
    """
    return _NOINIT.sub(r"\1", text)


def generate(cfg, signs, block="macro", name=None, *, sign_port=False):
    """Elaborate and convert: returns (name, verilog text, description dict).

    ``sign_port`` (macro only) adds the run-time sign write port; without it the output is the
    standard one, byte for byte.
    """
    name = name or default_name(cfg, block, sign_port=sign_port)
    top = build_block(cfg, signs, block, sign_port=sign_port)
    text = drop_noinit_initialisers(verilog.convert(top, name=name, emit_src=False))
    timing = {}
    for attr in ("latency", "query_latency", "write_latency", "table_gap",
                 "clocks_per_query", "sign_write_clocks"):
        if isinstance(getattr(top, attr, None), int):
            timing[attr] = getattr(top, attr)
    doc = describe(top, cfg, verilog_name=f"{name}.v", block=block,
                   signs=signs if block == "macro" else None, timing=timing,
                   sign_port=sign_port)
    return name, text, doc
