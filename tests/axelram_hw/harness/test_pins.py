"""axelram_hw.harness.pins: the harness's board pins, taken from the amaranth-boards platforms."""

import re

import pytest
from amaranth.build import Connector
from amaranth_boards.icebreaker import ICEBreakerPlatform

from axelram_hw.harness import pins

#: The pins of the hand-copied constraints/icebreaker_pin_harness.pcf and
#: constraints/ulx3s_pin_harness.lpf that the generated files replaced (git show ec926fc), as an
#: independent reference: {port: (package pin, {IOBUF attribute: value})}.
EXPECTED = {
    "ice40": {
        "clk": ("35", {}), "rst": ("10", {}), "sdi": ("4", {}), "write_valid": ("2", {}),
        "query_valid": ("47", {}), "score_ready": ("45", {}), "sdo": ("11", {}),
    },
    "ecp5": {
        "clk": ("G2", {"IO_TYPE": "LVCMOS33"}),
        "rst": ("D6", {"IO_TYPE": "LVCMOS33", "PULLMODE": "UP"}),
        "sdi": ("R1", {"IO_TYPE": "LVCMOS33", "PULLMODE": "DOWN"}),
        "write_valid": ("T1", {"IO_TYPE": "LVCMOS33", "PULLMODE": "DOWN"}),
        "query_valid": ("R18", {"IO_TYPE": "LVCMOS33", "PULLMODE": "DOWN"}),
        "score_ready": ("V1", {"IO_TYPE": "LVCMOS33", "PULLMODE": "DOWN"}),
        "sdo": ("B2", {"IO_TYPE": "LVCMOS33", "DRIVE": "4"}),
    },
}
HARNESS_PORTS = ["clk", "rst", "sdi", "write_valid", "query_valid", "score_ready", "sdo"]


def parse(text):
    """{port: (pin, {attribute: value})} of a .pcf or .lpf, comments ignored."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if m := re.fullmatch(r"set_io\s+(\S+)\s+(\S+)", line):
            assert m[1] not in out
            out[m[1]] = (m[2], {})
        elif m := re.fullmatch(r'LOCATE COMP "([^"]+)" SITE "([^"]+)";', line):
            assert m[1] not in out
            out[m[1]] = (m[2], {})
        elif m := re.fullmatch(r'IOBUF PORT "([^"]+)"((?: \w+=\w+)*);', line):
            assert not out[m[1]][1]
            out[m[1]][1].update(kv.split("=") for kv in m[2].split())
        else:
            raise AssertionError(f"unparsed constraint line {line!r}")
    return out


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_generated_pins_are_the_hand_copied_ones(family):
    text = pins.render(family)
    assert parse(text) == EXPECTED[family]
    assert list(parse(text)) == HARNESS_PORTS  # in the harness's port order
    assert text == pins.render(family)  # deterministic
    assert "FREQUENCY" not in text  # the clock target is nextpnr's --freq


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_clock_is_the_platforms_default_clock(family):
    platform = pins.BOARDS[family][1]()
    where = pins.HARNESS_PINS[family]["clk"]
    assert (where.kind, where.name, where.number) == ("resource", platform.default_clk, 0)
    assert platform.lookup(where.name).clock is not None


def test_pins_come_from_the_platform():
    """A platform with other pins gives other constraints: nothing is copied into the table."""
    class Rewired(ICEBreakerPlatform):
        connectors = [Connector("pmod", 0, "99 2 47 45 - - 3 48 46 44 - -")]

    resolved = {port: pin for port, pin, _ in pins.resolve("ice40", platform=Rewired())}
    assert resolved["sdi"] == "99" and resolved["write_valid"] == "2"


@pytest.mark.parametrize("where, message", [
    (pins.BoardPin("resource", "led_blue", 0, 0), "has no resource led_blue#0"),
    (pins.BoardPin("resource", "led", 7, 0), "has no resource led#7"),
    (pins.BoardPin("resource", "led", 0, 1), "has 1 pin"),
    (pins.BoardPin("resource", "uart", 0, 0), "not a single set of pins"),
    (pins.BoardPin("connector", "pmod", 9, 1), "has no connector pmod#9"),
    (pins.BoardPin("connector", "pmod", 0, 5), "has no pin 5"),
    (pins.BoardPin("socket", "pmod", 0, 1), "kind must be"),
])
def test_missing_board_pin_is_a_clear_error(where, message):
    table = dict(pins.HARNESS_PINS["ice40"], sdi=where)
    with pytest.raises(ValueError, match=rf"^sdi: .*{re.escape(message)}"):
        pins.render("ice40", table)


def test_unknown_family():
    with pytest.raises(ValueError, match="unknown family 'gowin'"):
        pins.render("gowin")
