"""The sample order of a run: the walk the golden model's epoch order describes."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.model.network import parse_activations
from firmware_py.model.training import epoch_indices, epoch_order
from hdl.sample_order import SampleOrder, SequentialOrder

CFG = DyadicConfig((2, 2, 1), parse_activations("relu", 2), max_samples=300)


def _walk(order, loads, steps_between=(1, 3)):
    """For each (first, count, stride, offset): the indices after 0, 1, ... steps."""
    out = []

    async def bench(ctx):
        rng = np.random.default_rng(0)
        for first, count, stride, offset in loads:
            for name, v in (("first", first), ("count", count), ("stride", stride),
                            ("offset", offset)):
                ctx.set(getattr(order, name), v)
            ctx.set(order.load, 1)
            await ctx.tick()
            ctx.set(order.load, 0)
            await ctx.tick()                          # (a run's setup cycle)
            seen = []
            for _ in range(count):
                seen.append(ctx.get(order.index))
                ctx.set(order.step, 1)                # a step at a commit, ticks apart
                await ctx.tick()
                ctx.set(order.step, 0)
                await ctx.tick().repeat(int(rng.integers(*steps_between)))
            out.append(seen)

    sim = Simulator(order)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def test_an_epoch_walks_its_affine_order():
    rng = np.random.default_rng(7)
    loads = []
    for count in (1, 2, 7, 97, 250):
        stride, offset = epoch_order(rng, count)
        loads.append((int(rng.integers(0, 300 - count + 1)), count, stride, offset))
    for (first, count, stride, offset), seen in zip(loads, _walk(SampleOrder(CFG), loads)):
        assert seen == list(first + epoch_indices(count, stride, offset)), (count, stride)


@pytest.mark.parametrize("cls", [SampleOrder, SequentialOrder])
def test_a_batch_takes_its_samples_in_turn(cls):
    (seen,) = _walk(cls(CFG), [(40, 12, 1, 0)])
    assert seen == list(range(40, 52))
