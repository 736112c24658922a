"""pytest glue: one simulator run per configuration, shared by the pytest items of its cases.

Each pytest item is one cocotb test (``case``) of one configuration (``config``); the first item
of a configuration to run generates, builds and runs every *selected* case of it in one
simulator process (``-k`` selections carry through), the others read the results.
"""

import json
import time

import cocotb

from .runner import BUILD, Design, generate_design, simulator_missing

__all__ = ["cocotb_tests", "Config", "Regression"]


async def _probe(dut):  # pragma: no cover - never run; tells what ``cocotb.test`` returns
    pass


_TEST_TYPE = type(cocotb.test(_probe))


def cocotb_tests(module):
    """Names of the cocotb tests in ``module`` (a module object), in definition order."""
    return [name for name, value in vars(module).items() if isinstance(value, _TEST_TYPE)]


class Config:
    """A named design configuration for one simulator."""

    def __init__(self, name, block, cfg, sim, module):
        self.name, self.block, self.cfg, self.sim, self.module = name, block, cfg, sim, module

    def __repr__(self):
        return self.name


class Regression:
    """Caches one run per configuration name: ``{case: CaseResult}`` or the exception."""

    def __init__(self):
        self._runs = {}
        self.timings = {}   # config name -> {"generate", "build", "run"} seconds

    def result(self, request, config, case):
        """The ``CaseResult`` of ``case`` (skips if the simulator is missing)."""
        import pytest

        missing = simulator_missing(config.sim)
        if missing:
            pytest.skip(missing)
        if config.name not in self._runs:
            wanted = sorted({item.callspec.params["case"] for item in request.session.items
                             if hasattr(item, "callspec")
                             and repr(item.callspec.params.get("config")) == config.name
                             and "case" in item.callspec.params})
            try:
                self._runs[config.name] = self._run(config, wanted or [case])
            except Exception as exc:  # every case of this configuration reports it
                self._runs[config.name] = exc
        run = self._runs[config.name]
        if isinstance(run, Exception):
            raise run
        if case not in run:
            raise AssertionError(f"{config.name}: cocotb reported no result for {case}")
        return run[case]

    def _run(self, config, cases):
        t0 = time.monotonic()
        out_dir = BUILD / config.name
        verilog = generate_design(config.cfg, None, config.block, out_dir)
        t1 = time.monotonic()
        design = Design(verilog, config.sim, out_dir / config.sim)
        design.build()
        t2 = time.monotonic()
        results = design.run(config.module, cases)
        self.timings[config.name] = timing = {
            "simulator": config.sim, "generate_s": round(t1 - t0, 1),
            "build_s": round(t2 - t1, 1), "run_s": round(time.monotonic() - t2, 1),
            "cases": {name: {"passed": r.passed, "real_s": r.seconds, "sim_ns": r.sim_ns}
                      for name, r in results.items()}}
        (out_dir / "timings.json").write_text(json.dumps(timing, indent=2) + "\n")
        return results
