"""A cell's saturation counts over many lanes (hdl/layer/stats.py): flags registered,
counted in groups of 16, the groups' counts summed four at a time into registers, so each
cycle's count over 121 lanes arrives four cycles later and totals add up exactly."""

import numpy as np
from amaranth.sim import Simulator

from firmware_py.contract.config import Tiling
from hdl.layer.stats import CellStatistics


def test_saturation_counts_over_121_lanes_arrive_four_cycles_late_and_exact():
    lanes = 121
    dut = CellStatistics(Tiling(11, 11, 3, 6), 32, 64, lanes, {"sat_weight": lanes, "sat_h": 11})
    rng = np.random.default_rng(0)
    flags = rng.integers(0, 2, (40, lanes))
    rows = rng.integers(0, 2, (40, 11))
    seen_w, seen_h = [], []

    async def bench(ctx):
        for k in range(len(flags) + 5):
            if k < len(flags):
                ctx.set(dut.sat_weight, int("".join(map(str, flags[k][::-1])), 2))
                ctx.set(dut.sat_h, int("".join(map(str, rows[k][::-1])), 2))
            else:
                ctx.set(dut.sat_weight, 0)
                ctx.set(dut.sat_h, 0)
            await ctx.tick()
            seen_w.append(ctx.get(dut.stats.sat_weight))
            seen_h.append(ctx.get(dut.stats.sat_h))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # (after a tick: the flag register, the group count, two sums of 4 groups, their sum)
    assert seen_w[3:3 + len(flags)] == list(flags.sum(axis=1))
    # 11 flags make one group: its count is the output, a cycle earlier
    assert seen_h[1:1 + len(rows)] == list(rows.sum(axis=1))
