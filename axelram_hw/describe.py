"""The JSON description written beside generated Verilog.

Amaranth bakes parameters into the Verilog, so everything a testbench written elsewhere needs —
the configuration, every port with its packed fields and their number formats, the timing
facts and the ROM contents — travels in this file (``format = "axelram-hw-description/1"``).
A macro built with the run-time sign port has ``roms.sign.writable = true`` and the port's rule
in ``roms.sign.write_port``; without it ``writable`` is absent (read-only: the standard
description is unchanged).
"""

from importlib import metadata

from amaranth import Shape
from amaranth.lib import data
from amaranth.lib.wiring import Flow

from golden.signs import rom_words

from .read_path.factory import read_path_class

__all__ = ["describe", "ports", "FORMAT"]

FORMAT = "axelram-hw-description/1"


def _field_formats(cfg):
    """Number format of each named field, by field name."""
    lsb = "signed two's complement integer"
    return {
        "key": f"{lsb}, {cfg.in_width} bits per coordinate (input LSB units)",
        "query": f"{lsb}, {cfg.in_width} bits per coordinate (input LSB units)",
        "data": f"{lsb} per coordinate",
        "neg": "bit p set: coordinate p is negated (sign -1)",
        "layer": f"sign-ROM layer 0..{cfg.layers - 1}",
        "word": f"{cfg.d} negate bits of one layer: bit i set = coordinate i has sign -1",
        "slot": f"key slot 0..{cfg.t - 1}",
        "first": f"first slot to score, 0..{cfg.t - 1}",
        "count": f"number of slots to score, 0..{cfg.t}",
        "idx": f"{cfg.b}-bit codebook index per coordinate (0 = most negative centroid)",
        "mant": "see the enclosing port's formats",
        "exp": "see the enclosing port's formats",
        "last": "1 on the final score of a query",
        "oob": "1 if the slot is at or beyond t (score 0, memory not read)",
    }


def _shape_doc(shape):
    """Width and, for arrays, the element format of a payload shape."""
    if isinstance(shape, data.ArrayLayout):
        elem = _shape_doc(shape.elem_shape)
        return {"width": shape.size,
                "array": {"length": shape.length, "element_width": elem["width"],
                          "element_signed": elem.get("signed", False),
                          "element_0": "least significant bits"}}
    if isinstance(shape, data.Layout):
        return {"width": shape.size}
    shape = Shape.cast(shape)
    return {"width": shape.width, "signed": shape.signed}


def _fields(layout, formats, prefix=""):
    """The packed fields of a struct payload, nested structs flattened as ``a.b``."""
    out = []
    for name, field in layout:
        doc = {"name": prefix + name, "offset": field.offset}
        doc.update(_shape_doc(field.shape))
        if name in formats:
            doc["format"] = formats[name]
        out.append(doc)
        if isinstance(field.shape, data.StructLayout):
            out += _fields(field.shape, formats, prefix + name + ".")
    return out


def ports(component, cfg):
    """Every port of ``component`` as Amaranth names it in Verilog (``a__b``), with direction,
    width and, for structured payloads, the packed fields (offset from bit 0)."""
    formats = _field_formats(cfg)
    out = [{"name": "clk", "direction": "in", "width": 1, "format": "clock, rising edge"},
           {"name": "rst", "direction": "in", "width": 1,
            "format": "synchronous reset, active high"}]
    for path, member, flow in _walk(component.signature):
        doc = {"name": "__".join(path), "direction": "in" if flow == Flow.In else "out"}
        doc.update(_shape_doc(member.shape))
        if isinstance(member.shape, data.StructLayout):
            doc["fields"] = _fields(member.shape, formats)
        if path[-1] in ("valid", "ready"):
            doc["format"] = "stream handshake (transfer when valid and ready on a rising edge)"
        out.append(doc)
    return out


def _walk(signature, path=()):
    """(path, member, flow) of every port; ``Member.signature`` of an ``In`` member is already
    the flipped signature, so flows inside it come out as seen from outside."""
    for name, member in signature.members.items():
        if member.is_signature:
            yield from _walk(member.signature, path + (name,))
        else:
            yield path + (name,), member, member.flow


def describe(component, cfg, *, verilog_name, block, signs=None, timing=None,
             sign_port=False):
    """The description dictionary of one generated design (``sign_port``: the macro has the
    run-time sign write port)."""
    doc = {
        "format": FORMAT,
        "verilog": verilog_name,
        "block": block,
        "top": verilog_name.rsplit(".", 1)[0],
        "config": cfg.as_dict(),
        "widths": cfg.widths(),
        "ports": ports(component, cfg),
        "streams": "Amaranth stream: payload/valid/ready; valid never waits for ready; payload "
                   "stable while valid and not ready; a vector is d/lanes consecutive beats, "
                   "beat c carries coordinates c*lanes..c*lanes+lanes-1",
        "formats": {
            "score": {"value": "mant * 2**(exp + score_exp_offset)",
                      "score_exp_offset": cfg.score_exp_offset, "mant": "signed",
                      "exp": "unsigned", "units": "(input LSB)**2, approximates q . k"},
            "norm": {"value": "mant * 2**(exp - norm_bias)", "norm_bias": cfg.norm_bias,
                     "mant_width": cfg.norm_mant, "exp_width": cfg.norm_exp_width,
                     "zero": "mant = exp = 0"},
            "index_row": f"d*b index bits (coordinate 0 lowest) + norm word (exp above mant); "
                         f"{cfg.row_width} bits per key",
            "docs": "docs/number-formats.md",
        },
        "architecture": read_path_class(cfg).architecture(cfg),
        "timing": {"clocks_per_key_write": cfg.beats, "clocks_per_key_score": cfg.beats,
                   **(timing or {})},
        "roms": {
            "threshold": {"frac_bits": cfg.thr_frac, "words": list(cfg.threshold_rom),
                          "meaning": "positive Lloyd–Max thresholds gamma_1.. (N(0,1) units)"},
            "centroid": {"frac_bits": cfg.cent_frac, "words": list(cfg.centroid_rom),
                         "meaning": "positive Lloyd–Max centroids c_0.. ascending "
                                    "(N(0,1) units)"},
        },
        "generator": {"axelram-hw": _version("axelram-hw"), "amaranth": _version("amaranth")},
    }
    if signs is not None:
        doc["roms"]["sign"] = {
            "layers": signs.layers, "d": signs.d,
            "words_hex": [f"{w:0{(signs.d + 3) // 4}x}" for w in rom_words(signs)],
            "meaning": "one word per layer, bit i set where coordinate i has sign -1",
            "seeds": list(signs.seeds) if signs.seeds is not None else None,
            "source": signs.source,
        }
        if sign_port:
            doc["roms"]["sign"].update({
                "writable": True,
                "write_port": "signs {layer, word}: replaces layer's pattern (a layer at or "
                              "beyond layers is ignored); the words above are the power-up "
                              "contents, rst keeps what was written. A vector uses the patterns "
                              "in force when its first beat is accepted; while signs.valid is "
                              "high no first beat is accepted; a write starts when no vector is "
                              "partly accepted and takes timing.sign_write_clocks clocks "
                              "(ready on the last)",
            })
    return doc


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"
