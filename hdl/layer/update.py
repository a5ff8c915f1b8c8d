"""The SGD step on the lane's multiplier: W <- sat(W - rshift_round(G, s)).

The multiplier is the learning-rate shifter. With S = grad_bits - 1 it forms
p = G x B, B = -2^(S - s) (0 for s > S, where the rounded step of any G is 0), and
W - rshift_round(G, s) == (W 2^S + 2^(S-1) - 1 + p) >> S exactly: the rounding constant
only decides a carry out of p's low bits, so the step is one short adder and a saturation
per lane, and one B per cell. (tests/layer checks it for every 18-bit G.)
"""

from amaranth.hdl import Array, Const, Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import Retiming

from ..fixed import saturate
from .delay import delayed

__all__ = ["ArrayUpdate", "ShiftOperand", "shift_operand", "step_shift"]


def step_shift(config: DyadicConfig, lr_step: int) -> int:
    """s for a learning rate 2^-lr_step: ``FixedArith.update``'s right shift of G."""
    return config.grad_frac - config.master.frac + lr_step


def shift_operand(config: DyadicConfig, s: int) -> int:
    """The multiplier operand B that makes G x B the step for shift s."""
    top = config.grad_bits - 1
    return -(1 << (top - s)) if 0 <= s <= top else 0


class ShiftOperand(wiring.Component):
    """B for a run-time shift ``s`` (one per cell, registered: s is set once per run)."""

    def __init__(self, config: DyadicConfig, max_shift: int):
        self.config = config
        self.table = [shift_operand(config, s) for s in range(max_shift + 1)]
        super().__init__({"s": In(range(max_shift + 1)),
                          "b": Out(signed(config.grad_bits))})

    def elaborate(self, platform):
        m = Module()
        table = Array(Const(v, signed(self.config.grad_bits)) for v in self.table)
        m.d.sync += self.b.eq(table[self.s])
        return m


class ArrayUpdate(wiring.Component):
    """``w_new`` = sat_master(``w`` - rshift_round(G, s)) from ``p`` = G x B, ``rt.writeback``
    cycles on, with ``saturated`` (counted as ``weight``)."""

    def __init__(self, config: DyadicConfig, rt: Retiming, p_bits: int):
        self.config, self.rt = config, rt
        super().__init__({"w": In(signed(config.master.bits)), "p": In(signed(p_bits)),
                          "w_new": Out(signed(config.master.bits)), "saturated": Out(1)})

    def elaborate(self, platform):
        m = Module()
        c = self.config
        top = c.grad_bits - 1
        # (W 2^S + 2^(S-1) - 1 + p) >> S: the low S bits only carry, when they exceed
        # 2^(S-1) (a wide OR, not an S-bit carry chain); the top is one short adder
        low = self.p[:top]
        carry = low[top - 1] & low[:top - 1].any()
        high = self.p[top:top + c.grad_bits + 1].as_signed()
        # registered before the saturation: in one cone with the adder's carry chain,
        # synthesis spends four times the LUTs on the pair (yosys 0.70, ECP5)
        total = delayed(m, self.w + high + carry, self.rt.writeback, "w_sum")
        value, sat = saturate(total, c.master)
        m.d.comb += [self.w_new.eq(value), self.saturated.eq(sat)]
        return m
