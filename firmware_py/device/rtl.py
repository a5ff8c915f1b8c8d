"""Run commands on the core's Verilog in a simulator (Icarus or Verilator) via cocotb.

A batch transport: the host prepares every command, the simulator runs them in one
session, and the responses come back decoded by the same ``Command`` objects.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from firmware_py.contract.config import DyadicConfig

from .commands import Command, split_response

__all__ = ["run_commands", "RTLError"]


class RTLError(RuntimeError):
    """The simulation could not run or did not finish."""


def run_commands(config: DyadicConfig, commands: list[Command], sim: str):
    """Decoded responses of ``commands`` run in order on a fresh simulated core."""
    from sim.runner import ROOT, run_cocotb

    work = ROOT / "build" / "rtl"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        job, result = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job.write_text(json.dumps({"commands": [c.words for c in commands]}))
        try:
            tests, failures = run_cocotb(
                config, sim, test_module="sim.test_batch", quiet=True,
                extra_env={"DYADIC_JOB": str(job), "DYADIC_RESULT": str(result)})
        except SystemExit as e:
            raise RTLError(f"{sim} simulation failed (exit {e.code}); see build/sim/{sim}/*/"
                           "sim.log") from None
        if failures or not result.exists():
            raise RTLError(f"{sim} simulation did not complete; see build/sim/{sim}/*/sim.log")
        responses = json.loads(result.read_text())["responses"]
    out = []
    for cmd, words in zip(commands, responses):
        _, data = split_response(words)
        out.append(cmd.decode(data))
    return out


