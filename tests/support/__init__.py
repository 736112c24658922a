"""Helpers shared by the test modules (nothing here is collected as a test).

* ``streams``: Amaranth-simulator stream source/sink with seeded random valid/ready.
* ``keys``: write-path test keys and their stream beats.
* ``tools``: external-tool availability marks (``needs_verilator``) and the Verilator lint.
* ``rotation``, ``key_encoder``, ``read_path``: per-path payload builders, golden references
  and checks, used by the block tests and the twin contract tests.
"""
