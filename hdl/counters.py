"""The event counters READ_COUNTERS returns (``firmware_py.contract.protocol.COUNTERS``)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import COUNTERS, carried_counters

__all__ = ["Counters", "EVENT_BITS"]

EVENT_BITS = 16     # the largest count one cycle adds (a sum over every multiplier lane)


class Counters(wiring.Component):
    """Each counter adds its ``add`` field every cycle and wraps at 2^counter_bits;
    ``clear`` zeroes them all (and wins over an add). A counter the configuration does not
    keep (``carried_counters``) reads 0, and what would feed it is left unbuilt."""

    def __init__(self, config: DyadicConfig):
        self.config = config
        super().__init__({
            "clear": In(1),
            "add": In(data.StructLayout({name: EVENT_BITS for name in COUNTERS})),
            "values": Out(data.ArrayLayout(32, len(COUNTERS))),
        })

    def elaborate(self, platform):
        m = Module()
        for k, name in enumerate(COUNTERS):
            if name not in carried_counters(self.config):
                continue
            v = Signal(self.config.counter_bits, name=f"cnt_{name}")
            m.d.comb += self.values[k].eq(v)
            with m.If(self.clear):
                m.d.sync += v.eq(0)
            with m.Else():
                m.d.sync += v.eq(v + self.add[name])
        return m
