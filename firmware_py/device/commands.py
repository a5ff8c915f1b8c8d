"""Encoding and decoding of the core's commands (sans I/O).

Each method returns a ``Command``: the words to send and a function that turns the
response's data words into Python values. Transports (simulators, the serial
link) only move words; every layout comes from ``firmware_py.contract.protocol``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import (
    COUNTERS,
    PROTOCOL_VERSION,
    STATUS_TEXT,
    CommandHeader,
    Opcode,
    ResponseHeader,
    SampleShape,
    Status,
    StreamFlags,
    carried_counters,
    carried_opcodes,
    missing_reason,
    pack,
    pack_samples,
    sample_words,
    unpack,
    unpack_samples,
)

__all__ = ["Command", "CoreCommands", "DeviceError", "NotCarried", "to_signed32",
           "response_length", "split_response", "sample_words"]

MASK32 = 0xFFFFFFFF


class DeviceError(RuntimeError):
    """The core answered a command with an error status."""

    def __init__(self, opcode, status):
        # status: a Status or LinkStatus member, or a description of an unknown code
        self.opcode, self.status = opcode, status
        name = getattr(status, "name", status)
        why = STATUS_TEXT.get(name)
        super().__init__(f"{getattr(opcode, 'name', opcode)} failed: {name}"
                         + (f" ({why})" if why else ""))


class NotCarried(ValueError):
    """A command the device's configuration does not carry: refused before it is sent."""

    def __init__(self, config, opcode):
        self.opcode = opcode
        super().__init__(f"{opcode.name}: the device cannot run it, "
                         f"{missing_reason(config, opcode)}")


def to_signed32(w: int) -> int:
    return w - (1 << 32) if w & 0x80000000 else w


def _words(values) -> list[int]:
    return [int(v) & MASK32 for v in np.asarray(values, dtype=np.int64).ravel()]


def _signed(words) -> np.ndarray:
    return np.array([to_signed32(w) for w in words], dtype=np.int64)


@dataclass
class Command:
    opcode: Opcode
    words: list[int]
    decode: Callable[[list[int]], Any] = lambda data: None


def response_length(header_word: int) -> int:
    """How many data words follow a response header."""
    return unpack(ResponseHeader, header_word)["length"]


def split_response(words: list[int]):
    """(header dict, data words) of one whole response; raises DeviceError on a bad status."""
    hdr = unpack(ResponseHeader, words[0])
    if hdr["status"] != Status.OK:
        raise DeviceError(hdr["opcode"], hdr["status"])
    return hdr, words[1:1 + hdr["length"]]


