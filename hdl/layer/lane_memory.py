"""A lane's W and G words: one memory word per tile the lane works on.

The word is {W master, G}, each half as wide as the wider of the two, so that one write
port with two byte-lane enables writes either half: a gradient pass writes G, an update
pass W. Reads take ``rt.memory`` cycles: the block RAM's read register, then its output
register, so no route from a RAM site shares a cycle with logic. ``clear_g`` (given with
the address) reads G as 0: a batch's first gradient starts from nothing without a pass
that zeroes G (on a DP16KD it is the output register's synchronous reset).

A read never meets a write of the same word in one cycle: the cycle contract reads a word
only ``rt.land`` cycles after the issue that writes it. The board build declares such a
collision undefined (``LANE_WORDS``, boards/build.py), so that yosys does not emulate the
old word's read in logic (a delayed write port and a bypass as wide as the word: 67 flip-flops
a lane).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import Retiming

from .delay import delayed

__all__ = ["LaneMemory", "DistributedLaneMemory", "PackedLaneMemory", "memory_for",
           "LANE_WORDS"]

LANE_WORDS = "lane_words"       # the memory's name in the netlist


class LaneMemory(wiring.Component):
    """``depth`` words of {W, G}, in block RAM (``ram_style``)."""

    ram_style = "block"
    min_memory = 2          # (read register, output register)

    def __init__(self, config: DyadicConfig, rt: Retiming, depth: int):
        if rt.memory < self.min_memory:
            raise ValueError(f"a {type(self).__name__} reads through {self.min_memory} "
                             f"registers: Retiming.memory >= {self.min_memory}, "
                             f"not {rt.memory}")
        self.config, self.rt, self.depth = config, rt, depth
        self.half = max(config.master.bits, config.grad_bits)
        w, g = signed(config.master.bits), signed(config.grad_bits)
        # (made here, so that a testbench can reach its words)
        self.mem = Memory(shape=self.word_bits(), depth=depth, init=[],
                          attrs={"ram_style": self.ram_style})
        super().__init__({
            "rd_addr": In(range(depth)), "clear_g": In(1), "w": Out(w), "g": Out(g),
            "wr_addr": In(range(depth)), "wr_w": In(1), "wr_g": In(1),
            "w_data": In(w), "g_data": In(g)})

    def word_bits(self):
        return 2 * self.half

    def elaborate(self, platform):
        m = Module()
        h = self.half
        m.submodules[LANE_WORDS] = mem = self.mem
        wr = mem.write_port(granularity=h)
        w_half, g_half = Signal(signed(h)), Signal(signed(h))     # (sign-extended)
        m.d.comb += [w_half.eq(self.w_data), g_half.eq(self.g_data),
                     wr.addr.eq(self.wr_addr), wr.en.eq(self.wr_g << 1 | self.wr_w),
                     wr.data.eq(Cat(w_half, g_half))]
        rd = mem.read_port()
        addr = delayed(m, self.rd_addr, self.rt.address, "addr")
        clear = delayed(m, self.clear_g, self.rt.address + 1, "clear")
        m.d.comb += rd.addr.eq(addr)
        # the output register(s) after the read register; the first one clears G
        w_out = Signal(signed(self.config.master.bits), reset_less=True)
        g_out = Signal(signed(self.config.grad_bits), reset_less=True)
        m.d.sync += [w_out.eq(rd.data[:h]), g_out.eq(rd.data[h:])]
        with m.If(clear):
            m.d.sync += g_out.eq(0)
        n = self.rt.memory - 2
        m.d.comb += [self.w.eq(delayed(m, w_out, n, "w_out")),
                     self.g.eq(delayed(m, g_out, n, "g_out"))]
        return m


class DistributedLaneMemory(LaneMemory):
    """The same words in LUT RAM: for a lane with few tiles, where a block RAM each would
    run out (cell 2 of digits on the 85F)."""

    ram_style = "distributed"


class PackedLaneMemory(LaneMemory):
    """The same words with W and G side by side, no padding, in byte lanes each with its
    own write enable: a write of W enables W's bytes, a write of G G's. The byte W and G
    share is written whole, its other half written back as it was read (the cycle contract
    lets no write of the word come between). On an iCE40, whose 512 x 8 block RAM has no
    bit enables, an 11-bit W and a 13-bit G fill three blocks a lane, where two 13-bit
    halves would take four, and only the shared byte's 8 bits wait for the write-back.

    With ``rt.memory`` 1 the block RAM's own read register is the only one: an iCE40 block
    RAM's read data comes from a register, and at 24 MHz it may feed the lane's logic
    directly. G then reads as 0 through a gate rather than the output register's reset: a
    lane saves 24 flip-flops for 13 LUTs."""

    min_memory = 1

    def word_bits(self):
        return -(-(self.config.master.bits + self.config.grad_bits) // 8) * 8

    def elaborate(self, platform):
        m = Module()
        c, rt = self.config, self.rt
        wb, gb = c.master.bits, c.grad_bits
        m.submodules[LANE_WORDS] = mem = self.mem
        wr, rd = mem.write_port(granularity=8), mem.read_port()
        m.d.comb += rd.addr.eq(delayed(m, self.rd_addr, rt.address, "addr"))
        clear = delayed(m, self.clear_g, rt.address + 1, "clear")
        if rt.memory == 1:
            m.d.comb += [self.w.eq(rd.data[:wb]), self.g.eq(Mux(clear, 0, rd.data[wb:]))]
        else:
            w_out = Signal(signed(wb), reset_less=True)
            g_out = Signal(signed(gb), reset_less=True)
            m.d.sync += [w_out.eq(rd.data[:wb]), g_out.eq(rd.data[wb:])]
            with m.If(clear):
                m.d.sync += g_out.eq(0)
            n = rt.memory - 2
            m.d.comb += [self.w.eq(delayed(m, w_out, n, "w_out")),
                         self.g.eq(delayed(m, g_out, n, "g_out"))]
        # the byte lanes: W's own [0, lo), the shared one [lo, lo + 8), G's own above it
        lo = wb // 8 * 8
        w_in = self.w_data.as_unsigned()
        g_in = self.g_data.as_unsigned()
        if lo < wb:             # (W ends inside a byte: G's first bits share it)
            shared_g = min(gb, lo + 8 - wb)
            # the shared byte's other half as read, kept until its write-back
            # (product_at + writeback after the issue, the read address + memory)
            keep = rt.product_at + rt.writeback - rt.address - rt.memory
            w_keep = delayed(m, self.w.as_unsigned()[lo:], keep, "w_keep")
            g_keep = delayed(m, self.g.as_unsigned()[:shared_g], keep, "g_keep")
            w_in = Cat(w_in[:lo], Mux(self.wr_w, w_in[lo:], w_keep))
            g_in = Cat(Mux(self.wr_g, g_in[:shared_g], g_keep), g_in[shared_g:])
        lanes = self.word_bits() // 8
        en = [(self.wr_w if 8 * j < wb else 0) | (self.wr_g if 8 * j + 8 > wb else 0)
              for j in range(lanes)]
        m.d.comb += [wr.addr.eq(self.wr_addr), wr.en.eq(Cat(en)),
                     wr.data.eq(Cat(w_in, g_in))]
        return m


def memory_for(config: DyadicConfig, tiling):
    """A lane memory of one word per tile: LUT RAM up to 16 words (one LUT RAM's depth,
    where a block RAM would stand nearly empty), block RAM beyond; packed words on the
    the ``lean-bram`` cells' devices (the iCE40 has no LUT RAM)."""
    if config.cell == "lean-bram":
        return PackedLaneMemory
    return DistributedLaneMemory if tiling.tiles <= 16 else LaneMemory
