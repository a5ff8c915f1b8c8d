"""The host's windows on a lean cell: every target, any offset and count, in protocol order
(W row-major then b; G_W then G_b; s then lam), through the cell's own datapath."""

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator
from harness import host_access
from test_lane_arithmetic import LEAN_CFG

from hdl.cell_links import HostTarget
from hdl.layer.cell import LeanCell


@pytest.mark.parametrize("l", [1, 2])
def test_windows_read_back_what_was_written(l):
    config = dataclasses.replace(LEAN_CFG, sizes=(6, 5, 3), multipliers=[[2, 3], [3, 2]])
    cell = LeanCell(config, l)
    N, M = config.sizes[l], config.sizes[l - 1]
    rng = np.random.default_rng(l)
    params = [int(v) for v in rng.integers(config.master.min, config.master.max + 1,
                                           size=N * M + N)]
    state = [int(v) for v in rng.integers(-128, 128, size=2 * N)]
    seen = {}

    async def bench(ctx):
        # written in two windows, the second overlapping the first
        await host_access(ctx, cell, HostTarget.PARAMS, 0, N * M, params[:N * M])
        await host_access(ctx, cell, HostTarget.PARAMS, N * M - 2, N + 2, params[N * M - 2:])
        seen["params"] = await host_access(ctx, cell, HostTarget.PARAMS, 0, N * M + N)
        seen["window"] = await host_access(ctx, cell, HostTarget.PARAMS, M + 1, N + 3)
        await host_access(ctx, cell, HostTarget.GRADS, 0, 3, [5, 6, 7])   # stores nothing
        seen["grads"] = await host_access(ctx, cell, HostTarget.GRADS, 0, N * M + N)
        await host_access(ctx, cell, HostTarget.STATE, 0, 2 * N, state)
        seen["state"] = await host_access(ctx, cell, HostTarget.STATE, 0, 2 * N)
        seen["s"] = [ctx.get(cell.above.s[i]) for i in range(N)]
        seen["lam"] = [ctx.get(cell.above.lam[i]) for i in range(N)]

    sim = Simulator(cell)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["params"] == params
    assert seen["window"] == params[M + 1:M + 1 + N + 3]
    assert seen["grads"] == [0] * (N * M + N)
    assert seen["state"] == state
    assert seen["s"] == state[:N] and seen["lam"] == state[N:]
