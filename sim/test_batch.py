"""Run a prepared list of commands on the simulated core (used by the host's RTL backend).

DYADIC_JOB names a JSON file {"commands": [[word, ...], ...]}; the responses are
written to DYADIC_RESULT as {"responses": [[word, ...], ...]}.
"""

import json
import os

import cocotb

from firmware_py.device.commands import Command
from sim.tb import CoreTB


@cocotb.test()
async def batch(dut):
    tb = CoreTB(dut, idle=0.0, backpressure=0.0)
    await tb.start()
    with open(os.environ["DYADIC_JOB"]) as f:
        job = json.load(f)
    responses = []
    for words in job["commands"]:
        responses.append(await tb.call(Command(None, words, decode=lambda d: d), raw=True))
    with open(os.environ["DYADIC_RESULT"], "w") as f:
        json.dump({"responses": responses}, f)
