"""cocotb regression of the generated FWHT and key-encoder blocks (Icarus), and the checks of the
JSON description beside the Verilog (missing, malformed or mismatched: a clear error).

One simulator run per configuration under build/sim/<config>/; see docs/simulation.md.
"""

import json

import numpy as np
import pytest

import sim.cocotb_fwht
import sim.cocotb_key_encoder
from golden.config import AxelramConfig
from sim.description import FORMAT, DescriptionError, load_description
from sim.pause import burst_pause, make_pause, random_pause
from sim.payload import Codec
from sim.regression import Config, Regression, cocotb_tests
from sim.runner import BUILD, Design, generate_design, simulator_missing
from sim.scoreboard import Deferred, Scoreboard
from sim.shadow_store import ShadowStore

FWHT = [Config(name, "fwht", AxelramConfig(**params), "icarus", "sim.cocotb_fwht")
        for name, params in {
            "fwht_d16_b3_p4": dict(d=16, b=3, lanes=4),
            "fwht_d8_b3_p1": dict(d=8, b=3, lanes=1),
        }.items()]

KEY_ENCODER = [Config(name, "key_encoder", AxelramConfig(**params), "icarus",
                      "sim.cocotb_key_encoder")
               for name, params in {
                   "key_encoder_d16_b3_p4": dict(d=16, b=3, lanes=4),
                   "key_encoder_d8_b1_p8": dict(d=8, b=1),
                   "key_encoder_d16_b4_p2": dict(d=16, b=4, lanes=2),
               }.items()]

REGRESSION = Regression()


@pytest.mark.parametrize("case", cocotb_tests(sim.cocotb_fwht))
@pytest.mark.parametrize("config", FWHT, ids=repr)
def test_fwht(request, config, case):
    result = REGRESSION.result(request, config, case)
    assert result.passed, result.message


@pytest.mark.parametrize("case", cocotb_tests(sim.cocotb_key_encoder))
@pytest.mark.parametrize("config", KEY_ENCODER, ids=repr)
def test_key_encoder(request, config, case):
    result = REGRESSION.result(request, config, case)
    assert result.passed, result.message


# ---- the description: checked before any simulation -------------------------------------------

@pytest.fixture(scope="module")
def fwht_files(tmp_path_factory):
    """A generated FWHT block (Verilog + JSON) in a temporary folder."""
    folder = tmp_path_factory.mktemp("desc")
    v = generate_design(AxelramConfig(d=8, b=3, lanes=4), None, "fwht", folder)
    return v, json.loads(v.with_suffix(".json").read_text())


def rewrite(tmp_path, fwht_files, change):
    """Copy the design to ``tmp_path`` with ``change(doc)`` applied to its JSON."""
    v, doc = fwht_files
    doc = json.loads(json.dumps(doc))
    change(doc)
    out = tmp_path / v.name
    out.write_text(v.read_text())
    out.with_suffix(".json").write_text(json.dumps(doc))
    return out


def test_description_loads(fwht_files):
    desc = load_description(fwht_files[0], block="fwht")
    assert desc.top == fwht_files[0].stem and desc.config.lanes == 4
    assert desc.port("i__payload").width == 4 * 16 + 4 and desc.port("i__ready").direction == "out"


def test_description_format_matches_generator():
    from axelram_hw.describe import FORMAT as GENERATOR_FORMAT
    assert FORMAT == GENERATOR_FORMAT


def test_description_missing(tmp_path, fwht_files):
    v = tmp_path / fwht_files[0].name
    v.write_text(fwht_files[0].read_text())
    with pytest.raises(DescriptionError, match=r"JSON description beside .* is missing"):
        load_description(v)


def test_description_not_json(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, lambda doc: None)
    v.with_suffix(".json").write_text("{not json")
    with pytest.raises(DescriptionError, match="not valid JSON"):
        load_description(v)


def test_description_wrong_format(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, lambda doc: doc.update(format="axelram-hw-description/0"))
    with pytest.raises(DescriptionError, match="format is 'axelram-hw-description/0', expected"):
        load_description(v)


def test_description_wrong_top(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, lambda doc: doc.update(top="other_top"))
    with pytest.raises(DescriptionError, match="no module 'other_top'"):
        load_description(v)
    with pytest.raises(DescriptionError, match="top module is .*, expected 'other_top'"):
        load_description(fwht_files[0], top="other_top")


def test_description_wrong_block(fwht_files):
    with pytest.raises(DescriptionError, match="block is 'fwht', expected 'macro'"):
        load_description(fwht_files[0], block="macro")


def _set_port(name, **values):
    def change(doc):
        next(p for p in doc["ports"] if p["name"] == name).update(values)
    return change


def test_description_port_width_mismatch(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, _set_port("o__payload", width=7))
    with pytest.raises(DescriptionError,
                       match=r"port o__payload is 7 bits in the JSON but \d+ bits in the Verilog"):
        load_description(v)


def test_description_port_direction_mismatch(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, _set_port("i__ready", direction="in"))
    with pytest.raises(DescriptionError, match="port i__ready is an input in the JSON but an "
                                               "output in the Verilog"):
        load_description(v)


def test_description_port_missing(tmp_path, fwht_files):
    def drop(doc):
        doc["ports"] = [p for p in doc["ports"] if p["name"] != "o__valid"]
    v = rewrite(tmp_path, fwht_files, drop)
    with pytest.raises(DescriptionError, match=r"not in the JSON: \['o__valid'\]"):
        load_description(v)


