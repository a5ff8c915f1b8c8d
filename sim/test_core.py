"""cocotb testbench of the generated core Verilog against the golden model.

Environment: DYADIC_CONFIG (configuration JSON), DYADIC_SEED, DYADIC_CASES
(random cases per test), DYADIC_IDLE / DYADIC_BACKPRESSURE (probabilities of an
idle cycle on the command stream / of not being ready on the response stream).
"""

import cocotb
import numpy as np

from sim import scenarios
from sim.tb import CoreTB


@cocotb.test()
async def identify(dut):
    tb = CoreTB(dut)
    await tb.start()
    tb.cmds.check_identity(await tb.call(tb.cmds.identify()))


@cocotb.test()
async def relaxation(dut):
    tb = CoreTB(dut)
    await tb.start()
    if not tb.config.state_access:     # (a device without RELAX, READ_STATE, WRITE_STATE)
        await scenarios.refused_commands(tb.call, tb.config)
        return
    rng = np.random.default_rng(tb.seed)
    L = tb.config.L
    for case in range(tb.cases):
        # (a device without fractional_dt refuses dt < 1, as a test elsewhere checks)
        dt = (1.0, 0.5, 0.25)[case % 3] if tb.config.fractional_dt else 1.0
        await scenarios.relaxation(tb.call, tb.config, rng, dt=dt, ticks=2 * L + 1)


@cocotb.test()
async def streaming(dut):
    tb = CoreTB(dut)
    await tb.start()
    rng = np.random.default_rng(tb.seed + 1)
    for case in range(tb.cases):
        batch = int(rng.integers(1, tb.config.max_batch + 1))
        # every other case uses large weights, so that overflows saturate and are counted
        await scenarios.streaming(tb.call, tb.config, rng, batch=batch, update=case % 2 == 0,
                                  lr_shift=int(rng.integers(0, 6)), batches=2,
                                  scale=1.0 if case % 2 == 0 else 6.0)


@cocotb.test()
async def evaluation(dut):
    tb = CoreTB(dut)
    await tb.start()
    if not tb.config.trainer:
        await scenarios.refused_commands(tb.call, tb.config)
        return
    rng = np.random.default_rng(tb.seed + 2)
    n = min(tb.config.samples, 12)
    for _ in range(tb.cases):
        count = int(rng.integers(1, n + 1))
        await scenarios.evaluation(tb.call, tb.config, rng, count=count,
                                   first=int(rng.integers(0, n - count + 1)))


@cocotb.test()
async def epochs(dut):
    tb = CoreTB(dut)
    await tb.start()
    if not tb.config.trainer:
        await scenarios.refused_commands(tb.call, tb.config)
        return
    rng = np.random.default_rng(tb.seed + 3)
    for _ in range(tb.cases):
        count = int(rng.integers(1, min(tb.config.samples, 12) + 1))
        batch = int(rng.integers(1, min(tb.config.max_batch, count) + 1))
        await scenarios.epochs(tb.call, tb.config, rng, count=count, batch=batch, epochs=2)
