"""What the cocotb test modules get from the pytest side, through the environment.

``AXELRAM_VERILOG``: the generated Verilog (its JSON description beside it);
``AXELRAM_SEED``: base seed of every random choice (default 1).
"""

import os
import zlib

from .description import load_description

__all__ = ["description", "seed"]

VERILOG_VAR = "AXELRAM_VERILOG"
SEED_VAR = "AXELRAM_SEED"


def description(block=None):
    """The checked description of the design under test."""
    path = os.environ.get(VERILOG_VAR)
    if not path:
        raise RuntimeError(f"{VERILOG_VAR} is not set: run these cocotb tests through "
                           f"sim.runner (pytest tests/sim/test_cocotb_*.py)")
    return load_description(path, block=block)


def seed(name):
    """A seed per test name, stable across runs, shifted by ``AXELRAM_SEED``."""
    return (zlib.crc32(name.encode()) + 7919 * int(os.environ.get(SEED_VAR, "1"))) % (1 << 31)
