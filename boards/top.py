"""What a board carries: its PLL, the UART and the accelerator behind it."""

from amaranth.hdl import ClockDomain, Module
from amaranth.lib import io, wiring

from firmware_py.config import DyadicConfig
from hdl.top import DyadicUART

from .pll import ECP5PLL, ICE40PLL

__all__ = ["BoardTop", "BAUD"]

BAUD = 115_200          # the host side's default (firmware_py.transport.SerialTransport)


class BoardTop(wiring.Component):
    """PLL from the board oscillator -> ``sync``; UART pins -> ``DyadicUART``."""

    def __init__(self, family: str, config: DyadicConfig, clock_mhz: float):
        self.family, self.config, self.clock_mhz = family, config, clock_mhz
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")   # clocked and reset by the PLL
        m.submodules.clk_buf = clk = io.Buffer("i", platform.request(platform.default_clk,
                                                                     dir="-"))
        f_in = platform.default_clk_frequency
        pll_cls = {"ice40": ICE40PLL, "ecp5": ECP5PLL}[self.family]
        m.submodules.pll = pll = pll_cls(f_in, self.clock_mhz * 1e6)
        m.d.comb += pll.clk_in.eq(clk.i)
        self.f_clk = pll.f_out
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.submodules.acc = acc = DyadicUART(self.config, divider=round(pll.f_out / BAUD))
        m.d.comb += [acc.rx.eq(rx.i), tx.o.eq(acc.tx)]
        return m
