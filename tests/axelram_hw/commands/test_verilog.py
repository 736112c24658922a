"""`axelram verilog`: reproducible output, a JSON description that matches the Verilog, sign
files round-tripping into the ROM, and bad parameters refused before anything is written."""

import json
import os
import re

import numpy as np
import pytest

from axelram_hw.cli import main
from golden.config import AxelramConfig
from golden.fixed import FixedModel
from golden.signs import SignSet, read_signs, rom_words, sign_pattern, write_signs

SMALL = ["--d", "8", "--b", "2", "--t", "8"]


def generate(out, *args):
    return main(["verilog", *SMALL, "--out-dir", str(out), *args])


def verilog_ports(text, top):
    """{name: (direction, width)} of the top module's ports."""
    body = text[text.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    ports = {}
    for direction, msb, name in re.findall(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?"
                                           r"(?:\[(\d+):0\]\s+)?(\w+);", body, re.M):
        ports[name] = (direction[:-3] if direction == "output" else "in",
                       int(msb) + 1 if msb else 1)
    return ports


def test_same_parameters_same_bytes(tmp_path):
    assert generate(tmp_path / "a", "--lanes", "2", "--layers", "2") == 0
    assert generate(tmp_path / "b", "--lanes", "2", "--layers", "2") == 0
    name = "axelram_d8_b2_t8_p2_l2"
    for ext in (".v", ".json"):
        a = (tmp_path / "a" / f"{name}{ext}").read_bytes()
        assert a == (tmp_path / "b" / f"{name}{ext}").read_bytes()
        assert str(tmp_path).encode() not in a and b"/work" not in a  # no absolute paths
    assert sorted(os.listdir(tmp_path / "a")) == [f"{name}.json", f"{name}.v"]


@pytest.mark.parametrize("block", ["macro", "fwht", "norm", "quantiser", "key_encoder",
                                   "read_path", "macro --sign-port"])
def test_description_matches_verilog(tmp_path, block):
    """Every port of the Verilog top is in the JSON with its direction and width, and back;
    packed fields tile the payload."""
    block, *extra = block.split()
    assert generate(tmp_path, "--block", block, *extra) == 0
    (jpath,) = tmp_path.glob("*.json")
    doc = json.loads(jpath.read_text())
    assert doc["format"] == "axelram-hw-description/1" and doc["block"] == block
    text = (tmp_path / doc["verilog"]).read_text()
    in_verilog = verilog_ports(text, doc["top"])
    in_json = {p["name"]: (p["direction"], p["width"]) for p in doc["ports"]}
    assert in_json == in_verilog
    for port in doc["ports"]:
        top_fields = [f for f in port.get("fields", []) if "." not in f["name"]]
        if top_fields:
            assert sum(f["width"] for f in top_fields) == port["width"]
            ends = sorted((f["offset"], f["offset"] + f["width"]) for f in top_fields)
            assert ends[0][0] == 0
            assert all(a[1] == b[0] for a, b in zip(ends, ends[1:], strict=False))
    cfg = AxelramConfig(**doc["config"])
    assert doc["widths"] == cfg.widths()
    if block == "macro":
        assert doc["timing"]["query_latency"] > 0 and doc["timing"]["write_latency"] > 0


def test_sign_file_round_trip(tmp_path):
    """A calibration-style sign file goes into the Verilog ROM and the JSON unchanged, and the
    golden model reads the same file to the same patterns."""
    rows = np.array([sign_pattern(8, seed, layer) for layer, seed in enumerate((5, 17, 99))])
    signs_path = tmp_path / "signs.json"
    write_signs(signs_path, SignSet(rows, seeds=(5, 17, 99), source="test"))
    assert generate(tmp_path / "out", "--signs", str(signs_path)) == 0
    name = "axelram_d8_b2_t8_l3"  # layers taken from the file
    text = (tmp_path / "out" / f"{name}.v").read_text()
    rom = re.findall(r"sign_rom\[(\d+)\] = 8'h([0-9a-f]+);", text)
    assert [int(v, 16) for _, v in sorted(rom, key=lambda r: int(r[0]))] == rom_words(
        SignSet(rows))
    doc = json.loads((tmp_path / "out" / f"{name}.json").read_text())
    assert [int(w, 16) for w in doc["roms"]["sign"]["words_hex"]] == rom_words(SignSet(rows))
    assert doc["roms"]["sign"]["seeds"] == [5, 17, 99]
    model = FixedModel(AxelramConfig(d=8, b=2, t=8, layers=3), read_signs(signs_path))
    assert np.array_equal(model.signs.signs, rows)


def bad_sign_file(tmp_path):
    path = tmp_path / "signs16.json"
    write_signs(path, SignSet(np.array([sign_pattern(16, 0, 0)])))
    return path


@pytest.mark.parametrize("args, message", [
    (["--lanes", "3"], "lanes"),
    (["--lanes", "16"], "lanes"),
    (["--t", "0"], "t must be"),
    (["--b", "5"], "b must be"),
    (["--in-width", "1"], "in_width"),
    (["--table-width", "4"], "table_width"),
    (["--layers", "0"], "layers"),
    (["--block", "fwht", "--sign-port"], "sign_port needs block 'macro', not 'fwht'"),
    (["--signs", "missing.json"], "missing.json"),
    (["--signs", "<bad16>"], "d=16"),
    (["--signs", "<bad16>", "--d", "16", "--layers", "2"], "layers"),
])
def test_bad_parameters_write_nothing(tmp_path, capsys, args, message):
    if "<bad16>" in args:
        args = [str(bad_sign_file(tmp_path)) if a == "<bad16>" else a for a in args]
    out = tmp_path / "build"
    assert generate(out, *args) == 2
    err = capsys.readouterr().err
    assert "axelram verilog: error:" in err and message in err, err
    assert not out.exists() or not os.listdir(out)


def test_lanes1_index_store_has_no_initialiser(tmp_path):
    """The SPRAM-mapped index memory of the lanes = 1 macro carries no initialiser (Yosys
    would not map it to SPRAM otherwise); the other memories keep theirs (the norms must
    start at zero)."""
    assert main(["verilog", "--d", "16", "--b", "3", "--t", "32", "--lanes", "1",
                 "--out-dir", str(tmp_path)]) == 0
    text = (tmp_path / "axelram_d16_b3_t32_p1.v").read_text()
    doc = json.loads((tmp_path / "axelram_d16_b3_t32_p1.json").read_text())
    assert doc["architecture"]["form"].startswith("coordinate-serial")
    assert "not initialised" in doc["architecture"]["index_store"]
    (decl,) = re.findall(r"reg \[\d+:0\] idx_noinit \[\d+:0\];\n(.*)\n", text)
    assert "initial" not in decl and "idx_noinit[0] =" not in text
    assert re.search(r"reg \[\d+:0\] \w*norm\w* \[31:0\];\n *initial begin", text)


def test_drop_noinit_initialisers_only_touches_noinit_memories():
    from axelram_hw.generate import drop_noinit_initialisers
    text = ("  reg [7:0] a_noinit [1:0];\n  initial begin\n    a_noinit[0] = 8'h00;\n"
            "    a_noinit[1] = 8'h00;\n  end\n  reg [7:0] b [1:0];\n  initial begin\n"
            "    b[0] = 8'h01;\n    b[1] = 8'h00;\n  end\n")
    assert drop_noinit_initialisers(text) == ("  reg [7:0] a_noinit [1:0];\n"
                                              + text[text.index("  reg [7:0] b"):])


def test_block_choices_are_the_generators_blocks():
    """``--block`` lists its choices without importing Amaranth; they are ``generate.BLOCKS``."""
    from axelram_hw import generate
    from axelram_hw.commands import verilog

    assert verilog.BLOCKS == tuple(generate.BLOCKS)
