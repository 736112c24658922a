"""tools/compare_verilog.py: module-by-module comparison, with a pass-through level collapsed."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("compare_verilog",
                                               ROOT / "tools" / "compare_verilog.py")
compare_verilog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_verilog)

LEAF = "module \\top.enc.norm (a, y);\n  assign y = a;\nendmodule\n"
OLD = ("module top (a, y);\n  \\top.enc  enc (.a(a), .y(y));\nendmodule\n"
       "module \\top.enc (a, y);\n  \\top.enc.serial  serial (.a(a), .y(y));\nendmodule\n"
       + LEAF.replace("top.enc.norm", "top.enc.serial.norm")
       + "module \\top.enc.serial (a, y);\n  \\top.enc.serial.norm  norm (.a(a), .y(y));\n"
         "endmodule\n")
NEW = ("module top (a, y);\n  \\top.enc  enc (.a(a), .y(y));\nendmodule\n"
       + LEAF + "module \\top.enc (a, y);\n  \\top.enc.norm  norm (.a(a), .y(y));\nendmodule\n")


def _files(tmp_path, old, new):
    (tmp_path / "old.v").write_text(old)
    (tmp_path / "new.v").write_text(new)
    return str(tmp_path / "old.v"), str(tmp_path / "new.v")


def test_identical_files_pass(tmp_path, capsys):
    assert compare_verilog.main(list(_files(tmp_path, NEW, NEW))) == 0
    assert "3 of 3 modules identical" in capsys.readouterr().out


def test_collapsed_wrapper_matches(tmp_path, capsys):
    old, new = _files(tmp_path, OLD, NEW)
    assert compare_verilog.main([old, new]) == 1          # the wrapper level differs
    assert compare_verilog.main([old, new, "--collapse", "top.enc"]) == 0
    assert "3 of 3 modules identical" in capsys.readouterr().out.splitlines()[-1]


def test_a_changed_module_is_reported(tmp_path, capsys):
    old, new = _files(tmp_path, NEW, NEW.replace("assign y = a;", "assign y = ~a;"))
    assert compare_verilog.main([old, new]) == 1
    out = capsys.readouterr().out
    assert "differing: ['top.enc.norm']" in out and "+  assign y = ~a;" in out
