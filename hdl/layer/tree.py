"""A pipelined adder tree: a row's or a column's products summed, ``registers`` registers
spread evenly over its levels (the last one at its output)."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.retiming import adder_levels

__all__ = ["AdderTree"]


class AdderTree(wiring.Component):
    """``total`` = the sum of ``n`` signed ``bits``-wide inputs, ``registers`` cycles on."""

    def __init__(self, n: int, bits: int, registers: int):
        self.n, self.bits, self.registers = n, bits, registers
        self.levels = adder_levels(n)
        super().__init__({"inputs": In(data.ArrayLayout(signed(bits), n)),
                          "total": Out(signed(bits + self.levels))})

    def registers_after(self) -> list[int]:
        """How many registers follow each level (level 0: the inputs themselves): the
        output's first, then spread back evenly."""
        r, lv = self.registers, self.levels
        counts = [0] * (lv + 1)
        for k in range(r):
            counts[lv - (lv * k) // r] += 1
        return counts

    def elaborate(self, platform):
        m = Module()
        values = [self.inputs[k] for k in range(self.n)]
        for level, count in enumerate(self.registers_after()):
            if level:
                values = [values[k] + values[k + 1] if k + 1 < len(values) else values[k]
                          for k in range(0, len(values), 2)]
            for r in range(count):
                regs = [Signal(signed(self.bits + level), name=f"l{level}r{r}_{k}", reset_less=True)
                        for k in range(len(values))]
                m.d.sync += [g.eq(v) for g, v in zip(regs, values)]
                values = regs
        m.d.comb += self.total.eq(values[0])
        return m
