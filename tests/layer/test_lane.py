"""One lane end to end against the golden model: gradients into G, the update into W, W in
the forward and adjoint products; its memory's read latency and write landing measured
against the Retiming contract."""

import dataclasses

import numpy as np
import pytest
from harness import run_pipe
from test_lane_arithmetic import LEAN_CFG

from firmware_py.contract.fixedpoint import SaturationCounters
from firmware_py.contract.retiming import LEAN, Retiming
from firmware_py.model.arith import FixedArith
from hdl.layer.lane import Lane, LaneOp, SummingLane
from hdl.layer.lane_memory import DistributedLaneMemory, LaneMemory, PackedLaneMemory
from hdl.layer.update import shift_operand, step_shift
from sim.runner import ICE40_FORMATS

IDLE = {"issue": 0}


def _op(op, addr, row=0, col=0, clear=0):
    return {"issue": 1, "op": op, "addr": addr, "row": row, "col": col, "clear_g": clear}


def _lane_program(c, rt, depth, d, x, k, probe, w0):
    """The host's weights ``w0``, gradients of len(d) samples, the update, then forward and
    adjoint products, G and the master W read back; the operands arrive rt.address +
    rt.memory after their issue."""
    at = rt.address + rt.memory
    prog, ops = [], []

    def issue(op, addr, row=0, col=0, clear=0):
        ops.append((len(prog), op, addr, row, col))
        prog.append(_op(op, addr, clear=clear))
        # the row/column operands are due `at` cycles after the issue
    for a in range(depth):          # (the host's word holds still until it is written)
        prog.append({**_op(LaneOp.WRITE_W, a), "host_word": int(w0[a]), "host_here": 1})
        prog += [IDLE] * (rt.product_at + rt.writeback)
    prog.append({"host_here": 0})
    for a in range(depth):          # a batch before: its G must not reach the next one's
        issue(LaneOp.GRADIENT, a, d[-1][a], x[-1][a], clear=1)
    prog += [IDLE] * max(0, rt.land - depth)
    for n in range(len(d)):
        for a in range(depth):
            issue(LaneOp.GRADIENT, a, d[n][a], x[n][a], clear=int(n == 0))
        prog += [IDLE] * max(0, rt.land - depth)     # a word is re-read once it has landed
    for a in range(depth):
        issue(LaneOp.UPDATE, a, 0, shift_operand(c, step_shift(c, k)))
    prog += [IDLE] * max(0, rt.land - depth)
    for a in range(depth):
        issue(LaneOp.FORWARD, a, 0, probe[a])
    for a in range(depth):
        issue(LaneOp.ADJOINT, a, probe[a], 0)
    for a in range(depth):
        issue(LaneOp.READ_G, a, 0, 1)
    for a in range(depth):
        issue(LaneOp.READ_W, a, 0, 1)
    prog += [IDLE] * (at + 1)
    for t, _, _, row, col in ops:              # place the operands
        prog[t + at] = {**prog[t + at], "row": int(row), "col": int(col)}
    return prog, ops


# the iCE40 formats (configs/digits-lean-ice40.json): an 11-bit master weight
# and a 13-bit G, so 13-bit operands, one SB_MAC16 a lane
ICE40_CFG = dataclasses.replace(LEAN_CFG, weight_guard=ICE40_FORMATS["weight_guard"],
                                grad_bits=ICE40_FORMATS["grad_bits"])


# (a packed memory may read through the block RAM's register alone: the iCE40's)
_MEMORIES = [(LaneMemory, LEAN), (DistributedLaneMemory, LEAN), (PackedLaneMemory, LEAN),
             (PackedLaneMemory, Retiming(address=2, memory=1))]
_DEEP = Retiming(memory=3, writeback=2, address=1, operand=2, product=2)


@pytest.mark.parametrize("lane_class, memory, rt",
                         [(Lane, m, r) for m, r in _MEMORIES] +
                         [(Lane, m, _DEEP) for m, _ in _MEMORIES[:3]] +
                         # the summing lane, as the lean-bram cells build it, and deeper
                         [(SummingLane, m, r) for m, r in _MEMORIES[2:]] +
                         [(SummingLane, LaneMemory, _DEEP)])
@pytest.mark.parametrize("c", [LEAN_CFG, ICE40_CFG], ids=["18-bit", "ice40"])
def test_a_lane_trains_its_words_like_the_golden_model(rt, memory, c, lane_class):
    rng, depth, k = np.random.default_rng(3), 5, 3
    d = rng.integers(c.sens.min, c.sens.max + 1, size=(6, depth))
    x = rng.integers(0, c.act.max + 1, size=(6, depth))
    counters = _check_lane(lane_class(c, rt, depth, memory), d, x, k, rng)
    # G saturates as often as the golden model's (never at 18 bits, here at 13)
    assert (counters.as_dict().get("grad", 0) > 0) == (c is ICE40_CFG)


@pytest.mark.parametrize("k", [0, 1, 4])
@pytest.mark.parametrize("lane_class", [Lane, SummingLane])
def test_an_update_rounds_half_way_steps_like_the_golden_model(lane_class, k):
    """Gradients of 4 d, so that G 2^-s lands half way between two steps for every other
    d: the step's rounding constant decides each of those."""
    c, rt, depth = ICE40_CFG, Retiming(address=2, memory=1), 16
    d = np.arange(-8, 8).reshape(1, depth)
    x = np.full((1, depth), 4)
    _check_lane(lane_class(c, rt, depth, PackedLaneMemory), d, x, k,
                np.random.default_rng(k))


