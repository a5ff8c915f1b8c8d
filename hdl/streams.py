"""Register stages for ``amaranth.lib.stream`` streams."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamRegister", "HalfRateBuffer"]


class _Stage(wiring.Component):
    """A stream in on ``i``, the same stream out on ``o``."""

    def __init__(self, width: int):
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})


class StreamRegister(_Stage):
    """Registers a stream's payload and valid (ready stays combinational): full rate."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(self.o.ready | ~self.o.valid)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


class HalfRateBuffer(_Stage):
    """A one-word buffer: valid, payload and ready all come from its own flip-flops, so no
    combinational path crosses it (ready included), at the cost of a word every other
    cycle at most."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid)
        with m.If(self.o.valid):
            with m.If(self.o.ready):
                m.d.sync += self.o.valid.eq(0)
        with m.Elif(self.i.valid):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(self.i.payload)]
        return m
