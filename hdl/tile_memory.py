"""A cell's tile memory (W or G): one tile of ``lanes`` values per address.

Read like a synchronous port: ``rd_data`` is the tile at ``rd_addr`` one cycle on. With
``banks`` > 1 it is that many memories of equal lanes, each addressed by its own copy
of the read address register. In a wide cell on an ECP5 the distributed RAMs of one
memory spread across the die, and one address flip-flop reaching all of them leaves a
long route before the read (boards/README.md has the builds). Identical flip-flops are merged
by yosys (its memory passes merge the address registers of ports that share an
address too), so the copies carry the ``COPY_ATTR`` attribute and the board build gives
their cells ``keep``.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["TileMemory", "COPY_ATTR"]

COPY_ATTR = "dyadic_copy"   # on a register that must stay a copy of its own


class TileMemory(wiring.Component):
    """``lanes`` values of ``shape`` per address, ``depth`` addresses.

    ``transparent``: a read sees a write to its address in the same cycle (with banks
    every read does: the address is registered in front of an asynchronous read).
    """

    def __init__(self, shape, lanes: int, depth: int, *, attrs: dict, banks: int = 1,
                 transparent: bool = False):
        if lanes % banks:
            raise ValueError(f"{lanes} lanes do not split into {banks} banks")
        self.shape, self.lanes, self.depth = shape, lanes, depth
        self.attrs, self.banks, self.transparent = attrs, banks, transparent
        tile = data.ArrayLayout(shape, lanes)
        super().__init__({"rd_addr": In(range(depth)), "rd_data": Out(tile),
                          "wr_addr": In(range(depth)), "wr_en": In(lanes),
                          "wr_data": In(tile)})

    def elaborate(self, platform):
        m = Module()
        per = self.lanes // self.banks
        for j in range(self.banks):
            mem = Memory(shape=data.ArrayLayout(self.shape, per), depth=self.depth, init=[],
                         attrs=self.attrs)
            m.submodules[f"bank{j}"] = mem
            wr = mem.write_port(granularity=1)
            lo = j * per     # this bank's first lane
            m.d.comb += [wr.addr.eq(self.wr_addr), wr.en.eq(self.wr_en[lo:lo + per])]
            m.d.comb += [wr.data[k].eq(self.wr_data[lo + k]) for k in range(per)]
            if self.banks == 1:
                rd = mem.read_port(transparent_for=(wr,) if self.transparent else ())
                m.d.comb += rd.addr.eq(self.rd_addr)
            else:
                addr = Signal(range(self.depth), name=f"rd_addr{j}", reset_less=True,
                              attrs={COPY_ATTR: 1})
                m.d.sync += addr.eq(self.rd_addr)
                rd = mem.read_port(domain="comb")
                m.d.comb += rd.addr.eq(addr)
            m.d.comb += [self.rd_data[lo + k].eq(rd.data[k]) for k in range(per)]
        return m
