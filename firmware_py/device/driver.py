"""The host driver of the accelerator: a documented API over any byte transport."""

from __future__ import annotations

import time

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.cycles import epoch_cycles, eval_cycles, relax_cycles, stream_cycles
from firmware_py.contract.protocol import (
    MAX_EPOCHS,
    CommandHeader,
    LinkStatus,
    Opcode,
    sample_lanes,
    unpack,
)

from .commands import Command, CoreCommands, DeviceError
from .framing import FrameError, ResponseParser, encode_command
from .transport import Transport

__all__ = ["Accelerator", "LinkError"]

# Statuses after which the same frame is simply sent again.
_TRANSIENT = {LinkStatus.BAD_CRC}
# Commands whose response carries no data: a DUPLICATE means "already done".
_NO_DATA = {Opcode.WRITE_PARAMS, Opcode.WRITE_STATE, Opcode.WRITE_SAMPLES, Opcode.RELAX,
            Opcode.STREAM, Opcode.TRAIN, Opcode.CLEAR_COUNTERS, Opcode.RESET}


class LinkError(RuntimeError):
    """The link gave no valid answer within the retry budget."""


class Accelerator:
    """A dyadic accelerator (board or simulator) behind a ``Transport``.

    Parameters
    ----------
    transport : Transport
        Byte pipe to the device: ``SerialTransport``, ``SimTransport``, ...
    config : DyadicConfig
        The configuration the host expects; checked against the device's ID.
    timeout : float
        Seconds to wait for a response frame before retrying; a run waits longer, by its
        cycles over the transport's ``slowest_cycles_per_second``.
    retries : int
        Extra attempts after a timeout, a damaged response or a NAK for a damaged command.

    Raises
    ------
    ValueError
        The device's configuration is not ``config`` (the message shows both).
    LinkError
        No valid response within the retry budget.
    """

    def __init__(self, transport: Transport, config: DyadicConfig, *, timeout=2.0, retries=3,
                 check=True):
        self.transport, self.config = transport, config
        self.timeout, self.retries = timeout, retries
        self.cmds = CoreCommands(config)
        self.parser = ResponseParser()
        self.seq = 0
        self.stats = {"frames": 0, "retries": 0, "bytes_out": 0, "bytes_in": 0,
                      "round_trips": 0}
        self.resync()
        if check:
            self.cmds.check_identity(self.identify())

    @classmethod
    def open(cls, transport: Transport, config: DyadicConfig, **kw) -> Accelerator:
        """An accelerator that owns ``transport``: closed here if the device cannot be
        reached or is not the one configured, else by ``close``."""
        try:
            return cls(transport, config, **kw)
        except BaseException:
            transport.close()
            raise

    # -- link ------------------------------------------------------------------------------
    def resync(self):
        """Resynchronise the sequence numbers (a RESET frame)."""
        self._exchange(Opcode.RESET, 0, [], lambda d: None, reset=True)

    def _await(self, seq, timeout):
        end = time.monotonic() + timeout
        while True:
            r = self.parser.next()
            if r is not None:
                if r.seq == seq:
                    return r
                continue                      # a stale response to an earlier attempt
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError
            data = self.transport.read(min(left, 0.05))
            self.stats["bytes_in"] += len(data)
            self.parser.feed(data)

    def _exchange(self, opcode, layer, words, decode, reset=False, cycles=0):
        problem = None
        timeout = self.timeout + cycles / self.transport.slowest_cycles_per_second
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["retries"] += 1
            # RESET makes its own number the last one seen, so it carries seq - 1 and the
            # command that follows goes out under the current number.
            seq = (self.seq - 1) & 0xFF if reset else self.seq
            frame = encode_command(seq, opcode, layer, words)
            self.transport.write(frame)
            self.stats["frames"] += 1
            self.stats["round_trips"] += 1
            self.stats["bytes_out"] += len(frame)
            try:
                r = self._await(seq, timeout)
            except TimeoutError:
                # whatever partial frame is buffered (e.g. behind a damaged length) is lost
                self.parser = ResponseParser()
                problem = f"no response within {timeout:.1f} s"
                continue
            except FrameError as e:
                problem = str(e)
                continue
            status = r.link_status
            if status == LinkStatus.ACK:
                self.seq = (seq + 1) & 0xFF
                return decode(r.data)
            if reset:
                problem = f"RESET answered with status {r.status:#x}"
                continue
            if status in _TRANSIENT:
                problem = f"the device received a damaged frame ({status.name})"
                continue
            if status == LinkStatus.DUPLICATE:
                # executed before, its response was lost: commands without data are done;
                # a read is asked again under a new number (reads change nothing)
                self.seq = (seq + 1) & 0xFF
                if opcode in _NO_DATA:
                    return None
                problem = "response lost; asking again"
                continue
            if status == LinkStatus.BAD_SEQ and not reset:
                problem = "sequence numbers out of step; resynchronised"
                self._exchange(Opcode.RESET, 0, [], lambda d: None, reset=True)
                continue
            self.seq = (seq + 1) & 0xFF
            raise DeviceError(opcode, status or f"status {r.status:#x}")
        raise LinkError(f"{getattr(opcode, 'name', opcode)}: no valid response after "
                        f"{self.retries + 1} attempts ({problem})")

    def run(self, cmd: Command, cycles: int = 0):
        """Send one core command (see ``CoreCommands``) and return its decoded answer;
        ``cycles``: what it keeps the device busy for (it lengthens the timeout)."""
        h = unpack(CommandHeader, cmd.words[0])
        return self._exchange(h["opcode"], h["layer"], cmd.words[1:], cmd.decode,
                              cycles=cycles)

    def link_stats(self) -> dict:
        """Bytes sent and received, and command round trips, since the link opened."""
        return dict(self.stats)

    # -- the API ------------------------------------------------------------------------------
    def identify(self) -> dict:
        """Protocol version, configuration ID, L, sizes and max_batch of the device."""
        return self.run(self.cmds.identify())

    def _chunks(self, n, per):
        for start in range(0, n, per):
            yield start, min(per, n - start)

    def write_params(self, l: int, W, b):
        """Load layer l's weights and biases (master codes, see FixedArith.params)."""
        values = np.concatenate([np.asarray(W, dtype=np.int64).ravel(),
                                 np.asarray(b, dtype=np.int64)])
        per = self.config.frame_words - 1
        for start, n in self._chunks(len(values), per):
            self.run(self.cmds.write_values(Opcode.WRITE_PARAMS, l, start,
                                            values[start:start + n]))

    def _read_all(self, opcode, l, total):
        parts = [self.run(self.cmds.read_values(opcode, l, start, n))
                 for start, n in self._chunks(total, 4096)]
        return np.concatenate(parts)

    def read_params(self, l: int):
        """(W, b) of layer l as master codes."""
        N, M = self.config.sizes[l], self.config.sizes[l - 1]
        v = self._read_all(Opcode.READ_PARAMS, l, N * M + N)
        return v[:N * M].reshape(N, M), v[N * M:]

    def read_grads(self, l: int):
        """(G_W, G_b) of layer l (grad format codes)."""
        N, M = self.config.sizes[l], self.config.sizes[l - 1]
        v = self._read_all(Opcode.READ_GRADS, l, N * M + N)
        return v[:N * M].reshape(N, M), v[N * M:]

    def write_state(self, l: int, s, lam):
        self.run(self.cmds.write_state(l, s, lam))

    def read_state(self, l: int):
        """(s, lam) of layer l."""
        return self.run(self.cmds.read_state(l))

    def write_samples(self, X, Y, first: int = 0):
        """Resident samples ``first`` .. (input and target codes), packed, in as many
        frames as needed. With label targets the device keeps each target's class.

        Raises
        ------
        DeviceError
            The device refused them: NO_ROOM (more than it holds), NOT_RESIDENT (``first``
            leaves a gap after the resident set), BAD_SHAPE (not the network's widths).
        """
        c = self.config
        per = max(1, (c.frame_words - 3) * 4 // c.record_bytes)
        for start, n in self._chunks(len(X), per):
            self.run(self.cmds.write_samples(X[start:start + n], Y[start:start + n],
                                             first + start))

    def read_samples(self, first: int, count: int):
        """(X, T) of resident samples: input codes, and target codes or class labels."""
        per = max(1, 4096 // sample_lanes(self.config))
        parts = [self.run(self.cmds.read_samples(first + start, n))
                 for start, n in self._chunks(count, per)]
        return tuple(np.concatenate(p) for p in zip(*parts))

    def relax(self, ticks: int, dt_shift: int = 0, sample: int = 0):
        """Relaxation on resident sample ``sample`` for ``ticks`` ticks at dt = 2^-dt_shift,
        then a read-out."""
        self.run(self.cmds.relax(ticks, dt_shift, sample),
                 relax_cycles(self.config, ticks).cycles)

    def stream(self, batch: int, update: bool = True, lr_shift: int = 0, first: int = 0):
        """A streaming batch over resident samples ``first`` .. ``first + batch - 1``; SGD
        step W -= 2^-lr_shift G if ``update``."""
        self.run(self.cmds.stream(batch, update, lr_shift, first),
                 stream_cycles(self.config, batch, update).cycles)

    def train(self, first: int, count: int, batch: int, lr_shift: int, orders):
        """Epochs of SGD on the device over resident samples ``first`` ..
        ``first + count - 1``, one per (stride, offset) of ``orders``, in batches of
        ``batch`` (the last one shorter); the weights stay on the device."""
        orders = list(orders)
        for start, n in self._chunks(len(orders), MAX_EPOCHS):
            self.run(self.cmds.train(first, count, batch, lr_shift, orders[start:start + n]),
                     n * epoch_cycles(self.config, count, batch))

    def evaluate(self, first: int, count: int) -> tuple[int, int]:
        """(correct predictions, summed squared output error in activation-code units)
        over resident samples ``first`` .. ``first + count - 1``, on the device."""
        return self.run(self.cmds.evaluate(first, count), eval_cycles(self.config, count).cycles)

    def read_counters(self) -> dict:
        return self.run(self.cmds.read_counters())

    def clear_counters(self):
        self.run(self.cmds.clear_counters())

    def load_network(self, params):
        """Write (Ws, bs) master codes of every layer."""
        for l, (W, b) in enumerate(zip(*params), 1):
            self.write_params(l, W, b)

    def read_network(self):
        """(Ws, bs) master codes of every layer, read back."""
        pairs = [self.read_params(l) for l in range(1, self.config.L + 1)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def close(self):
        self.transport.close()

