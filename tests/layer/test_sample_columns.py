"""``SampleColumns`` (cell 1's column operands read from the sample memory a word a tile)
against ``ColumnOperands`` (picked from the sample's row), cycle for cycle."""

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator
from test_lane_arithmetic import LEAN_CFG

from firmware_py.contract.retiming import Retiming
from hdl.layer.lane import LaneOp
from hdl.layer.operands import ColumnOperands, SampleColumns

# the ops whose column operand a lane multiplies (cell 1 has no adjoint pass; a host
# write multiplies nothing)
USED = (LaneOp.FORWARD, LaneOp.GRADIENT, LaneOp.UPDATE, LaneOp.READ_W, LaneOp.READ_G)


@pytest.mark.parametrize("n_in, cols, rt", [
    (7, 2, Retiming(address=1)),        # the bias in the last tile's second lane
    (64, 2, Retiming(address=1)),       # digits on the iCEBreaker: the bias alone in a tile
    (6, 3, Retiming(address=1, memory=3)),
])
def test_a_tile_read_as_a_word_is_the_tile_picked_from_the_row(n_in, cols, rt):
    cfg = dataclasses.replace(LEAN_CFG, sizes=(n_in, 4, 2), multipliers=((2, cols), (1, 1)),
                              max_samples=9, targets="label")
    T = cfg.tiling(1)
    rng = np.random.default_rng(n_in)
    X = rng.integers(cfg.act.min, cfg.act.max + 1, size=(cfg.samples, n_in))
    m = Module()
    m.submodules.rows = ref = ColumnOperands(cfg, rt, T, n_in)
    m.submodules.words = dut = SampleColumns(cfg, rt, T, n_in)
    due = rt.address + rt.memory
    checked = []

    async def memory(ctx):      # the sample memory's word port: one cycle a read
        async for _, _, i, tj in ctx.tick().sample(dut.word_index, dut.word_tile):
            for b in range(cols):
                j = tj * cols + b
                ctx.set(dut.word[b], int(X[i, j]) & 0xFF if j < n_in else 0)

    async def bench(ctx):
        issued = {}
        for t in range(400):
            if t % 40 == 1:      # after a commit in cycle 0: another sample, another stashed one
                i, i_old = (int(v) for v in rng.integers(0, cfg.samples, 2))
                relax = int(rng.integers(2))
                ctx.set(ref.relax, relax)
                ctx.set(dut.relax, relax)
                for j in range(n_in):
                    ctx.set(ref.s[j], int(X[i, j]))
                    ctx.set(ref.stash[j], int(X[i_old, j]))
                ctx.set(dut.index, i)
                ctx.set(dut.index_stash, i_old)
                shift, host_col = int(rng.integers(-1000, 1000)), int(rng.integers(cols))
                for p in (ref, dut):
                    ctx.set(p.shift, shift)
                    ctx.set(p.host_col, host_col)
            if t % 40 < 30:      # issue a tile a cycle, then let the last picks land
                op, tj = USED[rng.integers(len(USED))], int(rng.integers(T.tj))
                for p in (ref, dut):
                    ctx.set(p.op, op)
                    ctx.set(p.tj, tj)
                issued[t] = op
            if t - due in issued:
                got = [[ctx.get(dut.col[k][b]) for b in range(cols)] for k in range(len(dut.col))]
                want = [[ctx.get(ref.col[k][b]) for b in range(cols)] for k in range(len(ref.col))]
                assert got == want, (t - due, issued[t - due])
                checked.append(issued[t - due])
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_process(memory)
    sim.add_testbench(bench)
    sim.run()
    assert set(checked) == set(USED)

