"""cocotb regression of the generated AXELRAM macro against the golden model.

Small configurations on Icarus, the d=128 b=3 macro (fully parallel, folded to 16 lanes and
coordinate-serial, at a small T: T does not change the datapath) on Verilator; bigger sweeps,
among them the iCE40-sized lanes = 1, T = 1024 macro, are marked slow. One
simulator run per configuration under build/sim/<config>/<simulator>/.

``make sim D=.. B=.. [LANES=..] [T=..] SIM=icarus|verilator [WAVES=1] [K=filter]`` sets
AXELRAM_D / _B / _LANES / _T / _SIM: then only that one configuration runs (lanes = d and
T = 64 from d = 64 on, else 16, unless given; two sign layers; the simulator defaults to
Verilator from d = 64 on, else Icarus).
"""

import os

import pytest

import sim.cocotb_macro
from golden.config import AxelramConfig
from sim.regression import Config, Regression, cocotb_tests


def macro(name, sim, **params):
    return Config(name, "macro", AxelramConfig(**params), sim, "sim.cocotb_macro")


DEFAULT = [
    macro("macro_d8_b2_p8_t8_l2", "icarus", d=8, b=2, t=8, layers=2),
    macro("macro_d16_b3_p4_t16_l3", "icarus", d=16, b=3, t=16, lanes=4, layers=3),
    macro("macro_d16_b1_p16_t12", "icarus", d=16, b=1, t=12),
    macro("macro_d128_b3_t64_l2", "verilator", d=128, b=3, t=64, layers=2),
    macro("macro_d128_b3_p16_t64_l2", "verilator", d=128, b=3, t=64, lanes=16, layers=2),
    macro("macro_d16_b3_p1_t32_l2", "icarus", d=16, b=3, t=32, lanes=1, layers=2),
    macro("macro_d128_b3_p1_t64_l2", "verilator", d=128, b=3, t=64, lanes=1, layers=2),
]

SLOW = [
    macro("macro_d32_b4_p2_t16_l2", "icarus", d=32, b=4, t=16, lanes=2, layers=2),
    macro("macro_d64_b2_p8_t32_l4", "verilator", d=64, b=2, t=32, lanes=8, layers=4),
    macro("macro_d128_b4_p32_t64", "verilator", d=128, b=4, t=64, lanes=32),
    macro("macro_d128_b1_t64", "verilator", d=128, b=1, t=64),
    macro("macro_d128_b3_p4_t32_w12", "verilator", d=128, b=3, t=32, lanes=4, in_width=12),
    macro("macro_d32_b3_t16_l2_icarus_wide", "icarus", d=32, b=3, t=16, layers=2),
    macro("macro_d128_b3_p1_t1024", "verilator", d=128, b=3, t=1024, lanes=1),
]


def from_environment():
    """The single configuration of ``make sim`` (AXELRAM_D/B/LANES/T/SIM), or None."""
    d, b, lanes, t, sim_name = (os.environ.get(f"AXELRAM_{v}")
                                for v in ("D", "B", "LANES", "T", "SIM"))
    if not (d or b or lanes or t or sim_name):
        return None
    d, b = int(d or 128), int(b or 3)
    lanes = int(lanes or d)
    sim_name = sim_name or ("verilator" if d >= 64 else "icarus")
    t = int(t or (64 if d >= 64 else 16))
    return macro(f"macro_d{d}_b{b}_p{lanes}_t{t}_l2_{sim_name}", sim_name, d=d, b=b, t=t,
                 lanes=lanes, layers=2)


ENV = from_environment()
CONFIGS = [pytest.param(ENV, id=repr(ENV))] if ENV else (
    [pytest.param(c, id=repr(c)) for c in DEFAULT]
    + [pytest.param(c, id=repr(c), marks=pytest.mark.slow) for c in SLOW])

REGRESSION = Regression()


@pytest.mark.parametrize("case", cocotb_tests(sim.cocotb_macro))
@pytest.mark.parametrize("config", CONFIGS)
def test_macro(request, config, case):
    result = REGRESSION.result(request, config, case)
    assert result.passed, result.message
