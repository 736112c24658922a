"""Board pins of :class:`~axelram_hw.harness.pin_harness.PinHarness`, taken from amaranth-boards.

``bench/pnr.py`` places and routes the five-pin harness on the iCEBreaker (iCE40UP5K-SG48) and
the ULX3S-85F (LFE5U-85F-6BG381). The pin of every harness port is looked up in the board's
amaranth-boards platform (``ICEBreakerPlatform``, ``ULX3S_85F_Platform``) through
:data:`HARNESS_PINS`, and rendered as the nextpnr constraint file of the family:

* iCE40: a ``.pcf``, one ``set_io <port> <pin>`` per port. The resources' attributes
  (``IO_STANDARD``, ``GLOBAL``) are not PCF statements (Amaranth's own iCE40 flow puts them on
  ``SB_IO`` instances in the Verilog); nextpnr's defaults apply.
* ECP5: an ``.lpf``, ``LOCATE COMP "<port>" SITE "<pin>";`` and, when the resource has
  attributes, ``IOBUF PORT "<port>" KEY=VALUE ...;`` with the resource's ``Attrs`` in their
  order (``IO_TYPE``, ``PULLMODE``, ``DRIVE``), as Amaranth's ECP5 flow writes them.

Neither file has a clock constraint: the clock target is nextpnr's ``--freq`` (set per case in
``bench/pnr.py``), not the oscillator's frequency. The output depends only on the table and the
platform classes, so it is the same on every run.
"""

from typing import NamedTuple

from amaranth.build import Pins, ResourceError
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

__all__ = ["BOARDS", "HARNESS_PINS", "BoardPin", "render", "resolve"]


class BoardPin(NamedTuple):
    """Where a harness port sits: a pin of a resource, or a pin of a connector.

    ``kind`` is ``"resource"`` (``index`` is the position in the resource's ``Pins``, 0 for a
    one-pin resource) or ``"connector"`` (``index`` is the connector pin number, as printed on
    the board: PMOD pins 1-4 are the top row)."""
    kind: str
    name: str
    number: int
    index: int


#: family -> (board, amaranth-boards platform class, constraint file format).
BOARDS = {
    "ice40": ("iCEBreaker (iCE40UP5K-SG48)", ICEBreakerPlatform, "pcf"),
    "ecp5": ("ULX3S-85F (LFE5U-85F-6BG381)", ULX3S_85F_Platform, "lpf"),
}

#: family -> harness port -> :class:`BoardPin`, in the harness's port order. The choice: the
#: clock is the board's oscillator (the platform's ``default_clk``); reset is a push button;
#: the four stimulus inputs are pins nothing else on the board drives (the iCEBreaker has one
#: user button on the board itself, so its inputs are PMOD1A pins 1-4; the ULX3S has buttons
#: enough, with pull-downs, so its inputs are FIRE1, FIRE2, UP and DOWN); the one output is an
#: LED. Polarity is not applied: the harness has no I/O buffers of its own and its ``rst`` is
#: active-high while both reset buttons are active-low, which matters for a board to program but
#: not for fit and timing, what the harness measures.
HARNESS_PINS = {
    "ice40": {
        "clk": BoardPin("resource", "clk12", 0, 0),         # 12 MHz oscillator
        "rst": BoardPin("resource", "button", 0, 0),        # user button
        "sdi": BoardPin("connector", "pmod", 0, 1),         # PMOD1A pin 1
        "write_valid": BoardPin("connector", "pmod", 0, 2),
        "query_valid": BoardPin("connector", "pmod", 0, 3),
        "score_ready": BoardPin("connector", "pmod", 0, 4),
        "sdo": BoardPin("resource", "led_r", 0, 0),         # red LED
    },
    "ecp5": {
        "clk": BoardPin("resource", "clk25", 0, 0),         # 25 MHz oscillator
        "rst": BoardPin("resource", "button_pwr", 0, 0),    # PWR button
        "sdi": BoardPin("resource", "button_fire", 0, 0),   # FIRE1
        "write_valid": BoardPin("resource", "button_fire", 1, 0),  # FIRE2
        "query_valid": BoardPin("resource", "button_up", 0, 0),
        "score_ready": BoardPin("resource", "button_down", 0, 0),
        "sdo": BoardPin("resource", "led", 0, 0),           # LED 0
    },
}


