"""Testbench helpers: a component driven one input set a cycle; a host window on a cell."""

from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator


def run_pipe(dut, inputs, outputs, extra=8):
    """``inputs``: one {port name: value} per cycle (missing ports keep their value);
    returns one {output name: value} per cycle, read before that cycle's clock edge, so
    an output ``n`` registers behind an input shows at index ``t + n``."""
    seen = []

    async def bench(ctx):
        for t in range(len(inputs) + extra):
            for name, v in (inputs[t] if t < len(inputs) else {}).items():
                ctx.set(getattr(dut, name), v)
            seen.append({name: ctx.get(getattr(dut, name)) for name in outputs})
            await ctx.tick()

    top = Module()          # a sync domain even for a component with no registers
    top.submodules.dut = dut
    tick = Signal()
    top.d.sync += tick.eq(~tick)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _signed(v):
    return v - (1 << 32) if v >> 31 else v


async def host_access(ctx, cell, target, offset, count, words=None):
    """A host window on ``cell``: writes ``words``, or reads ``count`` words."""
    ctx.set(cell.host.start, 1)
    ctx.set(cell.host.target, target)
    ctx.set(cell.host.write, words is not None)
    ctx.set(cell.host.offset, offset)
    ctx.set(cell.host.count, count)
    await ctx.tick()
    ctx.set(cell.host.start, 0)
    got, todo = [], list(words or [])
    ctx.set(cell.host_o.ready, 1)
    for _ in range(64 * (count + 4)):
        if ctx.get(cell.host.done):
            break
        if todo:
            ctx.set(cell.host_i.payload, int(todo[0]) & 0xFFFFFFFF)
            ctx.set(cell.host_i.valid, 1)
        if todo and ctx.get(cell.host_i.ready):
            todo.pop(0)
        if ctx.get(cell.host_o.valid):
            got.append(_signed(ctx.get(cell.host_o.payload)))
        await ctx.tick()
        ctx.set(cell.host_i.valid, 0)
    else:
        raise AssertionError(f"the host window did not end ({len(got)} read, {len(todo)} left)")
    ctx.set(cell.host_o.ready, 0)
    assert not todo
    return got
