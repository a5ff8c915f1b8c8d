"""The event counters: they add every cycle, wrap at their width and clear at once."""

from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import COUNTERS
from firmware_py.model.network import parse_activations
from hdl.counters import Counters


def test_counters_add_wrap_and_clear():
    cfg = DyadicConfig((2, 1), parse_activations("identity", 1), counter_bits=8)
    dut = Counters(cfg)

    async def bench(ctx):
        for k, name in enumerate(COUNTERS):
            ctx.set(dut.add[name], k + 1)
        await ctx.tick().repeat(100)
        assert [ctx.get(dut.values[k]) for k in range(len(COUNTERS))] == \
            [(100 * (k + 1)) % 256 for k in range(len(COUNTERS))]
        ctx.set(dut.clear, 1)                  # a clear wins over the adds of its cycle
        await ctx.tick()
        ctx.set(dut.clear, 0)
        for name in COUNTERS:
            ctx.set(dut.add[name], 0)
        await ctx.tick()
        assert all(ctx.get(dut.values[k]) == 0 for k in range(len(COUNTERS)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
