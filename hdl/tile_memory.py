"""A cell's tile memory (W or G): one tile of ``lanes`` values per address.

Read like a synchronous port: ``rd_data`` is the tile at ``rd_addr`` one cycle on. With
``banks`` > 1 it is that many memories of equal lanes, each addressed by its own copy
of the read address register. In a wide cell on an ECP5 the distributed RAMs of one
memory spread across the die, and one address flip-flop reaching all of them was the
85F's critical path (a 6.2 ns route before the read). Identical flip-flops are merged
by yosys (its memory passes merge the address registers of ports that share an
address too), so the copies carry the ``COPY_ATTR`` attribute and the board build gives
their cells ``keep``.

With ``loads``, a load (the host's write) is announced a cycle ahead on ``ld_next``, with
its address, lanes and word, and takes the write port from the datapath the cycle after.
Each bank takes it into its own registers: the select in front of every write-data input
then starts at a flip-flop beside the bank, not at the host logic across the die (the
85F's critical path once the read addresses were banked).
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
                 transparent: bool = False, loads: bool = False):
        if lanes % banks:
            raise ValueError(f"{lanes} lanes do not split into {banks} banks")
        self.shape, self.lanes, self.depth = shape, lanes, depth
        self.attrs, self.banks, self.transparent = attrs, banks, transparent
        self.loads = loads
        tile = data.ArrayLayout(shape, lanes)
        members = {"rd_addr": In(range(depth)), "rd_data": Out(tile),
                   "wr_addr": In(range(depth)), "wr_en": In(lanes), "wr_data": In(tile)}
        if loads:
            members |= {"ld_next": In(1), "ld_addr": In(range(depth)), "ld_en": In(lanes),
                        "ld_data": In(shape)}
        super().__init__(members)

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
            if self.loads:
                # this bank's copy of the load (identical across banks but for the lanes)
                ld = Signal(name=f"ld{j}", attrs={COPY_ATTR: 1})
                ld_addr = Signal(range(self.depth), name=f"ld_addr{j}", reset_less=True,
                                 attrs={COPY_ATTR: 1})
                ld_en = Signal(per, name=f"ld_en{j}", reset_less=True)
                ld_data = Signal(self.shape, name=f"ld_data{j}", reset_less=True,
                                 attrs={COPY_ATTR: 1})
                m.d.sync += [ld.eq(self.ld_next), ld_addr.eq(self.ld_addr),
                             ld_en.eq(self.ld_en[lo:lo + per]), ld_data.eq(self.ld_data)]
                with m.If(ld):
                    m.d.comb += [wr.addr.eq(ld_addr), wr.en.eq(ld_en)]
                    m.d.comb += [wr.data[k].eq(ld_data) for k in range(per)]
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
