"""The order in which a run takes its samples from the resident set."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

__all__ = ["SampleOrder", "SequentialOrder"]


class SampleOrder(wiring.Component):
    """``index``: the resident sample of position p, ``first + (offset + p * stride) mod
    count``, for p = 0, 1, ... counted by ``step``.

    ``load`` takes the window and the walk (offset and stride below count). A batch is
    stride 1 over its own samples; an epoch continues over its batches; a relaxation
    does not step. The next index is worked out while the current one is used, so a
    step only loads a register.
    """

    def __init__(self, config: DyadicConfig):
        depth = config.samples
        super().__init__({"load": In(1), "first": In(16), "count": In(17), "stride": In(16),
                          "offset": In(16), "step": In(1), "index": Out(range(depth))})

    def elaborate(self, platform):
        m = Module()
        limit = Signal(18)          # first + count
        count = Signal(17)
        stride = Signal(16)
        ahead = Signal.like(self.index)
        nxt = self.index + stride
        m.d.sync += ahead.eq(Mux(nxt >= limit, nxt - count, nxt))
        with m.If(self.load):
            m.d.sync += [self.index.eq(self.first + self.offset),
                         limit.eq(self.first + self.count), count.eq(self.count),
                         stride.eq(self.stride)]
        with m.Elif(self.step):
            m.d.sync += self.index.eq(ahead)
        return m


class SequentialOrder(SampleOrder):
    """``first``, ``first + 1``, ...: the order of a device built without the trainer,
    whose runs take their samples in turn (``offset`` and ``stride`` are 0 and 1, or a
    relaxation's, which does not step)."""

    def elaborate(self, platform):
        m = Module()
        with m.If(self.load):
            m.d.sync += self.index.eq(self.first)
        with m.Elif(self.step):
            m.d.sync += self.index.eq(self.index + 1)
        return m
