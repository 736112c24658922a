"""The layering rules of issue 13: the golden model, the NumPy calibration and the gateware never
import the torch-side tooling (``golden.evaluation``), torch, transformers or matplotlib; the
gateware imports run macro -> paths -> ``lib``, never between the paths; and neither package has
an import cycle."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Modules that must stay free of the heavy stacks (all of ``axelram_hw`` is walked as well).
MODEL_SIDE = ("golden", "golden.config", "golden.checks", "golden.fixed", "golden.float_model",
              "golden.calibrate", "golden.kvdump", "golden.signs", "golden.codebook",
              "golden.fwht", "golden.ops", "axelram_hw", "axelram_hw.macro", "axelram_hw.cli")

#: Top-level packages (and ``golden.evaluation``) the model side must not import.
FORBIDDEN = ("torch", "transformers", "matplotlib", "golden.evaluation")


def _is_forbidden(name):
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_model_side_imports_no_torch_side_module():
    """In a fresh interpreter: import the model-side modules and every ``axelram_hw`` module and
    build the command-line parser, and check that no forbidden module was imported or even looked
    for (torch may be absent)."""
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys

        FORBIDDEN = {FORBIDDEN!r}
        attempted = []

        class Recorder:
            def find_spec(self, name, path=None, target=None):
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    attempted.append(name)
                return None

        sys.meta_path.insert(0, Recorder())
        for name in {MODEL_SIDE!r}:
            importlib.import_module(name)
        import axelram_hw
        for info in pkgutil.walk_packages(axelram_hw.__path__, "axelram_hw."):
            importlib.import_module(info.name)
        import axelram_hw.cli
        axelram_hw.cli.build_parser()  # imports every golden.commands module, as --help does
        loaded = sorted(m for m in sys.modules
                        if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
        print(sorted(set(attempted)), loaded)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[] []", proc.stdout


def _module_path(name):
    base = ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imports(path, package):
    """Every module named by an import statement of ``path``, at any depth (lazy imports
    included), with relative imports resolved against ``package``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_model_side_sources_name_no_torch_side_module():
    """Not even a lazy import inside a function: the golden model and calibration modules never
    name torch, transformers, matplotlib or ``golden.evaluation``."""
    offenders = []
    for name in MODEL_SIDE:
        if not name.startswith("golden"):
            continue
        path = _module_path(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        offenders += [f"{name}: {m}" for m in _imports(path, package) if _is_forbidden(m)]
    assert not offenders, offenders


def _graph(package_dir):
    """Import graph of the modules below ``package_dir`` (lazy imports included)."""
    modules = {}
    for path in sorted((ROOT / package_dir).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            name, package = ".".join(parts[:-1]), ".".join(parts[:-1])
        else:
            name, package = ".".join(parts), ".".join(parts[:-1])
        modules[name] = (path, package)
    return {name: sorted({m for m in _imports(path, package) if m in modules and m != name})
            for name, (path, package) in modules.items()}


@pytest.mark.parametrize("package_dir", ["golden", "axelram_hw"])
def test_imports_have_no_cycle(package_dir):
    """The import graph of the package's modules (lazy imports included) is acyclic."""
    graph = _graph(package_dir)
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


#: What each gateware layer may import from ``axelram_hw`` (besides itself).
PATHS = ("axelram_hw.front_end", "axelram_hw.write_path", "axelram_hw.read_path")
ALLOWED = {"axelram_hw.lib": (), **{path: ("axelram_hw.lib",) for path in PATHS}}


def test_gateware_imports_run_macro_to_paths_to_lib():
    """``lib`` imports no path; a path imports only itself and ``lib``, never another path."""
    offenders = []
    for name, imported in _graph("axelram_hw").items():
        layer = next((layer for layer in ALLOWED if name == layer or
                      name.startswith(layer + ".")), None)
        if layer is None:
            continue
        for m in imported:
            if not (m == layer or m.startswith(layer + ".") or
                    any(m == a or m.startswith(a + ".") for a in ALLOWED[layer])):
                offenders.append(f"{name} imports {m}")
    assert not offenders, offenders
