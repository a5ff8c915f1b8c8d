"""The gradient unit: one lane's accumulator step, G <- sat(G + p)."""

from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import Retiming

from ..fixed import saturate
from .delay import delayed

__all__ = ["GradientUnit"]


class GradientUnit(wiring.Component):
    """``g_new`` = sat_grad(``g`` + ``p``), ``rt.writeback`` cycles on; ``saturated`` with it
    (``FixedArith.accumulate``). ``p`` is the lane's product d x s, already in the
    gradient's fraction (sens.frac + act.frac)."""

    def __init__(self, config: DyadicConfig, rt: Retiming, p_bits: int):
        self.config, self.rt = config, rt
        super().__init__({"g": In(signed(config.grad_bits)), "p": In(signed(p_bits)),
                          "g_new": Out(signed(config.grad_bits)), "saturated": Out(1)})

    def elaborate(self, platform):
        m = Module()
        # registered before the saturation (see update.py)
        total = delayed(m, self.g + self.p, self.rt.writeback, "g_sum")
        value, sat = saturate(total, self.config.grad)
        m.d.comb += [self.g_new.eq(value), self.saturated.eq(sat)]
        return m
