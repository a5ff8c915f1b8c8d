"""The stash: each tick's (s below, derivative codes) pair, kept until its sample's
sensitivity arrives 2(L - l) + 1 ticks later (``dynamics.stream_batch``'s delay line).

A ring of that many entries in block RAM, written at every commit. The entry a commit
overwrites is the oldest, the one the next tick's gradient pass needs; it is read ahead
(the read address is the write pointer all tick long) and taken into a register at that
commit, so the block RAM's clock-to-output stays off the operand path.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..fixed import block_ram

__all__ = ["Stash", "RegisterStash", "CodeRing", "stash_depth", "row_entry", "index_entry",
           "bank_entry", "CODE_WORDS"]

CODE_WORDS = "code_words"   # the code ring's memory (its slots read and written never meet)


def stash_depth(L: int, l: int) -> int:
    """Ticks cell l of L keeps a tick's pair: its sample's sensitivity comes back
    2 (L - l) + 1 ticks after its inputs."""
    return 2 * (L - l) + 1


def row_entry(n_in: int, n_out: int, act_bits: int) -> data.StructLayout:
    """An entry of s below (``n_in`` codes) and this cell's derivative codes."""
    return data.StructLayout({"s": data.ArrayLayout(signed(act_bits), n_in),
                              "code": data.ArrayLayout(2, n_out)})


def _codes(n_out: int, codes: bool) -> dict:
    """An entry's derivative codes, unless they are kept apart (``CodeRing``)."""
    return {"code": data.ArrayLayout(2, n_out)} if codes else {}


def index_entry(samples: int, n_out: int, codes: bool = True) -> data.StructLayout:
    """The sample's index in place of its inputs, for a cell 1 that reads them from the
    sample memory (``SampleColumns``): 11 bits instead of 512 on digits. ``codes`` false:
    the codes are kept apart (``CodeRing``)."""
    return data.StructLayout({"index": range(samples), **_codes(n_out, codes)})


def bank_entry(banks: int, n_out: int, codes: bool = True) -> data.StructLayout:
    """The bank of the block RAM below that holds the tick's s (``state_banks``), in place
    of a copy of it."""
    return data.StructLayout({"bank": range(banks), **_codes(n_out, codes)})


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


class CodeRing(wiring.Component):
    """The stash's derivative codes in block RAM, a row tile's ``rows`` codes a word: one
    slot of ``tiles`` words a tick, ``depth`` + 2 slots. The finish writes this tick's slot
    a row tile at a time (``wr``, word ``wr_ti``); the row operands read word ``rd_ti`` of
    the slot the stash's oldest entry was written in, ``depth`` + 1 ticks ago (on
    ``rd_codes`` the next cycle); ``commit`` moves both on a slot. A tick without a forward
    pass leaves its slot as it was: no gradient reads it. On an iCE40 UP5K the 32 codes of
    digits' hidden layer, five ticks of them in flip-flops, took some 170 logic cells."""

    def __init__(self, depth: int, rows: int, tiles: int):
        self.depth, self.rows, self.tiles = depth, rows, tiles
        word = data.ArrayLayout(2, rows)
        super().__init__({"commit": In(1), "wr": In(1), "wr_ti": In(range(tiles)),
                          "wr_codes": In(word), "rd_ti": In(range(tiles)),
                          "rd_codes": Out(word)})
        self.collision = Signal()       # for testbenches: a write meets a read of its word

    def elaborate(self, platform):
        m = Module()
        slots, bits = self.depth + 2, (self.tiles - 1).bit_length()
        word = data.ArrayLayout(2, self.rows)
        mem = Memory(shape=word, depth=slots << bits, init=[],
                     attrs=block_ram(word.size, slots << bits))
        m.submodules[CODE_WORDS] = mem
        wr, rd = mem.write_port(), mem.read_port()
        # (the oldest slot is the one after this tick's: read and written slots never meet)
        now, oldest = Signal(range(slots)), Signal(range(slots), init=1)
        with m.If(self.commit):
            m.d.sync += [now.eq(Mux(now == slots - 1, 0, now + 1)),
                         oldest.eq(Mux(oldest == slots - 1, 0, oldest + 1))]
        m.d.comb += [wr.addr.eq(Cat(self.wr_ti[:bits], now)), wr.en.eq(self.wr),
                     wr.data.eq(self.wr_codes),
                     rd.addr.eq(Cat(self.rd_ti[:bits], oldest)), self.rd_codes.eq(rd.data),
                     self.collision.eq(self.wr & (rd.addr == wr.addr))]
        return m
