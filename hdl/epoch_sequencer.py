"""The epoch sequencer: turns a job (one run, or E epochs of SGD) into runs.

A TRAIN job walks epoch e's samples in the order its plan entry gives (stride and
offset: ``Opcode`` in ``firmware_py.contract.protocol``), in batches of B with the last
one shorter, and
starts each batch's run in the cycle the previous one ends: an epoch costs its runs'
cycles and nothing else. The weights stay in the cells throughout.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import MAX_EPOCHS

from .run_control import RunMode, RunRequest

__all__ = ["EpochSequencer", "RunSequencer", "JobMode", "JobRequest", "PlanEntry"]


class JobMode(enum.Enum, shape=2):
    RELAX = 0
    STREAM = 1
    EVAL = 2
    TRAIN = 3


PlanEntry = data.StructLayout({"stride": 16, "offset": 16})


class JobRequest(wiring.Signature):
    """A job from the command decoder; ``done`` is high for a cycle when it has ended.

    ``count``: relaxation ticks (RELAX), the batch (STREAM) or the samples (EVAL, TRAIN)
    from ``first`` on. TRAIN also takes ``batch``, ``epochs`` and the plan: entry e,
    written beforehand, orders epoch e. The fields hold still until ``done``.
    """

    def __init__(self):
        super().__init__({"start": Out(1), "mode": Out(JobMode), "first": Out(16),
                          "count": Out(17), "batch": Out(17), "epochs": Out(range(MAX_EPOCHS + 1)),
                          "dt_shift": Out(4), "lr_shift": Out(5), "update": Out(1),
                          "plan_we": Out(1), "plan_addr": Out(range(MAX_EPOCHS)),
                          "plan_data": Out(PlanEntry),
                          "done": In(1)})


class EpochSequencer(wiring.Component):
    """Jobs on ``job``; runs on ``run``; each run's sample order set up on ``order``
    (``hdl.sample_order.SampleOrder``'s load port)."""

    def __init__(self, config: DyadicConfig):
        self.config = config
        super().__init__({
            "job": In(JobRequest()),
            "run": Out(RunRequest()),
            "order_load": Out(1), "order_first": Out(16), "order_count": Out(17),
            "order_stride": Out(16), "order_offset": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        job, run = self.job, self.run
        m.submodules.plan = plan = Memory(shape=PlanEntry, depth=MAX_EPOCHS, init=[])
        wr, rd = plan.write_port(), plan.read_port(transparent_for=())
        m.d.comb += [wr.en.eq(job.plan_we), wr.addr.eq(job.plan_addr), wr.data.eq(job.plan_data)]

        train = job.mode == JobMode.TRAIN
        epoch = Signal.like(job.epochs)       # the epoch of the next run
        left = Signal(17)                      # the epoch's samples after the run under way
        first_len = Signal(17)                 # an epoch's first batch
        next_len = Signal(17)                  # the next run's batch
        more = Signal()                        # a run follows the one under way
        new_epoch = Signal()                   # ... and it starts an epoch
        m.d.comb += rd.addr.eq(epoch)          # the plan entry of the next run's epoch

        m.d.comb += [self.order_first.eq(job.first),
                     self.order_count.eq(Mux(job.mode == JobMode.RELAX, 1, job.count)),
                     self.order_stride.eq(Mux(train, rd.data.stride, job.mode != JobMode.RELAX)),
                     self.order_offset.eq(Mux(train, rd.data.offset, 0)),
                     run.mode.eq(Mux(job.mode == JobMode.RELAX, RunMode.RELAX,
                                     Mux(job.mode == JobMode.EVAL, RunMode.EVAL,
                                         RunMode.STREAM))),
                     run.update.eq(job.update | train), run.length.eq(next_len),
                     run.dt_shift.eq(job.dt_shift), run.lr_shift.eq(job.lr_shift)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(job.start):
                    batch = Mux(job.batch < job.count, job.batch, job.count)
                    m.d.sync += [epoch.eq(0), new_epoch.eq(1), first_len.eq(batch),
                                 next_len.eq(Mux(train, batch, job.count))]
                    m.next = "PLAN"
            with m.State("PLAN"):             # epoch 0's plan entry is read
                m.next = "FIRST"
            with m.State("FIRST"):
                m.d.comb += [self.order_load.eq(1), run.start.eq(1)]
                m.next = "ADVANCE"
            with m.State("ADVANCE"):          # what follows the run just started
                after = Mux(new_epoch, job.count, left) - next_len
                ends = after == 0
                m.d.sync += [left.eq(after), new_epoch.eq(ends),
                             next_len.eq(Mux(ends, first_len,
                                             Mux(job.batch < after, job.batch, after))),
                             more.eq(train & ~(ends & (epoch + 1 == job.epochs)))]
                with m.If(ends):
                    m.d.sync += epoch.eq(epoch + 1)
                m.next = "RUN"
            with m.State("RUN"):
                with m.If(run.final):
                    with m.If(more):
                        m.d.comb += [run.start.eq(1), self.order_load.eq(new_epoch)]
                        m.next = "ADVANCE"
                    with m.Else():
                        m.d.comb += job.done.eq(1)
                        m.next = "IDLE"
        return m


class RunSequencer(EpochSequencer):
    """A job is one run (RELAX, STREAM or EVAL): for a device built without TRAIN
    (``config.trainer`` false), which has no room for the epoch logic."""

    def elaborate(self, platform):
        m = Module()
        job, run = self.job, self.run
        relax = job.mode == JobMode.RELAX
        m.d.comb += [self.order_load.eq(job.start), self.order_first.eq(job.first),
                     self.order_count.eq(Mux(relax, 1, job.count)),
                     self.order_stride.eq(~relax), self.order_offset.eq(0),
                     run.start.eq(job.start), run.length.eq(job.count),
                     run.mode.eq(Mux(relax, RunMode.RELAX,
                                     Mux(job.mode == JobMode.EVAL, RunMode.EVAL,
                                         RunMode.STREAM))),
                     run.update.eq(job.update), run.dt_shift.eq(job.dt_shift),
                     run.lr_shift.eq(job.lr_shift), job.done.eq(run.final)]
        return m
