"""The JSON description beside generated Verilog: load it, and check it against the Verilog text
and against the simulator's DUT handles.

``axelram verilog`` writes ``<name>.v`` and ``<name>.json`` (``format =
"axelram-hw-description/1"``, see ``axelram_hw/describe.py``). Amaranth bakes every parameter
into the Verilog, so a testbench takes its configuration from the JSON only; these checks make a
missing or mismatched description fail loudly instead of testing the wrong thing.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden.config import AxelramConfig
from golden.signs import SignSet

__all__ = ["FORMAT", "DescriptionError", "Port", "Description", "load_description",
           "verilog_ports", "check_handles"]

FORMAT = "axelram-hw-description/1"


class DescriptionError(ValueError):
    """The JSON description is missing, malformed or does not match the design."""


@dataclass(frozen=True)
class Port:
    """One top-level port as the JSON describes it (``doc`` is the raw entry)."""

    name: str
    direction: str
    width: int
    doc: dict = field(repr=False)


@dataclass(frozen=True)
class Description:
    """A loaded and checked description."""

    verilog_path: Path
    json_path: Path
    top: str
    block: str
    config: AxelramConfig
    ports: dict
    timing: dict
    signs: SignSet | None
    doc: dict = field(repr=False)

    def port(self, name):
        try:
            return self.ports[name]
        except KeyError:
            raise DescriptionError(f"{self.json_path}: no port {name!r} (ports: "
                                   f"{', '.join(self.ports)})") from None


def load_description(verilog_path, *, top=None, block=None):
    """Load ``<name>.json`` beside ``verilog_path`` and check it against the Verilog.

    Checks: the JSON exists and parses; its format string; its ``verilog`` file name and
    ``top`` module (and ``top``/``block`` if given); the configuration builds and its derived
    widths and ROM words equal the golden model's; every port of the Verilog top module is in the
    JSON with the same direction and width, and no other. Raises :class:`DescriptionError`.
    """
    verilog_path = Path(verilog_path)
    json_path = verilog_path.with_suffix(".json")
    if not verilog_path.is_file():
        raise DescriptionError(f"{verilog_path}: Verilog file not found")
    if not json_path.is_file():
        raise DescriptionError(f"{json_path}: the JSON description beside {verilog_path.name} is "
                               f"missing (`axelram verilog` writes both)")
    try:
        doc = json.loads(json_path.read_text())
    except json.JSONDecodeError as exc:
        raise DescriptionError(f"{json_path}: not valid JSON ({exc})") from None
    where = str(json_path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise DescriptionError(f"{where}: format is {got!r}, expected {FORMAT!r}")
    for key in ("verilog", "top", "block", "config", "widths", "ports", "timing", "roms"):
        if key not in doc:
            raise DescriptionError(f"{where}: missing key {key!r}")
    if doc["verilog"] != verilog_path.name:
        raise DescriptionError(f"{where}: describes {doc['verilog']!r}, not {verilog_path.name!r}")
    if top is not None and doc["top"] != top:
        raise DescriptionError(f"{where}: top module is {doc['top']!r}, expected {top!r}")
    if block is not None and doc["block"] != block:
        raise DescriptionError(f"{where}: block is {doc['block']!r}, expected {block!r}")
    cfg = _config(where, doc)
    signs = _signs(where, doc, cfg)
    ports = _ports(where, doc)
    _compare_ports(where, doc["top"], ports, verilog_ports(verilog_path.read_text(), doc["top"],
                                                           str(verilog_path)))
    return Description(verilog_path=verilog_path, json_path=json_path, top=doc["top"],
                       block=doc["block"], config=cfg, ports=ports, timing=dict(doc["timing"]),
                       signs=signs, doc=doc)


def _config(where, doc):
    try:
        cfg = AxelramConfig(**doc["config"])
    except (TypeError, ValueError) as exc:
        raise DescriptionError(f"{where}: bad config ({exc})") from None
    if doc["widths"] != cfg.widths():
        bad = sorted(k for k in set(doc["widths"]) | set(cfg.widths())
                     if doc["widths"].get(k) != cfg.widths().get(k))
        raise DescriptionError(f"{where}: derived widths differ from the golden model's for "
                               f"this config: {', '.join(bad)}")
    roms = doc["roms"]
    for name, words in (("threshold", cfg.threshold_rom), ("centroid", cfg.centroid_rom)):
        if list(roms.get(name, {}).get("words", ())) != list(words):
            raise DescriptionError(f"{where}: {name} ROM words differ from the golden model's "
                                   f"(got {roms.get(name, {}).get('words')}, want {list(words)})")
    return cfg


def _signs(where, doc, cfg):
    """The sign ROM as a SignSet (macro only; the blocks take negate bits as input)."""
    rom = doc["roms"].get("sign")
    if rom is None:
        if doc["block"] == "macro":
            raise DescriptionError(f"{where}: a macro description needs roms.sign")
        return None
    words = [int(w, 16) for w in rom["words_hex"]]
    if len(words) != cfg.layers or rom.get("d") != cfg.d:
        raise DescriptionError(f"{where}: sign ROM has {len(words)} words of d={rom.get('d')}, "
                               f"config has layers={cfg.layers}, d={cfg.d}")
    signs = np.array([[-1 if (w >> i) & 1 else 1 for i in range(cfg.d)] for w in words],
                     dtype=np.int8)
    return SignSet(signs, source=f"{where} roms.sign")


def _ports(where, doc):
    ports = {}
    for entry in doc["ports"]:
        try:
            port = Port(entry["name"], entry["direction"], int(entry["width"]), entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise DescriptionError(f"{where}: bad port entry {entry!r} ({exc})") from None
        if port.direction not in ("in", "out"):
            raise DescriptionError(f"{where}: port {port.name} has direction "
                                   f"{port.direction!r}, not 'in' or 'out'")
        if port.name in ports:
            raise DescriptionError(f"{where}: port {port.name} listed twice")
        ports[port.name] = port
    return ports


_MODULE = re.compile(r"^module\s+(\\?\S+?)\s*\(", re.M)
_DECL = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                   r"(?:\[(\d+):(\d+)\]\s*)?(\\?\S+)\s*;", re.M)


def verilog_ports(text, top, where="<verilog>"):
    """``{name: (direction, width)}`` of module ``top`` in Amaranth-generated Verilog text."""
    starts = [(m.group(1).lstrip("\\"), m.start()) for m in _MODULE.finditer(text)]
    for name, start in starts:
        if name == top:
            end = text.find("\nendmodule", start)
            body = text[start:end if end >= 0 else len(text)]
            out = {}
            for m in _DECL.finditer(body):
                width = abs(int(m.group(2)) - int(m.group(3))) + 1 if m.group(2) else 1
                out[m.group(4).lstrip("\\")] = ("in" if m.group(1) == "input" else "out", width)
            return out
    raise DescriptionError(f"{where}: no module {top!r} (modules: "
                           f"{', '.join(n for n, _ in starts) or 'none'})")


def _compare_ports(where, top, ports, actual):
    missing = sorted(set(actual) - set(ports))
    extra = sorted(set(ports) - set(actual))
    if missing or extra:
        raise DescriptionError(f"{where}: ports differ from Verilog module {top}: "
                               f"not in the JSON: {missing or 'none'}; "
                               f"not in the Verilog: {extra or 'none'}")
    for name, port in ports.items():
        direction, width = actual[name]
        if port.width != width:
            raise DescriptionError(f"{where}: port {name} is {port.width} bits in the JSON but "
                                   f"{width} bits in the Verilog")
        if port.direction != direction:
            raise DescriptionError(f"{where}: port {name} is an {port.direction}put in the JSON "
                                   f"but an {direction}put in the Verilog")


def check_handles(dut, desc):
    """At testbench start: the simulated top is ``desc.top`` and every port has the JSON's width.

    Catches a simulator built from other Verilog than the one the JSON describes.
    """
    name = getattr(dut, "_name", None)
    if name != desc.top:
        raise DescriptionError(f"{desc.json_path}: describes top {desc.top!r}, but the simulated "
                               f"top level is {name!r}")
    for port in desc.ports.values():
        try:
            handle = getattr(dut, port.name)
        except AttributeError:
            raise DescriptionError(f"{desc.json_path}: port {port.name} is not in the simulated "
                                   f"design {name}") from None
        if len(handle) != port.width:
            raise DescriptionError(f"{desc.json_path}: port {port.name} is {port.width} bits in "
                                   f"the JSON but {len(handle)} bits in the simulated design")
