"""Squares for the evaluator: ``p`` is ``a * a`` two cycles on.

A narrow operand is squared by a table of squares in block RAM (an 8-bit format's
errors, below 256 in magnitude: one iCE40 EBR or one DP16KD): the boards with 8-bit
formats have no multiplier to spare, their cells use every one. A wide operand takes a
multiplier.
"""

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .multiplier import Multiplier

__all__ = ["TableSquarer", "MultiplierSquarer", "squarer_for", "TABLE_LIMIT"]

TABLE_LIMIT = 256   # operands of magnitude below this are squared by a table


class _Squarer(wiring.Component):
    """``a``: a signed operand of magnitude below ``limit``."""

    def __init__(self, bits: int, limit: int):
        self.bits, self.limit = bits, limit
        super().__init__({"a": In(signed(bits)), "p": Out(2 * bits)})


class TableSquarer(_Squarer):
    """|a|^2 read from a table of every square: the table's read register, then a
    fabric register."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.squares = table = Memory(shape=(self.limit - 1).bit_length() * 2,
                                              depth=self.limit,
                                              init=[k * k for k in range(self.limit)])
        rd = table.read_port()
        m.d.comb += rd.addr.eq(Mux(self.a < 0, -self.a, self.a))
        m.d.sync += self.p.eq(rd.data)
        return m


class MultiplierSquarer(_Squarer):
    """a * a on a multiplier (``hdl.multiplier.Multiplier``, two registers)."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.mult = mult = Multiplier(self.bits, self.bits, 2 * self.bits)
        m.d.comb += [mult.a.eq(self.a), mult.b.eq(self.a), self.p.eq(mult.p.as_unsigned())]
        return m


def squarer_for(bits: int, limit: int) -> _Squarer:
    """The squarer for ``bits``-wide signed operands of magnitude below ``limit``."""
    cls = TableSquarer if limit <= TABLE_LIMIT else MultiplierSquarer
    return cls(bits, limit)
