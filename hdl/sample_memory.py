"""The resident set: the sample memory and its host ports.

A row holds one sample: its n_0 input codes, then its target (n_L codes, or one class
label), ``config.act.bits`` wide each. Samples travel packed (``firmware_py.contract.protocol``):
``SampleWriter`` unpacks them from command words into the rows, ``SampleReader`` packs
rows back into words.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from .family import family_of

__all__ = ["SampleMemory", "SinglePortSampleMemory", "SampleWriter", "SampleReader", "row_layout",
           "MEMORY_NAME"]

MEMORY_NAME = "sample_rows"


def row_layout(config: DyadicConfig) -> data.StructLayout:
    """A sample memory row: the inputs, then the target lanes (raw bits)."""
    b = config.act.bits
    return data.StructLayout({"x": data.ArrayLayout(b, config.sizes[0]),
                              "target": data.ArrayLayout(b, config.target_lanes)})


class SampleMemory(wiring.Component):
    """``config.samples`` rows; one lane written per cycle, a whole row read per cycle.

    ``rd_data`` is the row at ``rd_addr`` one cycle after a cycle with ``rd_en``. A row
    reads as garbage until written. ``SampleMemory.for_platform`` picks the variant.
    """

    def __init__(self, config: DyadicConfig):
        self.config = config
        self.lanes = config.sizes[0] + config.target_lanes
        depth = config.samples
        super().__init__({"wr_addr": In(range(depth)), "wr_en": In(self.lanes),
                          "wr_data": In(config.act.bits), "rd_addr": In(range(depth)),
                          "rd_en": In(1), "rd_data": Out(row_layout(config))})

    @staticmethod
    def for_platform(config: DyadicConfig, platform) -> "SampleMemory":
        cls = SinglePortSampleMemory if family_of(platform) == "ice40" else SampleMemory
        return cls(config)

    def elaborate(self, platform):
        m = Module()
        c = self.config
        # (no initial contents: yosys infers SPRAM only from such a memory, and the board
        # build deletes the all-zero init Amaranth emits, boards/build.py)
        m.submodules[MEMORY_NAME] = mem = Memory(
            shape=data.ArrayLayout(c.act.bits, self.lanes), depth=c.samples, init=[])
        wr, rd = mem.write_port(granularity=1), mem.read_port()
        m.d.comb += [wr.en.eq(self.wr_en), self.rd_data.as_value().eq(rd.data)]
        m.d.comb += [wr.data[k].eq(self.wr_data) for k in range(self.lanes)]
        self.address(m, wr, rd)
        return m

    def address(self, m, wr, rd):
        m.d.comb += [wr.addr.eq(self.wr_addr), rd.addr.eq(self.rd_addr), rd.en.eq(self.rd_en)]


class SinglePortSampleMemory(SampleMemory):
    """For an iCE40's SPRAM, which has one port: the write address while writing, else
    the read address. A read asked for in a cycle that writes is not made (the core
    never asks for both)."""

    def address(self, m, wr, rd):
        writing = self.wr_en.any()
        addr = Mux(writing, self.wr_addr, self.rd_addr)
        m.d.comb += [wr.addr.eq(addr), rd.addr.eq(addr), rd.en.eq(self.rd_en & ~writing)]


class SampleWriter(wiring.Component):
    """Packed samples from ``i_words`` into rows ``first`` .. ``first + count - 1``.

    ``start`` takes the window; ``done`` is high from the cycle after the last lane is
    written until the next ``start``. The caller has checked the window and the number
    of words; the pad bytes of the last word are dropped. The memory-side outputs are
    registers: the lane enables fan out to every block of a wide memory.
    """

    def __init__(self, config: DyadicConfig):
        self.config = config
        self.lanes = config.sizes[0] + config.target_lanes
        super().__init__({
            "start": In(1), "first": In(16), "count": In(17),
            "i_words": In(stream.Signature(32)), "done": Out(1, init=1),
            "wr_addr": Out(range(config.samples)), **self.enable_ports(),
            "wr_data": Out(config.act.bits)})

    def enable_ports(self):
        """The lane written: an enable a lane (``wr_en``), as a row memory takes it."""
        return {"wr_en": Out(self.lanes)}

    def enables(self, lane):
        return [self.wr_en.eq(Const(1, self.lanes) << lane)]

    def elaborate(self, platform):
        m = Module()
        c, nb = self.config, self.config.lane_bytes
        word = Signal(32)
        have = Signal(3)                     # bytes of ``word`` not yet used
        value = Signal(8 * nb)               # the lane being assembled, low byte first
        byte_k = Signal(range(nb))
        lane = Signal(range(self.lanes))
        row = Signal(range(c.samples + 1))
        left = Signal(17)                    # samples still to write

        m.d.sync += self.wr_en.eq(0)
        with m.If(self.start):
            m.d.sync += [self.done.eq(self.count == 0), row.eq(self.first), left.eq(self.count),
                         have.eq(0), lane.eq(0), byte_k.eq(0)]
        with m.Elif(~self.done):
            m.d.comb += self.i_words.ready.eq(have == 0)
            with m.If(have == 0):
                with m.If(self.i_words.valid):
                    m.d.sync += [word.eq(self.i_words.payload), have.eq(4)]
            with m.Else():
                byte = word[:8]
                full = Cat(value[8:], byte) if nb > 1 else byte
                m.d.sync += [word.eq(word >> 8), have.eq(have - 1), value.eq(full)]
                with m.If(byte_k == nb - 1):
                    m.d.sync += [byte_k.eq(0), self.wr_addr.eq(row), self.wr_data.eq(full),
                                 *self.enables(lane)]
                    with m.If(lane == self.lanes - 1):
                        m.d.sync += [lane.eq(0), row.eq(row + 1), left.eq(left - 1)]
                        with m.If(left == 1):
                            m.d.sync += self.done.eq(1)
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
                with m.Else():
                    m.d.sync += byte_k.eq(byte_k + 1)
        return m


class SampleReader(wiring.Component):
    """Rows ``first`` .. ``first + count - 1`` on ``o_words``, a lane a word (its raw bits:
    reading back is for checking, not a bulk path, so it is kept small).

    It reads the memory through ``rd_addr`` / ``rd_en`` / ``rd_data`` while ``active``;
    ``count`` is at least 1 (the caller has checked the window).
    """

    def __init__(self, config: DyadicConfig):
        self.config = config
        self.lanes = config.sizes[0] + config.target_lanes
        super().__init__({
            "start": In(1), "first": In(16), "count": In(17), "active": Out(1),
            "o_words": Out(stream.Signature(32)),
            "rd_addr": Out(range(config.samples)), "rd_en": Out(1),
            "rd_data": In(row_layout(config))})

    def elaborate(self, platform):
        m = Module()
        bits = self.config.act.bits
        # the row is taken into a register and shifted out a lane at a time: no path from
        # the memory's (slow, multi-block) read data to the link, and no wide lane select
        row = Signal(self.lanes * bits, reset_less=True)
        # the read data goes through a plain register first: the row is a shift register
        # placed along its lanes, and the memory's blocks sit apart (a routed 85F's path)
        data = Signal.like(row)
        m.d.sync += data.eq(Cat(self.rd_data.x.as_value(), self.rd_data.target.as_value()))
        left = Signal(17)
        lane = Signal(range(self.lanes))
        m.d.comb += self.o_words.payload.eq(row[:bits])
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.rd_addr.eq(self.first), left.eq(self.count)]
                    m.next = "READ"
            with m.State("READ"):           # the row's data comes the next cycle
                m.d.comb += [self.active.eq(1), self.rd_en.eq(1)]
                m.d.sync += lane.eq(0)
                m.next = "HOLD"
            with m.State("HOLD"):           # into ``data``
                m.d.comb += self.active.eq(1)
                m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += self.active.eq(1)
                m.d.sync += row.eq(data)
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [self.active.eq(1), self.o_words.valid.eq(1)]
                with m.If(self.o_words.ready):
                    m.d.sync += [lane.eq(lane + 1), row.eq(row >> bits)]
                    with m.If(lane == self.lanes - 1):
                        m.d.sync += [self.rd_addr.eq(self.rd_addr + 1), left.eq(left - 1)]
                        m.next = "READ"
                        with m.If(left == 1):
                            m.next = "IDLE"
        return m
