"""The generated Verilog in Icarus and Verilator (cocotb), a small but real subset.

`make sim` runs the full randomized set (sim/runner.py).
"""

import dataclasses
import os
import re

import pytest

from boards import get_board
from firmware_py.contract.config import DyadicConfig
from firmware_py.model.network import parse_activations
from hdl.verilog import cached_verilog
from sim.runner import ICE40_FORMATS, LEAN_FORMATS, ROOT, random_configs, run_cocotb

CONFIGS = {
    "tiny": DyadicConfig.load("configs/tiny.json"),
    # depth 3 (5-5-2-2), a random multiplier count per cell, lean-bram cells: small
    # enough for Icarus
    "random": random_configs(3, seed=31)[2],
    # the iCEBreaker's design (its surface, formats and retiming) on a network Icarus runs
    # in seconds
    "ice40": dataclasses.replace(get_board("icebreaker").default_config(), sizes=(5, 4, 3),
                                 max_batch=6, max_samples=12),
}


# Every configuration in both simulators, except the random one's Verilator build (two
# minutes of C++ on a fresh clone): `make sim SIM=verilator` runs the random set there.
@pytest.mark.parametrize("name, sim", [(name, sim) for name in sorted(CONFIGS)
                                       for sim in ("icarus", "verilator")
                                       if (name, sim) != ("random", "verilator")])
def test_core_bit_exact_in_hdl_simulator(name, sim):
    makeflags = os.environ.get("MAKEFLAGS")
    tests, failures = run_cocotb(CONFIGS[name], sim, seed=3, cases=1)
    assert tests == 5 and failures == 0
    assert os.environ.get("MAKEFLAGS") == makeflags    # the build's flags stay its own


@pytest.mark.parametrize("serial_update", [False, True])
def test_core_as_built_for_ecp5_bit_exact_in_icarus(serial_update):
    """The ECP5 netlist: multipliers as MULT18X18D blocks with their own registers
    (hdl/multiplier.py), W and G in banks of one row of lanes, each with its own read
    address register (hdl/tile_memory.py). It still matches the golden model."""
    config = DyadicConfig((3, 4, 2), parse_activations("hardtanh,identity", 2),
                          multipliers=((2, 2), (2, 1)), max_batch=4, pipeline=2,
                          serial_update=serial_update)
    verilog = cached_verilog(config, ROOT / "build" / "verilog", "ecp5").read_text()
    # every multiplier a block: the cells' 4 + 2, and the evaluator's (16-bit errors)
    assert verilog.count("MULT18X18D #(") == 7
    copies = re.findall(r"dyadic_copy = 32'd1 \*\)\n\s+reg ", verilog)
    assert len(copies) == 2 * 2 * 2    # W and G: 2 banks in each cell
    tests, failures = run_cocotb(config, "icarus", seed=3 + serial_update, cases=1,
                                 family="ecp5")
    assert tests == 5 and failures == 0


def test_lean_core_as_built_for_ecp5_bit_exact_in_icarus():
    """Lean cells in the ECP5 netlist: every lane's multiplier a MULT18X18D with its own
    operand registers, W|G in block and LUT RAM, the core around them with every tick
    condition registered (pipeline 2)."""
    config = DyadicConfig((3, 4, 2), parse_activations("relu,identity", 2),
                          multipliers=((2, 2), (2, 3)), max_batch=4, pipeline=2,
                          **LEAN_FORMATS)
    verilog = cached_verilog(config, ROOT / "build" / "verilog", "ecp5").read_text()
    # one per lane (the evaluator squares 8-bit errors from a table: hdl/squarer.py)
    assert verilog.count("MULT18X18D #(") == 2 * 2 + 2 * 3
    # with the operand registers in the block (hdl/multiplier.py's BlockMultiplier)
    assert verilog.count('.REG_INPUTA_CLK("CLK0")') == 2 * 2 + 2 * 3
    tests, failures = run_cocotb(config, "icarus", seed=5, cases=1, family="ecp5")
    assert tests == 5 and failures == 0


def test_lean_ice40_core_bit_exact_in_icarus():
    """A lean-bram core in the iCE40 netlist: cell 1 reading its inputs from the sample
    memory's words (hdl/sample_words.py), 13-bit lane operands."""
    config = DyadicConfig((5, 4, 3), parse_activations("relu,identity", 2),
                          multipliers=((3, 2), (2, 1)), max_batch=4, pipeline=2,
                          **ICE40_FORMATS)
    tests, failures = run_cocotb(config, "icarus", seed=7, cases=1, family="ice40")
    assert tests == 5 and failures == 0
