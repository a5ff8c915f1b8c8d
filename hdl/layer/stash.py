"""The stash: each tick's (s below, derivative codes) pair, kept until its sample's
sensitivity arrives 2(L - l) + 1 ticks later (``dynamics.stream_batch``'s delay line).

A ring of that many entries in block RAM, written at every commit. The entry a commit
overwrites is the oldest, the one the next tick's gradient pass needs; it is read ahead
(the read address is the write pointer all tick long) and taken into a register at that
commit, so the block RAM's clock-to-output stays off the operand path.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..fixed import block_ram

__all__ = ["Stash", "RegisterStash", "stash_depth", "row_entry", "index_entry", "bank_entry"]


def stash_depth(L: int, l: int) -> int:
    """Ticks cell l of L keeps a tick's pair: its sample's sensitivity comes back
    2 (L - l) + 1 ticks after its inputs."""
    return 2 * (L - l) + 1


def row_entry(n_in: int, n_out: int, act_bits: int) -> data.StructLayout:
    """An entry of s below (``n_in`` codes) and this cell's derivative codes."""
    return data.StructLayout({"s": data.ArrayLayout(signed(act_bits), n_in),
                              "code": data.ArrayLayout(2, n_out)})


def index_entry(samples: int, n_out: int) -> data.StructLayout:
    """The sample's index in place of its inputs, for a cell 1 that reads them from the
    sample memory (``SampleColumns``): 11 bits instead of 512 on digits."""
    return data.StructLayout({"index": range(samples), "code": data.ArrayLayout(2, n_out)})


def bank_entry(banks: int, n_out: int) -> data.StructLayout:
    """The bank of the block RAM below that holds the tick's s (``state_banks``), in place
    of a copy of it."""
    return data.StructLayout({"bank": range(banks), "code": data.ArrayLayout(2, n_out)})


class Stash(wiring.Component):
    def __init__(self, depth: int, entry: data.StructLayout):
        self.depth, self.entry = depth, entry
        super().__init__({"commit": In(1), "new": In(self.entry), "oldest": Out(self.entry)})

    def elaborate(self, platform):
        m = Module()
        mem = Memory(shape=self.entry, depth=self.depth, init=[], attrs=self.attrs())
        m.submodules.mem = mem
        wr, rd = mem.write_port(), mem.read_port()
        ptr = Signal(range(self.depth))
        oldest = Signal(self.entry, reset_less=True)
        m.d.comb += self.oldest.eq(oldest)
        m.d.comb += [wr.addr.eq(ptr), rd.addr.eq(ptr), wr.en.eq(self.commit),
                     wr.data.eq(self.new)]
        with m.If(self.commit):
            m.d.sync += [oldest.eq(rd.data),
                         ptr.eq(Mux(ptr == self.depth - 1, 0, ptr + 1))]
        return m

    def attrs(self):
        return block_ram(self.entry.size, self.depth)


class RegisterStash(Stash):
    """A stash left to flip-flops: on an iCE40 a stash of bank numbers or sample indices
    is a few dozen bits, which would take a block RAM of 4 kbit each 16 bits wide. It is a
    line of ``depth`` + 1 entries shifted at each commit, ``oldest`` its end: the same entry
    the ring would read, with no pick among the entries (their LUTs on a UP5K)."""

    def elaborate(self, platform):
        m = Module()
        line = [Signal(self.entry, name=f"entry{k}", reset_less=True)
                for k in range(self.depth + 1)]
        m.d.comb += self.oldest.eq(line[-1])
        with m.If(self.commit):
            m.d.sync += [line[0].eq(self.new), *(b.eq(a) for a, b in zip(line, line[1:]))]
        return m
