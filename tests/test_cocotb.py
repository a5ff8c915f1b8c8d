"""The generated Verilog in Icarus and Verilator (cocotb), a small but real subset.

`make sim` runs the full randomized set (sim/runner.py).
"""

import pytest

from boards import get_board
from firmware_py.config import DyadicConfig
from hdl.verilog import cached_verilog
from sim.runner import ROOT, random_configs, run_cocotb

CONFIGS = {
    "tiny": DyadicConfig.load("configs/tiny.json"),
    "random": random_configs(3, seed=7)[2],   # depth 3, a random multiplier count per cell
    "ice40": get_board("icebreaker").default_config(),   # 8-bit, pipelined, serial update
}


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_core_bit_exact_in_hdl_simulator(sim, name):
    tests, failures = run_cocotb(CONFIGS[name], sim, seed=3, cases=1)
    assert tests == 3 and failures == 0


def test_core_with_ecp5_dsp_blocks_bit_exact_in_icarus():
    """The ECP5 netlist's multipliers are MULT18X18D blocks with their own registers
    (hdl/multiplier.py): the core built that way still matches the golden model."""
    config = DyadicConfig.load("configs/xor-pipelined.json")
    verilog = cached_verilog(config, ROOT / "build" / "verilog", "ecp5").read_text()
    assert verilog.count("MULT18X18D #(") == 4   # every multiplier a block (2 + 2)
    tests, failures = run_cocotb(config, "icarus", seed=3, cases=1, family="ecp5")
    assert tests == 3 and failures == 0
