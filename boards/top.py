"""What a board carries: its PLL, the UART and the accelerator behind it."""

from amaranth.hdl import ClockDomain, Module
from amaranth.lib import io, wiring

from boards.pll import ECP5PLL, ICE40PLL, DirectClock
from firmware_py.contract.config import DyadicConfig
from hdl.top import DyadicUART
from hdl.uart import uart_divider

__all__ = ["BoardTop", "PLLS"]


# clock generator per family; ``PLLS[f].solve(f_in, f_req)`` checks a clock up front
PLLS = {"ice40": ICE40PLL, "ecp5": ECP5PLL, "gowin": DirectClock}


class BoardTop(wiring.Component):
    """PLL from the board oscillator -> ``sync``; UART pins -> ``DyadicUART``."""

    def __init__(self, family: str, config: DyadicConfig, clock_mhz: float, f_in: float,
                 baud: int):
        """``f_in``: the board oscillator (check the clock with ``PLLS`` first); ``baud``:
        the UART's rate (ValueError if the clock does not divide to it)."""
        self.family, self.config = family, config
        self.f_clk = PLLS[family].solve(f_in, clock_mhz * 1e6).f_out
        self.baud, self.divider = baud, uart_divider(self.f_clk, baud)
        self.pll = PLLS[family](f_in, clock_mhz * 1e6)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")   # clocked and reset by the PLL
        clk_port = platform.request(platform.default_clk, dir="-")
        m.submodules.pll = pll = self.pll
        pll.take_clock(m, clk_port)     # an iCE40 PLL takes the pin itself (boards/pll.py)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.submodules.acc = acc = DyadicUART(self.config, divider=self.divider)
        m.d.comb += [acc.rx.eq(rx.i), tx.o.eq(acc.tx)]
        return m