def _check_lane(lane, d, x, k, rng):
    """``_lane_program`` on ``lane``, every product and word read back against the golden
    model; the saturation counters it counted."""
    c, rt, depth = lane.config, lane.rt, lane.depth
    probe = rng.integers(c.act.min, c.act.max + 1, size=depth)
    w0 = rng.integers(c.master.min, c.master.max + 1, size=depth)
    prog, ops = _lane_program(c, rt, depth, d, x, k, probe, w0)
    assert lane.operand_bits == (18 if c.grad_bits == LEAN_CFG.grad_bits else 13)
    seen = run_pipe(lane, prog, ["p", "g_saturated"])

    counters = SaturationCounters()
    f = FixedArith(c, counters)
    f.accumulate(np.zeros(depth, dtype=np.int64), d[-1] * x[-1])    # (the batch before)
    g = np.zeros(depth, dtype=np.int64)
    for n in range(len(d)):
        g = f.accumulate(g, d[n] * x[n])
    w = f.update(w0, g, k)
    # (a packed memory writes a word whole: W must survive G's writes, G the update's)
    want = {LaneOp.FORWARD: f.operand(w) * probe, LaneOp.ADJOINT: f.operand(w) * probe,
            LaneOp.READ_G: g, LaneOp.READ_W: w}
    for t, op, addr, row, col in ops:
        p = seen[t + rt.product_at]["p"]
        if op in want:
            assert p == want[op][addr], (op, addr)
        elif op == LaneOp.GRADIENT and type(lane) is Lane:
            assert p == row * col       # (a summing lane's p is the sum it writes back)
    assert sum(s["g_saturated"] for s in seen) == counters.as_dict().get("grad", 0)
    assert np.any(w != 0)
    return counters


@pytest.mark.parametrize("memory, rt", [
    (LaneMemory, LEAN), (PackedLaneMemory, LEAN),
    (LaneMemory, Retiming(memory=3, address=1, writeback=0)),
    (PackedLaneMemory, Retiming(memory=3, address=1, writeback=0)),
    (PackedLaneMemory, Retiming(address=2, memory=1))])
@pytest.mark.parametrize("lane_class", [Lane, SummingLane])
def test_a_written_word_lands_when_the_contract_says(rt, memory, lane_class):
    """A read issued rt.land cycles after a gradient's issue sees the new G; one cycle
    earlier it sees the old (the memory reads the old word on a collision)."""
    c = LEAN_CFG
    at = rt.address + rt.memory
    for gap, new in ((rt.land, True), (rt.land - 1, False)):
        prog = [_op(LaneOp.GRADIENT, 0, clear=1)] + [IDLE] * (gap - 1) + \
               [_op(LaneOp.READ_G, 0)] + [IDLE] * (rt.land + at + 2)
        prog[at] = {**prog[at], "row": 3, "col": 5}                      # G = 15
        prog[gap + at] = {**prog[gap + at], "col": 1}                    # p = G
        seen = run_pipe(lane_class(c, rt, 2, memory), prog, ["p"])
        assert seen[gap + rt.product_at]["p"] == (15 if new else 0), gap


@pytest.mark.parametrize("rt", [LEAN, Retiming(address=2, memory=1)])
@pytest.mark.parametrize("c", [LEAN_CFG, ICE40_CFG], ids=["18-bit", "ice40"])
def test_a_packed_word_keeps_the_half_it_does_not_write(c, rt):
    """A write of G leaves W as it was, whatever the W data beside it, and a write of W
    leaves G: the byte they share is written back as read."""
    depth, back = 4, rt.product_at + rt.writeback
    rng = np.random.default_rng(5)
    w = rng.integers(c.master.min, c.master.max + 1, size=depth)
    g = rng.integers(c.grad.min, c.grad.max + 1, size=depth)
    new_w = rng.integers(c.master.min, c.master.max + 1, size=depth)
    new_g = rng.integers(c.grad.min, c.grad.max + 1, size=depth)
    junk = {"w_data": -1, "g_data": -1}         # every bit set: a write must not take it

    at = rt.address + rt.memory

    def write(steps):
        prog = []
        for a in range(depth):
            for half in steps(a):
                prog.append({"rd_addr": a, "wr_w": 0, "wr_g": 0})     # the read written back
                prog += [{}] * (back - 1)
                prog.append({"wr_addr": a, **half})
                prog.append({"wr_w": 0, "wr_g": 0})
        return prog

    def read(prog):
        return prog + [{"rd_addr": a} for a in range(depth)] + [{}] * (at + 1)

    # both halves, then G alone: W must be as written
    prog = read(write(lambda a: ({"wr_w": 1, "wr_g": 1, "w_data": int(w[a]),
                                  "g_data": int(g[a])},
                                 {**junk, "wr_g": 1, "g_data": int(new_g[a])})))
    first = len(prog) - depth - at - 1
    # then W alone: G must be as written
    prog = read(prog + write(lambda a: ({**junk, "wr_w": 1, "w_data": int(new_w[a])},)))
    second = len(prog) - depth - at - 1
    seen = run_pipe(PackedLaneMemory(c, rt, depth), prog, ["w", "g"])
    for t, want in ((first, (w, new_g)), (second, (new_w, new_g))):
        got = [(seen[t + a + at]["w"], seen[t + a + at]["g"]) for a in range(depth)]
        assert got == list(zip(*want)), t
