"""The generated Verilog in Icarus and Verilator (cocotb), a small but real subset.

`make sim` runs the full randomized set (sim/runner.py).
"""

import pytest

from boards import get_board
from firmware_py.config import DyadicConfig
from sim.runner import random_configs, run_cocotb

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
