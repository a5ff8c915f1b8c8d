"""The cocotb testbench class for the core: clock, reset, and word-stream transfers."""

import os
import random

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer

from firmware_py.contract.config import DyadicConfig
from firmware_py.device.commands import CoreCommands, response_length, split_response

__all__ = ["CoreTB"]


class CoreTB:
    """Owns clock and reset; drives i_cmd with idle gaps, takes o_rsp with backpressure."""

    def __init__(self, dut, idle=None, backpressure=None):
        self.dut = dut
        self.config = DyadicConfig.load(os.environ["DYADIC_CONFIG"])
        self.seed = int(os.environ.get("DYADIC_SEED", "1"))
        self.cases = int(os.environ.get("DYADIC_CASES", "1"))
        self.idle = float(os.environ.get("DYADIC_IDLE", "0.2")) if idle is None else idle
        self.backpressure = (float(os.environ.get("DYADIC_BACKPRESSURE", "0.2"))
                             if backpressure is None else backpressure)
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
        if not self.backpressure and d.o_rsp__valid.value != 1:
            # nothing to pace: sleep until the response, so that a long run costs no
            # Python per cycle (the simulators then run at their own speed)
            await RisingEdge(d.o_rsp__valid)
            await self._settle()
        while True:
            ready = int(self.pace.random() >= self.backpressure)
            d.o_rsp__ready.value = ready
            await Timer(1, "ps")
            word = d.o_rsp__payload.value if d.o_rsp__valid.value == 1 else None
            await self._settle()
            if ready and word is not None:
                d.o_rsp__ready.value = 0
                return int(word)

    async def call(self, cmd, raw=False):
        """Run one command; its decoded response (or all response words if ``raw``)."""
        for w in cmd.words:
            await self._put(w)
        words = [await self._get()]
        for _ in range(response_length(words[0])):
            words.append(await self._get())
        if raw:
            return words
        _, data = split_response(words)
        return cmd.decode(data)