class CoreCommands:
    """Commands for one configuration (shapes are checked on the host side too)."""

    def __init__(self, config: DyadicConfig):
        self.config = config
        self.carried = carried_opcodes(config)

    def require(self, *opcodes):
        """Raise ``NotCarried`` for the first of ``opcodes`` the device does not carry: a
        job that needs them fails before it starts."""
        for opcode in opcodes:
            if opcode not in self.carried:
                raise NotCarried(self.config, opcode)

    def _cmd(self, opcode, payload=(), layer=0, decode=lambda data: None) -> Command:
        self.require(opcode)
        payload = list(payload)
        hdr = pack(CommandHeader, opcode=opcode, layer=layer, length=len(payload))
        return Command(opcode, [hdr] + payload, decode)

    def _shape(self, l):
        if not 1 <= l <= self.config.L:
            raise ValueError(f"layer {l} outside 1..{self.config.L}")
        return self.config.sizes[l], self.config.sizes[l - 1]

    def identify(self) -> Command:
        def decode(d):
            L = d[2]
            return {"version": d[0], "config_id": d[1], "L": L,
                    "sizes": tuple(d[3:4 + L]), "max_batch": d[4 + L],
                    "max_samples": d[5 + L]}
        return self._cmd(Opcode.IDENTIFY, decode=decode)

    def check_identity(self, ident: dict):
        """Raise if the device's configuration is not ours."""
        c = self.config
        if ident["version"] != PROTOCOL_VERSION:
            raise ValueError(f"protocol mismatch: device speaks version {ident['version']}, "
                             f"host speaks {PROTOCOL_VERSION}")
        if ident["config_id"] != c.config_id:
            raise ValueError(
                f"configuration mismatch: device has ID {ident['config_id']:#010x} "
                f"(sizes {'-'.join(map(str, ident['sizes']))}), host expects "
                f"{c.config_id:#010x} (sizes {'-'.join(map(str, c.sizes))})")

    def write_values(self, opcode, l, offset, values) -> Command:
        """Part of a layer's parameters or state, from element ``offset`` on."""
        self._shape(l)
        return self._cmd(opcode, [offset] + _words(values), layer=l)

    def read_values(self, opcode, l, offset, count) -> Command:
        self._shape(l)
        return self._cmd(opcode, [offset, count], layer=l, decode=_signed)

    def write_params(self, l, W, b) -> Command:
        N, M = self._shape(l)
        W, b = np.asarray(W), np.asarray(b)
        if W.shape != (N, M) or b.shape != (N,):
            raise ValueError(f"layer {l} needs W {(N, M)} and b {(N,)}")
        return self.write_values(Opcode.WRITE_PARAMS, l, 0, _words(W) + _words(b))

    def _read_pair(self, opcode, l) -> Command:
        N, M = self._shape(l)
        return self._cmd(opcode, [0, N * M + N], layer=l, decode=lambda d: (
            _signed(d[:N * M]).reshape(N, M), _signed(d[N * M:N * M + N])))

    def read_params(self, l) -> Command:
        return self._read_pair(Opcode.READ_PARAMS, l)

    def read_grads(self, l) -> Command:
        return self._read_pair(Opcode.READ_GRADS, l)

    def write_state(self, l, s, lam) -> Command:
        N, _ = self._shape(l)
        if np.shape(s) != (N,) or np.shape(lam) != (N,):
            raise ValueError(f"layer {l} state needs s and lam of shape ({N},)")
        return self.write_values(Opcode.WRITE_STATE, l, 0, _words(s) + _words(lam))

    def read_state(self, l) -> Command:
        N, _ = self._shape(l)
        return self._cmd(Opcode.READ_STATE, [0, 2 * N], layer=l,
                         decode=lambda d: (_signed(d[:N]), _signed(d[N:2 * N])))

    def write_samples(self, X, Y, first: int = 0) -> Command:
        """Samples ``first`` .. into the resident set: input codes X, target codes Y (for a
        configuration with label targets, the class of each Y row is what is stored).
        Their widths travel along, and the device refuses ones that are not its own."""
        c = self.config
        X, Y = np.atleast_2d(X), np.atleast_2d(Y)
        if len(X) != len(Y):
            raise ValueError(f"{len(X)} inputs but {len(Y)} targets")
        shape = pack(SampleShape, inputs=X.shape[1], outputs=Y.shape[1])
        return self._cmd(Opcode.WRITE_SAMPLES, [first, len(X), shape] + pack_samples(c, X, Y))

    def read_samples(self, first: int, count: int) -> Command:
        """(X, T) of resident samples ``first`` .. ``first + count - 1`` (T: target codes,
        or class labels), a value a word."""
        return self._cmd(Opcode.READ_SAMPLES, [first, count],
                         decode=lambda d: unpack_samples(self.config, d, count))

    def relax(self, ticks: int, dt_shift: int = 0, sample: int = 0) -> Command:
        return self._cmd(Opcode.RELAX, [sample, ticks, dt_shift])

    def stream(self, batch: int, update: bool = False, lr_shift: int = 0,
               first: int = 0) -> Command:
        return self._cmd(Opcode.STREAM, [first, batch, pack(StreamFlags, update=int(update),
                                                             lr_shift=lr_shift)])

    def train(self, first: int, count: int, batch: int, lr_shift: int, orders) -> Command:
        """Epochs of SGD over resident samples ``first`` .. ``first + count - 1``: one per
        (stride, offset) in ``orders`` (see ``firmware_py.model.training.epoch_order``)."""
        plan = [v for pair in orders for v in pair]
        return self._cmd(Opcode.TRAIN, [first, count, batch,
                                        pack(StreamFlags, update=1, lr_shift=lr_shift),
                                        len(orders)] + plan)

    def evaluate(self, first: int, count: int) -> Command:
        """(correct predictions, summed squared output error in code units) over resident
        samples ``first`` .. ``first + count - 1``."""
        return self._cmd(Opcode.EVALUATE, [first, count],
                         decode=lambda d: (d[0], d[1] | (d[2] << 32)))

    def read_counters(self) -> Command:
        kept = carried_counters(self.config)
        return self._cmd(Opcode.READ_COUNTERS, decode=lambda d: {
            name: v for name, v in zip(COUNTERS, d) if name in kept})

    def clear_counters(self) -> Command:
        return self._cmd(Opcode.CLEAR_COUNTERS)
