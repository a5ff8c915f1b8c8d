"""The issue sequencer walks each tick's passes in the contract's order and ends the tick
when ``retiming.tick_work`` says, for every flag combination."""

import itertools

import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import Tiling
from firmware_py.contract.retiming import LEAN, Retiming, tick_work
from hdl.layer.issue import FLAGS, IssueSequencer
from hdl.layer.lane import LaneOp


def _expected(rt, T, flags):
    fwd, bwd, grad, update, relax = flags
    w = tick_work(rt, T, *flags)
    rows = [(i, j) for i in range(T.ti) for j in range(T.tj)]
    cols = [(i, j) for j in range(T.tj) for i in range(T.ti)]
    slots = []
    slots += [(LaneOp.FORWARD, t) for t in rows] if fwd else []
    slots += [None] * w.gap
    slots += [(LaneOp.ADJOINT, t) for t in cols] if bwd else []
    slots += [(LaneOp.GRADIENT, t) for t in rows] if grad else []
    slots += [None] * w.update_gap
    slots += [(LaneOp.UPDATE, t) for t in rows] if update else []
    assert len(slots) == w.issue
    return slots, w.need


def _run(rt, T, ticks):
    """Commits each tick's flags when the previous tick is ready; records every slot."""
    dut = IssueSequencer(rt, T)
    log = []

    async def bench(ctx):
        for flags in ticks:
            while not ctx.get(dut.ready):
                await ctx.tick()
            ctx.set(dut.commit, 1)
            for name, v in zip(FLAGS, flags):
                ctx.set(getattr(dut, name), v)
            slots, cycles = [], 0
            while True:
                valid, op, ti, tj, addr = (ctx.get(getattr(dut, p)) for p in
                                           ("valid", "op", "ti", "tj", "addr"))
                if valid:
                    assert addr == ti * T.tj + tj
                slots.append((op, (ti, tj)) if valid else None)
                ready_next = ctx.get(dut.ready_next)
                await ctx.tick()
                ctx.set(dut.commit, 0)
                cycles += 1
                # a cycle without commit: ready_next was next cycle's ready, neither late
                # nor early (the run control predicts its commit from it)
                if cycles > 1:
                    assert ctx.get(dut.ready) == ready_next, (flags, cycles)
                if ctx.get(dut.ready):
                    assert ready_next
                    break
            log.append((slots, cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return log


@pytest.mark.parametrize("rt", [LEAN, Retiming(address=1, tree=2, column_tree=1, link=2)])
# (2 x 4 tiles: an adjoint-first tick starts with a gap, tick_work's lead)
@pytest.mark.parametrize("T", [Tiling(11, 11, 3, 6), Tiling(10, 3, 1, 11), Tiling(2, 2, 2, 1),
                               Tiling(2, 2, 2, 4)])
def test_every_tick_issues_its_passes_and_ends_on_time(rt, T):
    combos = [f for f in itertools.product((0, 1), repeat=5) if any(f[:4])]
    log = _run(rt, T, combos)
    for flags, (slots, cycles) in zip(combos, log):
        want, need = _expected(rt, T, flags)
        assert cycles == need, flags
        issued = slots[:len(want)]
        assert issued == want, flags
        assert not any(slots[len(want):]), flags


def test_a_tree_takes_a_register_for_each_tree_levels_adder_levels():
    rt = Retiming(address=1, tree_levels=3, link=1)
    # 11 products (4 levels) in a row tree: two registers; no adjoint trees to match
    assert rt.for_cell(Tiling(11, 11, 3, 6)) == Retiming(address=1, tree=2, link=1)
    # 3 products (2 levels) in a row, 10 (4 levels) in a column: one more in the column
    assert rt.for_cell(Tiling(10, 3, 1, 11)) == Retiming(address=1, column_tree=1, link=1)
    # a column tree never has fewer registers than the row trees
    assert rt.for_cell(Tiling(2, 16, 2, 1)) == Retiming(address=1, tree=2, link=1)
    assert Retiming(tree=2).for_cell(Tiling(11, 11, 3, 6)) == Retiming(tree=2)


@pytest.mark.parametrize("rt", [LEAN, Retiming(address=1), Retiming(memory=3, writeback=2)])
def test_no_tick_reads_a_tile_before_the_last_ticks_write_of_it_lands(rt):
    """The contract's own promise, for every small tiling: a tile the last tick's gradient
    or update pass wrote (issue at its slot, readable ``land`` cycles later) is read by
    the next tick's first pass no earlier, in that pass's order (the adjoint's is
    column-major)."""
    for ti, tj in itertools.product(range(1, 6), repeat=2):
        T = Tiling(1, 1, ti, tj)
        r = rt.for_cell(T)
        rows = [i * tj + j for i in range(ti) for j in range(tj)]
        cols = [i * tj + j for j in range(tj) for i in range(ti)]
        for last in itertools.product((0, 1), repeat=4):
            fwd, bwd, grad, update = last
            if not grad:
                continue
            w = tick_work(r, T, fwd, bwd, grad, update, False)
            start = w.issue - T.tiles          # the last writing pass
            landed = {k: start + slot + r.land for slot, k in enumerate(rows)}
            for nxt in itertools.product((0, 1), repeat=3):
                n_fwd, n_bwd, n_grad = nxt
                if not any(nxt) or update:     # (after an update a stream has no work)
                    continue
                n = tick_work(r, T, n_fwd, n_bwd, n_grad, False, False)
                order = rows if n_fwd else (cols if n_bwd else rows)
                first = 0 if n_fwd else n.gap
                for slot, k in enumerate(order):
                    assert w.need + first + slot >= landed[k], (ti, tj, last, nxt, k)
