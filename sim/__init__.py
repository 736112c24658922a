"""cocotb regression of the generated Verilog against the golden model.

Reusable parts: :mod:`sim.description` (the JSON beside the Verilog, checked), :mod:`sim.payload`
(packed fields), :mod:`sim.streams` (source/sink/monitor), :mod:`sim.pause` (back-pressure),
:mod:`sim.scoreboard` (in-order, bit for bit); one testbench per design (:mod:`sim.tb_fwht`,
:mod:`sim.tb_key_encoder`, :mod:`sim.tb_macro`) and its cocotb tests (``sim.cocotb_*``);
:mod:`sim.runner` builds and runs them from pytest. See docs/simulation.md.
"""
