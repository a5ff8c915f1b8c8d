"""A hidden cell's s in block RAM (``"cell": "lean-bram"``): banks of row-tile words,
read by the cell above a word a cycle.

The registers it replaces held s (read whole by the cell above's column picks and copied
into its stash every tick) and the next s the finish wrote; on an iCE40, which has no LUT
RAM, that was a logic cell a bit, three or four times over. Here bank k holds one tick's
s, a row tile ``ti`` a word (the finish's R results, written at once). The finish writes
the next state into the bank after the current one; a commit makes that bank current when
a forward pass wrote it (a tick without one keeps s, as the registers did). The cell above
stashes bank numbers, not copies: its gradient reads the bank of the tick it stashed.

Banks enough for the stash: a stash of depth D holds the banks of the last D ticks and
the one its gradient reads now, D + 1 before the current one. With the current one they
span at most D + 2 consecutive banks (a commit advances one at most), so with D + 3 banks
the next one is never a bank still to be read.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from ..fixed import block_ram
from .stash import stash_depth

__all__ = ["StateLink", "StateBanks", "banks_below", "column_tile_place", "STATE_WORDS"]

# The banks' memory in the netlist. A read never meets a datapath write of its word (the
# finish writes the next bank; the cell above reads the current one or a stashed one, and
# ``banks_below`` keeps those apart), so the board build declares such a collision
# undefined (boards/build.py).
STATE_WORDS = "state_words"


def banks_below(config: DyadicConfig, l: int) -> int:
    """Banks for cell l's s: the stash of cell l + 1 and three."""
    return stash_depth(config.L, l + 1) + 3


def column_tile_place(n: int, rows: int, cols: int, tiles: int, tj):
    """Where column tile ``tj`` (``cols`` elements of a vector of ``n``, as the cell above
    takes them) sits in a bank word of ``rows`` elements: (word, k), its elements being
    k cols .. of the word. ``cols`` divides ``rows``, so a tile never spans two words; the
    bias tile, past the vector, gets the last word (read, not used)."""
    per_word, last = rows // cols, -(-n // rows) - 1
    word = Array(Const(min(t // per_word, last), range(last + 1)) for t in range(tiles))[tj]
    k = Array(Const(t % per_word, range(per_word)) for t in range(tiles))[tj]
    return word, k


class StateLink(wiring.Signature):
    """A hidden cell's s as the cell above reads it: a word of ``rows`` elements at
    {``rd_bank``, ``rd_word``} (on ``data`` the next cycle), and the current ``bank``."""

    def __init__(self, n: int, rows: int, banks: int, width: int):
        self.key = (n, rows, banks, width)
        self.words = -(-n // rows)
        super().__init__({
            "bank": Out(range(banks)),
            "rd_bank": In(range(banks)), "rd_word": In(range(self.words)),
            "data": Out(data.ArrayLayout(signed(width), rows))})

    def __eq__(self, other):
        return isinstance(other, StateLink) and self.key == other.key


class StateBanks(wiring.Component):
    """A vector of ``n`` elements of ``bits`` (s, or lam), worked ``rows`` at a time, in
    ``banks`` banks of one word a row tile.

    ``wr_mask``: the elements of word ``wr_word`` (``wr_data``) written into the next bank.
    ``commit``: the next bank becomes current if it was written this tick (in the commit's
    cycle too). ``set``: the host writes element ``set_lane`` of word ``set_ti`` of the
    current bank. Reads: {``rd_bank``, ``rd_word``}, or with ``host`` the current bank's
    word ``host_ti``; the word comes the next cycle on ``rd_data``.
    """

    def __init__(self, n: int, rows: int, banks: int, bits: int):
        self.n, self.rows, self.banks, self.bits = n, rows, banks, bits
        self.words = -(-n // rows)
        self.word_bits = (self.words - 1).bit_length()
        vec = data.ArrayLayout(signed(bits), rows)
        super().__init__({
            "commit": In(1), "bank": Out(range(banks)),
            "wr_mask": In(rows), "wr_word": In(range(self.words)), "wr_data": In(vec),
            "set": In(1), "set_ti": In(range(self.words)), "set_lane": In(range(rows)),
            "set_value": In(signed(bits)),
            "host": In(1), "host_ti": In(range(self.words)),
            "rd_bank": In(range(banks)), "rd_word": In(range(self.words)),
            "rd_data": Out(vec)})
        # for testbenches: a datapath write meets a read of its word (``STATE_WORDS``)
        self.collision = Signal()

    def elaborate(self, platform):
        m = Module()
        B, R = self.banks, self.rows
        depth = B << self.word_bits
        mem = Memory(shape=data.ArrayLayout(signed(self.bits), R), depth=depth, init=[],
                     attrs=block_ram(R * self.bits, depth))
        m.submodules[STATE_WORDS] = mem
        wr, rd = mem.write_port(granularity=1), mem.read_port()     # (an element)
        cur, wrote = Signal(range(B)), Signal()
        nxt = Mux(cur == B - 1, 0, cur + 1)
        m.d.comb += self.bank.eq(cur)
        with m.If(self.commit):
            m.d.sync += [cur.eq(Mux(wrote | self.wr_mask.any(), nxt, cur)), wrote.eq(0)]
        with m.Elif(self.wr_mask.any()):
            m.d.sync += wrote.eq(1)
        # (the datapath writes while it runs, the host while it is idle)
        with m.If(self.set):
            m.d.comb += [wr.addr.eq(Cat(self.set_ti[:self.word_bits], cur)),
                         wr.en.eq(1 << self.set_lane),
                         wr.data.eq(Cat(self.set_value for _ in range(R)))]
        with m.Else():
            m.d.comb += [wr.addr.eq(Cat(self.wr_word[:self.word_bits], nxt)),
                         wr.en.eq(self.wr_mask), wr.data.eq(self.wr_data)]
        m.d.comb += [rd.addr.eq(Mux(self.host, Cat(self.host_ti[:self.word_bits], cur),
                                    Cat(self.rd_word[:self.word_bits], self.rd_bank))),
                     self.rd_data.eq(rd.data),
                     self.collision.eq(~self.set & self.wr_mask.any() & (rd.addr == wr.addr))]
        return m
