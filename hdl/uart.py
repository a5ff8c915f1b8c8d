"""8N1 UART, bit period = ``divider`` clock cycles."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "uart_divider", "RATE_TOLERANCE"]

# How far the divided clock may be from the rate: about half of what 8N1 allows both ends
# together (the stop bit's middle, 9.5 bit times on, within half a bit: about 5 %), the
# other half left to the host's bridge.
RATE_TOLERANCE = 0.02


def uart_divider(f_clk: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``f_clk``; ValueError when no divider of at
    least 4 lands within ``RATE_TOLERANCE`` of the rate."""
    divider = round(f_clk / baud)
    error = abs(f_clk / max(divider, 1) - baud) / baud
    if divider < 4 or error > RATE_TOLERANCE:
        raise ValueError(f"{baud} baud does not divide from a {f_clk / 1e6:g} MHz clock "
                         f"(divider {divider}: {100 * error:.1f} % off, "
                         f"{100 * RATE_TOLERANCE:g} % allowed)")
    return divider


def _checked(divider: int) -> int:
    if divider < 4:
        raise ValueError(f"divider must be >= 4 clock cycles per bit, not {divider}")
    return divider


class UARTRx(wiring.Component):
    """Bytes from the ``rx`` pin; a byte with a bad stop bit is dropped."""

    rx: In(1, init=1)
    o_stream: Out(stream.Signature(8))

    def __init__(self, divider: int):
        self.divider = _checked(divider)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divider
        rx = Signal(init=1)
        m.d.sync += rx.eq(self.rx)           # the pin is asynchronous: one flop (plus platform's)
        timer = Signal(range(d * 2))
        bit = Signal(range(10))
        shreg = Signal(8)
        with m.If(self.o_stream.ready):
            m.d.sync += self.o_stream.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += [timer.eq(d // 2), bit.eq(0)]
                    m.next = "START"
            with m.State("START"):          # re-check the start bit in its middle
                with m.If(timer == 0):
                    with m.If(rx):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += timer.eq(d - 1)
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq((shreg >> 1) | (rx << 7)), timer.eq(d - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o_stream.payload.eq(shreg), self.o_stream.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UARTTx(wiring.Component):
    i_stream: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divider: int):
        self.divider = _checked(divider)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divider
        timer = Signal(range(d))
        bits = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(bits[0]), self.i_stream.ready.eq(left == 0)]
        with m.If(left == 0):
            with m.If(self.i_stream.valid):
                m.d.sync += [bits.eq((1 << 9) | (self.i_stream.payload << 1)), left.eq(10),
                             timer.eq(d - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [bits.eq((bits >> 1) | (1 << 9)), left.eq(left - 1), timer.eq(d - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m
