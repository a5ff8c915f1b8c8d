"""Top levels: the core behind the framed link, on a byte stream or on a UART."""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from .core import DyadicCore
from .framer import Framer
from .streams import HalfRateBuffer, StreamRegister
from .uart import UARTRx, UARTTx

__all__ = ["DyadicLink", "DyadicUART"]


class DyadicLink(wiring.Component):
    """Core + framer with byte streams: what the simulator transport talks to."""

    i_rx: In(stream.Signature(8))
    o_tx: Out(stream.Signature(8))
    idle: Out(1)

    def __init__(self, config: DyadicConfig, timeout=100_000):
        self.config, self.timeout = config, timeout
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = DyadicCore(self.config)
        m.submodules.framer = framer = Framer(self.config.frame_words, self.timeout)
        if self.config.pipeline:
            # the frame buffer's block RAM output is slow (about 5.6 ns on an ECP5): a
            # register stage keeps it off the core's command decode
            m.submodules.cmd_reg = cmd_reg = StreamRegister(32)
            wiring.connect(m, framer.o_cmd, cmd_reg.i)
            wiring.connect(m, cmd_reg.o, core.i_cmd)
            # and responses reach the framer from flip-flops: none of the core's read paths
            # (counters, samples, evaluation results) goes on into the framer's logic
            m.submodules.rsp_reg = rsp_reg = HalfRateBuffer(32)
            wiring.connect(m, core.o_rsp, rsp_reg.i)
            wiring.connect(m, rsp_reg.o, framer.i_rsp)
        else:
            wiring.connect(m, framer.o_cmd, core.i_cmd)
            wiring.connect(m, core.o_rsp, framer.i_rsp)
        wiring.connect(m, wiring.flipped(self.i_rx), framer.i_rx)
        wiring.connect(m, framer.o_tx, wiring.flipped(self.o_tx))
        m.d.comb += self.idle.eq(framer.idle)
        return m


class DyadicUART(wiring.Component):
    """Core + framer + 8N1 UART at clock / ``divider`` baud: what a board carries."""

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, config: DyadicConfig, divider: int, timeout=None):
        self.config, self.divider = config, divider
        # drop a frame after ~10 idle byte times
        self.timeout = timeout if timeout is not None else 100 * divider
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = DyadicLink(self.config, self.timeout)
        m.submodules.uart_rx = urx = UARTRx(self.divider)
        m.submodules.uart_tx = utx = UARTTx(self.divider)
        wiring.connect(m, urx.o_stream, link.i_rx)
        wiring.connect(m, link.o_tx, utx.i_stream)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        return m
