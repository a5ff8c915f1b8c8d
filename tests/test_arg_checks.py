"""The argument checks: each command's list, against a plain reading of the same table."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import MAX_EPOCHS, Opcode, Status
from firmware_py.model.network import parse_activations
from hdl.arg_checks import CHECKS, ArgumentChecks

CFG = DyadicConfig((3, 4, 2), parse_activations("relu", 2), max_batch=8, max_samples=40)


def _expected(opcode, ops, cfg):
    consts = {"zero": 0, "samples": cfg.samples, "max_batch": cfg.max_batch,
              "max_epochs": MAX_EPOCHS, "max_dt": cfg.max_dt_shift, "max_words": 0xFFFF}
    for ch in CHECKS.get(opcode, []):
        x, y = ops[ch.x], consts.get(ch.y, ops.get(ch.y))
        if {"above": x > y, "not above": x <= y, "other": x != y}[ch.fails]:
            return ch.status
    return Status.OK


@pytest.mark.parametrize("fractional_dt", [True, False])
def test_the_first_failed_check_names_the_refusal(fractional_dt):
    from dataclasses import replace
    cfg = replace(CFG, fractional_dt=fractional_dt)
    dut = ArgumentChecks(cfg)
    rng = np.random.default_rng(fractional_dt)
    names = ("a0", "a1", "a2", "a4", "end", "words", "values", "remaining", "resident",
             "total", "epochs2")
    cases = []
    for opcode in Opcode:
        for _ in range(60):
            ops = {n: int(rng.integers(0, 12 if rng.random() < 0.7 else 80)) for n in names}
            ops["end"] = ops["a0"] + ops["a1"]
            ops["epochs2"] = 2 * ops["a4"]
            if rng.random() < 0.3:
                ops["remaining"] = ops[rng.choice(["words", "epochs2"])]
            cases.append((opcode, ops))

    async def bench(ctx):
        seen = set()
        for opcode, ops in cases:
            ctx.set(dut.opcode, opcode)
            for n, v in ops.items():
                ctx.set(dut.operands[n], v)
            await ctx.delay(1e-9)
            got = ctx.get(dut.status)
            assert got == _expected(opcode, ops, cfg), (opcode, ops)
            seen.add((opcode, got))
        # every refusal a command can give came up, and so did passing
        for opcode, checks in CHECKS.items():
            for status in {ch.status for ch in checks} | {Status.OK}:
                assert (opcode, status) in seen, (opcode, status)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