def test_description_config_mismatch(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, lambda doc: doc["config"].update(in_width=12))
    with pytest.raises(DescriptionError, match="derived widths differ"):
        load_description(v)


def test_description_bad_config(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, lambda doc: doc["config"].update(d=12))
    with pytest.raises(DescriptionError, match="bad config"):
        load_description(v)


def test_description_rom_mismatch(tmp_path, fwht_files):
    v = rewrite(tmp_path, fwht_files, lambda doc: doc["roms"]["centroid"].update(words=[1, 2]))
    with pytest.raises(DescriptionError, match="centroid ROM words differ"):
        load_description(v)


def test_testbench_rejects_other_verilog():
    """The simulator was built from one design, the description given is of another one with
    the same top name and valid by itself: the testbench stops at once, naming the port."""
    missing = simulator_missing("icarus")
    if missing:
        pytest.skip(missing)
    base = BUILD / "errors"
    built = generate_design(AxelramConfig(d=8, b=3, lanes=4), None, "fwht", base / "built",
                            name="fwht_dut")
    other = generate_design(AxelramConfig(d=8, b=3, lanes=2), None, "fwht", base / "other",
                            name="fwht_dut")
    results = Design(built, "icarus", base / "icarus").run("sim.cocotb_fwht",
                                                           ["random_handshake"], verilog=other)
    result = results["random_handshake"]
    assert not result.passed
    assert "port i__payload is 34 bits in the JSON but 68 bits in the simulated design" in \
        result.message, result.message


# ---- testbench parts without a simulator ------------------------------------------------------

def test_codec_round_trip_and_ranges():
    port = {"name": "p", "width": 2 * 5 + 3 + 4, "fields": [
        {"name": "a", "offset": 0, "width": 10,
         "array": {"length": 2, "element_width": 5, "element_signed": True}},
        {"name": "b", "offset": 10, "width": 3, "signed": False},
        {"name": "s", "offset": 13, "width": 4},
        {"name": "s.x", "offset": 13, "width": 2, "signed": True},
        {"name": "s.y", "offset": 15, "width": 2, "signed": False}]}
    codec = Codec(port)
    value = {"a": [-16, 15], "b": 5, "s.x": -1, "s.y": 2}
    word = codec.encode(value)
    assert word == (0b10000 | 0b01111 << 5 | 5 << 10 | 0b11 << 13 | 2 << 15)
    assert codec.decode(word) == value
    with pytest.raises(ValueError, match="16 does not fit 5 signed bits"):
        codec.encode({**value, "a": [16, 0]})
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        codec.encode({"a": [0, 0], "s.x": 0, "s.y": 0})
    array = Codec({"name": "o", "width": 8,
                   "array": {"length": 2, "element_width": 4, "element_signed": False}})
    assert array.decode(array.encode([3, 15])) == [3, 15]


def test_scoreboard_reports_first_mismatches():
    sb = Scoreboard("demo", max_report=2)
    for n in range(4):
        sb.expect({"v": [n, n]}, f"beat {n}")
    sb.expect(Deferred(lambda: [{"v": [9, 9]}, {"v": [8, 8]}]), "either")
    sb.observe({"v": [0, 0]})
    sb.observe({"v": [1, 7]})
    sb.observe({"v": [2, 2]})
    sb.observe({"v": [5, 3]})
    sb.observe({"v": [8, 8]})
    sb.observe({"v": [4, 4]})
    with pytest.raises(AssertionError) as info:
        sb.check()
    text = str(info.value)
    assert "6 observed, 3 matched, 2 mismatched, 1 unexpected, 0 missing" in text
    assert ("item 1 (beat 1): got {'v': [1, 7]}, want {'v': [1, 1]} (first difference at "
            "v[1]: got 7, want 1)") in text
    assert "item 5: unexpected {'v': [4, 4]}" in text


def test_scoreboard_missing_and_reset():
    sb = Scoreboard("demo")
    sb.expect(1, "a")
    sb.expect(2, "b")
    sb.observe(1)
    with pytest.raises(AssertionError, match=r"1 missing\n  missing \(b\): 2"):
        sb.check()
    assert sb.drop_outstanding() == 1 and sb.ok


def test_pause_generators_are_seeded():
    a = [next(g) for g in [random_pause(5, 0.3)] for _ in range(2000)]
    b = [next(g) for g in [random_pause(5, 0.3)] for _ in range(2000)]
    assert a == b and 0.25 < sum(a) / len(a) < 0.35
    burst = burst_pause(7, 0.7)
    c = [next(burst) for _ in range(20000)]
    assert 0.6 < sum(c) / len(c) < 0.8
    assert not any(next(make_pause("none", 1)) for _ in range(10))


def test_shadow_store_versions():
    store = ShadowStore(AxelramConfig(d=8, b=2, t=4))
    zero = np.zeros(8)
    v1 = store.write(store.next_seq(), 1, zero, 1, 1, "w1")
    q = store.next_seq()
    v2 = store.write(store.next_seq(), 1, zero, 2, 2, "w2")
    assert store.candidates(1) == {v2} and store.later(1, q) == [v2]
    store.fence(q)                        # w1 committed, w2 not proven
    store.reset()
    assert store.candidates(1) == {v1, v2} and store.uncertain_slots() == [1]
    store.forget()
    assert store.unknown_slots() == [0, 1, 2, 3]