def _platform(family):
    if family not in BOARDS:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(BOARDS)}")
    return BOARDS[family][1]()


def _lookup(platform, port, where):
    """(package pin, attributes) of one :class:`BoardPin` on ``platform``."""
    board = type(platform).__name__
    if where.kind == "connector":
        key = (where.name, where.number)
        if key not in platform.connectors:
            raise ValueError(f"{port}: {board} has no connector {where.name}#{where.number}")
        mapping = platform.connectors[key].mapping
        if str(where.index) not in mapping:
            raise ValueError(f"{port}: connector {where.name}#{where.number} of {board} has no "
                             f"pin {where.index} (pins: {', '.join(mapping)})")
        return mapping[str(where.index)], {}
    if where.kind != "resource":
        raise ValueError(f"{port}: kind must be 'resource' or 'connector', not {where.kind!r}")
    try:
        resource = platform.lookup(where.name, where.number)
    except ResourceError:
        raise ValueError(f"{port}: {board} has no resource {where.name}#{where.number}") from None
    pins = resource.ios[0] if len(resource.ios) == 1 else None
    if not isinstance(pins, Pins):
        raise ValueError(f"{port}: resource {where.name}#{where.number} of {board} is not a "
                         f"single set of pins: {resource!r}")
    # A resource may sit on a connector ("pmod_0:1"): resolve through every connector.
    conn_pins = dict(pin for conn in platform.connectors.values() for pin in conn)
    names = pins.map_names(conn_pins, resource)
    if not 0 <= where.index < len(names):
        raise ValueError(f"{port}: resource {where.name}#{where.number} of {board} has "
                         f"{len(names)} pin(s), no index {where.index}")
    attrs = {}
    for key, value in resource.attrs.items():
        if value is None:
            continue
        if not isinstance(value, (str, int)):
            raise ValueError(f"{port}: attribute {key} of {where.name}#{where.number} is not "
                             f"a constant: {value!r}")
        attrs[key] = str(value)
    return names[where.index], attrs


def resolve(family, table=None, platform=None):
    """``[(port, package pin, {attribute: value})]`` of the harness on the family's board.

    ``table`` defaults to ``HARNESS_PINS[family]``, ``platform`` to the board's platform. Raises
    ValueError when the platform lacks a resource, a connector or a pin of the table."""
    platform = _platform(family) if platform is None else platform
    table = HARNESS_PINS[family] if table is None else table
    return [(port, *_lookup(platform, port, where)) for port, where in table.items()]


def render(family, table=None, platform=None):
    """The nextpnr constraint file (``.pcf`` for ice40, ``.lpf`` for ecp5) as text."""
    pins = resolve(family, table, platform)
    board, cls, fmt = BOARDS[family]
    where = HARNESS_PINS[family] if table is None else table
    lines = [f"# {board}: pins of axelram_hw.harness.pin_harness.PinHarness for place and route.",
             f"# Generated by axelram_hw.harness.pins from amaranth-boards' {cls.__name__};",
             "# do not edit (constraints/README.md). The clock target is nextpnr's --freq."]
    for port, pin, attrs in pins:
        w = where[port]
        lines.append(f"# {port}: {w.kind} {w.name}#{w.number} pin {w.index}")
        if fmt == "pcf":
            lines.append(f"set_io {port} {pin}")
        else:
            lines.append(f'LOCATE COMP "{port}" SITE "{pin}";')
            if attrs:
                lines.append(f'IOBUF PORT "{port}" '
                             + " ".join(f"{k}={v}" for k, v in attrs.items()) + ";")
    return "\n".join(lines) + "\n"
