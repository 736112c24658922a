"""axelram_hw.harness.pins: the harness's board pins, taken from the amaranth-boards platforms."""

import os
import re

import pytest

from axelram_hw.harness import pins

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HAND = {"ice40": "icebreaker_pin_harness.pcf", "ecp5": "ulx3s_pin_harness.lpf"}


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
def test_generated_matches_the_hand_files(family):
    with open(os.path.join(ROOT, "constraints", HAND[family])) as f:
        hand = parse(f.read())
    assert parse(pins.render(family)) == hand
