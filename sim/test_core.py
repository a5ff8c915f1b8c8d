"""cocotb testbench of the generated core Verilog against the golden model.

Environment: DYADIC_CONFIG (configuration JSON), DYADIC_SEED, DYADIC_CASES
(random cases per test), DYADIC_IDLE / DYADIC_BACKPRESSURE (probabilities of an
idle cycle on the command stream / of not being ready on the response stream).
"""

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from firmware_py.commands import CoreCommands, split_response
from firmware_py.config import DyadicConfig
from sim import scenarios


class CoreTB:
    """Owns clock and reset; drives i_cmd with idle gaps, takes o_rsp with backpressure."""

    def __init__(self, dut):
        self.dut = dut
        self.config = DyadicConfig.load(os.environ["DYADIC_CONFIG"])
        self.seed = int(os.environ.get("DYADIC_SEED", "1"))
        self.cases = int(os.environ.get("DYADIC_CASES", "1"))
        self.idle = float(os.environ.get("DYADIC_IDLE", "0.2"))
        self.backpressure = float(os.environ.get("DYADIC_BACKPRESSURE", "0.2"))
        self.pace = random.Random(self.seed)
        self.cmds = CoreCommands(self.config)

    async def start(self):
        d = self.dut
        Clock(d.clk, 10, unit="ns").start()
        d.rst.value = 1
        d.i_cmd__valid.value = 0
        d.i_cmd__payload.value = 0
        d.o_rsp__ready.value = 0
        await ClockCycles(d.clk, 3)
        await self._settle()
        d.rst.value = 0
        await self._settle()

    # Inputs change and outputs are sampled mid-cycle (falling edge + 1 ns), so the
    # handshake seen is the one the next rising edge will take, in any simulator.
    async def _settle(self):
        await FallingEdge(self.dut.clk)
        await Timer(1, "ns")

    async def _put(self, word):
        d = self.dut
        while self.pace.random() < self.idle:
            d.i_cmd__valid.value = 0
            await self._settle()
        d.i_cmd__payload.value = word
        d.i_cmd__valid.value = 1
        while True:
            await Timer(1, "ps")
            taken = d.i_cmd__ready.value == 1
            await self._settle()
            if taken:
                break
        d.i_cmd__valid.value = 0

    async def _get(self):
        d = self.dut
        while True:
            ready = int(self.pace.random() >= self.backpressure)
            d.o_rsp__ready.value = ready
            await Timer(1, "ps")
            word = d.o_rsp__payload.value if d.o_rsp__valid.value == 1 else None
            await self._settle()
            if ready and word is not None:
                d.o_rsp__ready.value = 0
                return int(word)

    async def call(self, cmd):
        for w in cmd.words:
            await self._put(w)
        words = [await self._get()]
        for _ in range(words[0] >> 16):
            words.append(await self._get())
        _, data = split_response(words)
        return cmd.decode(data)


@cocotb.test()
async def identify(dut):
    tb = CoreTB(dut)
    await tb.start()
    tb.cmds.check_identity(await tb.call(tb.cmds.identify()))


@cocotb.test()
async def relaxation(dut):
    tb = CoreTB(dut)
    await tb.start()
    rng = np.random.default_rng(tb.seed)
    L = tb.config.L
    for case in range(tb.cases):
        dt = (1.0, 0.5, 0.25)[case % 3]
        await scenarios.relaxation(tb.call, tb.config, rng, dt=dt, ticks=2 * L + 1)


@cocotb.test()
async def streaming(dut):
    tb = CoreTB(dut)
    await tb.start()
    rng = np.random.default_rng(tb.seed + 1)
    for case in range(tb.cases):
        batch = int(rng.integers(1, tb.config.max_batch + 1))
        await scenarios.streaming(tb.call, tb.config, rng, batch=batch, update=case % 2 == 0,
                                  lr_shift=int(rng.integers(0, 6)), batches=2)
