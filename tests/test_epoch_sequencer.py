"""The epoch sequencer: the runs of a job, batch by batch and epoch by epoch."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.model.network import parse_activations
from hdl.epoch_sequencer import EpochSequencer, JobMode, RunSequencer
from hdl.run_control import RunMode

CFG = DyadicConfig((2, 2, 1), parse_activations("relu", 2), max_samples=64, max_batch=8)


def _runs(seq, mode, first, count, batch=0, epochs=0, plan=(), run_cycles=5):
    """The runs the sequencer starts: (mode, length, update, order loaded with (first,
    count, stride, offset) or None), each answered with its final commit after
    ``run_cycles`` cycles; and the cycle count from job start to done."""
    runs = []

    async def bench(ctx):
        for k, (stride, offset) in enumerate(plan):
            ctx.set(seq.job.plan_we, 1)
            ctx.set(seq.job.plan_addr, k)
            ctx.set(seq.job.plan_data.stride, stride)
            ctx.set(seq.job.plan_data.offset, offset)
            await ctx.tick()
        ctx.set(seq.job.plan_we, 0)
        for name, v in (("mode", mode), ("first", first), ("count", count), ("batch", batch),
                        ("epochs", epochs), ("lr_shift", 3), ("update", 0)):
            ctx.set(getattr(seq.job, name), v)
        ctx.set(seq.job.start, 1)
        left = None
        for cycle in range(10_000):
            if cycle == 1:
                ctx.set(seq.job.start, 0)
            ctx.set(seq.run.final, left == 0)         # (a next run may start with it)
            if left == 0 and ctx.get(seq.job.done):
                return
            if ctx.get(seq.run.start):
                load = ((ctx.get(seq.order_first), ctx.get(seq.order_count),
                         ctx.get(seq.order_stride), ctx.get(seq.order_offset))
                        if ctx.get(seq.order_load) else None)
                runs.append((ctx.get(seq.run.mode), ctx.get(seq.run.length),
                             ctx.get(seq.run.update), load))
                left = run_cycles + 1
            if left is not None:
                left -= 1
            await ctx.tick()
        raise AssertionError("the job never ended")

    m = Module()                  # (a sync domain even for a sequencer with no register)
    m.submodules.seq = seq
    m.d.sync += Signal().eq(1)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return runs


def test_epochs_run_their_batches_back_to_back_in_their_plans_order():
    plan = [(3, 1), (7, 0), (1, 9)]
    runs = _runs(EpochSequencer(CFG), JobMode.TRAIN, first=5, count=10, batch=4, epochs=3,
                 plan=plan)
    want = []
    for stride, offset in plan:
        want += [(RunMode.STREAM, 4, 1, (5, 10, stride, offset)), (RunMode.STREAM, 4, 1, None),
                 (RunMode.STREAM, 2, 1, None)]
    assert runs == want


@pytest.mark.parametrize("cls", [EpochSequencer, RunSequencer])
@pytest.mark.parametrize("mode, run_mode, count", [(JobMode.STREAM, RunMode.STREAM, 6),
                                                   (JobMode.EVAL, RunMode.EVAL, 17),
                                                   (JobMode.RELAX, RunMode.RELAX, 4)])
def test_a_single_run_job(cls, mode, run_mode, count):
    (run,) = _runs(cls(CFG), mode, first=3, count=count)
    relax = mode == JobMode.RELAX
    # a batch walks its samples in turn; a relaxation stays on its one sample
    assert run == (run_mode, count, 0, (3, 1 if relax else count, 0 if relax else 1, 0))
