"""Framed command link: bytes in, core command words out, and back.

A command frame is buffered whole and executed only when its CRC and sequence
number are right, so a damaged, cut or repeated frame changes nothing. Every frame
gets one response frame: an ACK with the core's data, or a NAK with a reason
(``LinkStatus``). Frame format and CRC: ``firmware_py.contract.protocol``.
"""

from contextlib import contextmanager

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.protocol import (
    FRAME_CRC,
    SOF_COMMAND,
    SOF_RESPONSE,
    CommandHeader,
    LinkStatus,
    Opcode,
    ResponseHeader,
)

__all__ = ["Framer", "FRAME_BUFFER"]

# The frame buffer's memory: written while a frame arrives and read while it is handed on,
# never both, so an iCE40 build declares a collision undefined (boards/build.py).
FRAME_BUFFER = "buf"


class Framer(wiring.Component):
    """Frames on ``i_rx``/``o_tx`` (bytes) <-> command words on ``o_cmd``/``i_rsp``.

    ``max_words`` sizes the frame buffer; a frame idle for ``timeout`` cycles between
    two bytes is dropped (a frame cut by a reset of the host).
    """

    i_rx: In(stream.Signature(8))
    o_tx: Out(stream.Signature(8))
    o_cmd: Out(stream.Signature(32))
    i_rsp: In(stream.Signature(32))
    idle: Out(1)

    def __init__(self, max_words: int = 512, timeout: int = 100_000):
        self.max_words, self.timeout = max_words, timeout
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules[FRAME_BUFFER] = buf = Memory(shape=32, depth=self.max_words, init=[])
        # payload bytes go straight to their byte lane (no word assembly register)
        wr, rd = buf.write_port(granularity=8), buf.read_port()

        seq = Signal(8)
        opcode = Signal(8)
        layer = Signal(8)
        length = Signal(16)
        # the CRC of SEQ .. the CRC bytes: its residue says the frame is whole
        m.submodules.rx_crc = rx_crc = FRAME_CRC.create()
        count = Signal(3)                   # byte within the header, word or CRC
        widx = Signal(16)
        too_long = Signal()
        last_seq = Signal(8)
        have_last = Signal()
        idle_timer = Signal(range(self.timeout + 1))
        nak = Signal(8)                     # LinkStatus of a NAK to send, 0 = none
        byte = self.i_rx.payload
        take = self.i_rx.valid & self.i_rx.ready
        m.d.comb += rx_crc.data.eq(byte)

        # transmit side requests
        tx_nak = Signal()
        tx_done = Signal()
        # inter-byte timeout while a frame is arriving: the frame is dropped
        receiving = Signal()
        timed_out = Signal()
        m.d.comb += timed_out.eq(receiving & ~take & (idle_timer == self.timeout))
        with m.If(receiving & ~take & ~timed_out):
            m.d.sync += idle_timer.eq(idle_timer + 1)

        @contextmanager
        def frame_byte():
            """A state taking a frame's bytes: a frame idle too long is dropped; the body
            runs on each byte, which the CRC sees and which restarts the idle timer."""
            m.d.comb += [self.i_rx.ready.eq(1), receiving.eq(1)]
            with m.If(timed_out):
                m.next = "IDLE"
            with m.If(take):
                m.d.comb += rx_crc.valid.eq(1)
                m.d.sync += [count.eq(count + 1), idle_timer.eq(0)]
                yield

        with m.FSM(name="rx"):
            with m.State("IDLE"):
                m.d.comb += [self.i_rx.ready.eq(1), self.idle.eq(1)]
                with m.If(take & (byte == SOF_COMMAND)):
                    m.d.comb += rx_crc.start.eq(1)
                    m.d.sync += [count.eq(0), idle_timer.eq(0)]
                    m.next = "HEADER"
            with m.State("HEADER"), frame_byte():
                with m.Switch(count):
                    with m.Case(0):
                        m.d.sync += seq.eq(byte)
                    with m.Case(1):
                        m.d.sync += opcode.eq(byte)
                    with m.Case(2):
                        m.d.sync += layer.eq(byte)
                    with m.Case(3):
                        m.d.sync += length[:8].eq(byte)
                    with m.Case(4):
                        full = Cat(length[:8], byte)
                        m.d.sync += [length[8:].eq(byte), count.eq(0), widx.eq(0),
                                     too_long.eq(full > self.max_words)]
                        with m.If(full > self.max_words):
                            # Likely a damaged length: answer now and hunt for the next
                            # frame, rather than swallow what follows as payload.
                            m.d.sync += nak.eq(LinkStatus.TOO_LONG.value)
                            m.next = "NAK"
                        with m.Elif((byte == 0) & (length[:8] == 0)):
                            m.next = "CRC"
                        with m.Else():
                            m.next = "PAYLOAD"
            with m.State("PAYLOAD"), frame_byte():
                # little-endian: byte k of a word is bits 8k..8k+7
                m.d.comb += [wr.addr.eq(widx), wr.data.eq(byte.replicate(4)),
                             wr.en.eq(Mux(~too_long & (widx < self.max_words),
                                          Const(1, 4) << count[:2], 0))]
                with m.If(count[:2] == 3):
                    m.d.sync += widx.eq(widx + 1)
                    with m.If(widx + 1 == length):
                        m.d.sync += count.eq(0)
                        m.next = "CRC"
            with m.State("CRC"), frame_byte():
                with m.If(count == 1):
                    m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(~rx_crc.match_detected):
                    m.d.sync += nak.eq(LinkStatus.BAD_CRC.value)
                    m.next = "NAK"
                with m.Elif(too_long):
                    m.d.sync += nak.eq(LinkStatus.TOO_LONG.value)
                    m.next = "NAK"
                with m.Elif(opcode == Opcode.RESET.value):
                    m.d.sync += [last_seq.eq(seq), have_last.eq(1), nak.eq(LinkStatus.ACK.value)]
                    m.next = "NAK"          # an ACK with no data, from the link itself
                with m.Elif(have_last & (seq == last_seq)):
                    m.d.sync += nak.eq(LinkStatus.DUPLICATE.value)
                    m.next = "NAK"
                with m.Elif(have_last & (seq != (last_seq + 1)[:8])):
                    m.d.sync += nak.eq(LinkStatus.BAD_SEQ.value)
                    m.next = "NAK"
                with m.Else():
                    m.d.sync += [last_seq.eq(seq), have_last.eq(1), widx.eq(0)]
                    m.next = "SEND_HEADER"
            with m.State("NAK"):
                m.d.comb += tx_nak.eq(1)
                with m.If(tx_done):
                    m.next = "IDLE"
            with m.State("SEND_HEADER"):
                cmd = CommandHeader(self.o_cmd.payload)
                m.d.comb += [self.o_cmd.valid.eq(1), cmd.opcode.eq(opcode), cmd.layer.eq(layer),
                             cmd.length.eq(length)]
                with m.If(self.o_cmd.ready):
                    with m.If(length == 0):
                        m.next = "WAIT"
                    with m.Else():
                        m.next = "SEND_ADDR"
            with m.State("SEND_ADDR"):            # memory read latency: address, then data
                m.d.comb += rd.addr.eq(widx)
                m.next = "SEND_DATA"
            with m.State("SEND_DATA"):
                m.d.comb += [rd.addr.eq(widx), self.o_cmd.valid.eq(1),
                             self.o_cmd.payload.eq(rd.data)]
                with m.If(self.o_cmd.ready):
                    m.d.sync += widx.eq(widx + 1)
                    with m.If(widx + 1 == length):
                        m.next = "WAIT"
                    with m.Else():
                        m.next = "SEND_ADDR"
            with m.State("WAIT"):                 # the transmitter frames the core's response
                with m.If(tx_done):
                    m.next = "IDLE"

        # -- transmitter --------------------------------------------------------------------
        m.submodules.tx_crc = tx_crc = FRAME_CRC.create()
        t_status = Signal(8)
        t_op = Signal(8)
        t_len = Signal(16)
        t_idx = Signal(3)                   # byte within the header, word or CRC
        t_word = Signal(32)     # the response word being sent (the core's read path ends here)
        t_left = Signal(16)
        tx_byte = self.o_tx.payload
        sent = self.o_tx.valid & self.o_tx.ready
        m.d.comb += tx_crc.data.eq(tx_byte)
        rsp = ResponseHeader(self.i_rsp.payload)
        with m.FSM(name="tx"):
            with m.State("IDLE"):
                with m.If(tx_nak):
                    m.d.sync += [t_status.eq(nak), t_op.eq(opcode), t_len.eq(0)]
                    m.next = "SOF"
                with m.Elif(self.i_rsp.valid):
                    m.d.comb += self.i_rsp.ready.eq(1)
                    m.d.sync += [t_status.eq(rsp.status), t_op.eq(rsp.opcode),
                                 t_len.eq(rsp.length)]
                    m.next = "SOF"
            with m.State("SOF"):
                m.d.comb += [self.o_tx.valid.eq(1), tx_byte.eq(SOF_RESPONSE)]
                with m.If(sent):
                    m.d.comb += tx_crc.start.eq(1)
                    m.d.sync += t_idx.eq(0)
                    m.next = "HEADER"
            with m.State("HEADER"):
                fields = [seq, t_status, t_op, t_len[:8], t_len[8:]]
                m.d.comb += self.o_tx.valid.eq(1)
                with m.Switch(t_idx):
                    for k, f in enumerate(fields):
                        with m.Case(k):
                            m.d.comb += tx_byte.eq(f)
                with m.If(sent):
                    m.d.comb += tx_crc.valid.eq(1)
                    m.d.sync += t_idx.eq(t_idx + 1)
                    with m.If(t_idx == len(fields) - 1):
                        m.d.sync += [t_idx.eq(0), t_left.eq(t_len)]
                        with m.If(t_len == 0):
                            m.next = "CRC"
                        with m.Else():
                            m.next = "DATA_WORD"
            with m.State("DATA_WORD"):
                m.d.comb += self.i_rsp.ready.eq(1)
                with m.If(self.i_rsp.valid):
                    m.d.sync += [t_word.eq(self.i_rsp.payload), t_idx.eq(0)]
                    m.next = "DATA_BYTES"
            with m.State("DATA_BYTES"):
                m.d.comb += [self.o_tx.valid.eq(1), tx_byte.eq(t_word.word_select(t_idx[:2], 8))]
                with m.If(sent):
                    m.d.comb += tx_crc.valid.eq(1)
                    m.d.sync += t_idx.eq(t_idx + 1)
                    with m.If(t_idx[:2] == 3):
                        m.d.sync += t_left.eq(t_left - 1)
                        with m.If(t_left == 1):
                            m.d.sync += t_idx.eq(0)
                            m.next = "CRC"
                        with m.Else():
                            m.next = "DATA_WORD"
            with m.State("CRC"):
                m.d.comb += [self.o_tx.valid.eq(1),
                             tx_byte.eq(Mux(t_idx == 0, tx_crc.crc[8:], tx_crc.crc[:8]))]
                with m.If(sent):
                    m.d.sync += t_idx.eq(t_idx + 1)
                    with m.If(t_idx == 1):
                        m.d.comb += tx_done.eq(1)
                        m.next = "IDLE"
        return m
