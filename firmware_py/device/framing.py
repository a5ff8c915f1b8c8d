"""Frames of the byte link (host side); the format: ``firmware_py.contract.protocol``."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_py.contract.protocol import (
    FRAME_CRC,
    FRAME_HEADER_BYTES,
    SOF_COMMAND,
    SOF_RESPONSE,
    LinkStatus,
    Opcode,
)

__all__ = ["encode_command", "Response", "ResponseParser", "FrameError", "crc16",
           "ROUND_TRIP_SECONDS", "link_seconds"]

# An FTDI bridge hands received bytes to the host when its latency timer runs out: at
# its lowest, 1 ms, once for every command that waits for its answer.
ROUND_TRIP_SECONDS = 1e-3


def link_seconds(link_bytes: int, round_trips: int, baud: int) -> float:
    """Wall time of a session's link traffic: line time at 8N1 (10 bits a byte) plus the
    bridge's latency on every round trip."""
    return link_bytes * 10 / baud + round_trips * ROUND_TRIP_SECONDS

def crc16(data: bytes) -> int:
    """FRAME_CRC of ``data``, as the gateware computes it (``amaranth.lib.crc``)."""
    return FRAME_CRC.compute(data)


class FrameError(ValueError):
    """A response frame is damaged (bad CRC or malformed)."""


def encode_command(seq: int, opcode, layer: int, words) -> bytes:
    op = opcode.value if isinstance(opcode, Opcode) else int(opcode)
    body = bytes([seq & 0xFF, op & 0xFF, layer & 0xFF]) + struct.pack("<H", len(words))
    body += b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in words)
    return bytes([SOF_COMMAND]) + body + struct.pack(">H", crc16(body))


@dataclass
class Response:
    seq: int
    status: int
    opcode: int
    data: list[int]

    @property
    def link_status(self) -> LinkStatus | None:
        try:
            return LinkStatus(self.status)
        except ValueError:
            return None


class ResponseParser:
    """Feed bytes; yields whole responses. Bytes before a start-of-frame are skipped."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes):
        self.buf += data

    def next(self) -> Response | None:
        """The next whole response, None if more bytes are needed; FrameError if damaged."""
        start = self.buf.find(bytes([SOF_RESPONSE]))
        if start < 0:
            self.buf.clear()
            return None
        del self.buf[:start]
        if len(self.buf) < 1 + FRAME_HEADER_BYTES:
            return None
        seq, status, opcode, length = struct.unpack("<BBBH", self.buf[1:1 + FRAME_HEADER_BYTES])
        total = 1 + FRAME_HEADER_BYTES + 4 * length + 2
        if len(self.buf) < total:
            return None
        body = bytes(self.buf[1:total - 2])
        (crc,) = struct.unpack(">H", self.buf[total - 2:total])
        if crc16(body) != crc:
            del self.buf[:1]    # resynchronise on the next start byte
            raise FrameError("response frame with a bad CRC")
        data = list(struct.unpack(f"<{length}I", body[FRAME_HEADER_BYTES:]))
        del self.buf[:total]
        return Response(seq, status, opcode, data)
