"""Benchmarks (``dyadic bench`` / ``make bench``): measured numbers, printed and saved.

Every cycle figure is read from the RTL's own counters in Verilator and set next
to the cycle model's prediction, which must be equal.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from .arith import FixedArith
from .commands import CoreCommands
from .config import DyadicConfig
from .cycles import stream_cycles
from .network import Network

__all__ = ["run_bench"]

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"xor_step_cycles": 24, "utilization": 0.85, "tick_over_bound": 0.10}


def _log(*a):
    print(*a, file=sys.stderr, flush=True)


def _stream_on_rtl(cfg: DyadicConfig, batch: int, sim: str, seed=0):
    from .rtl import run_commands

    rng = np.random.default_rng(seed)
    net = Network.random(cfg.sizes, cfg.activations, rng)
    ar = FixedArith(cfg)
    P = ar.params(net)
    X = ar.encode_x(rng.uniform(0, 1, (batch, cfg.sizes[0])))
    Y = ar.encode_y(rng.uniform(0, 1, (batch, cfg.sizes[-1])))
    c = CoreCommands(cfg)
    prog = [c.write_params(l, P[0][l - 1], P[1][l - 1]) for l in range(1, cfg.L + 1)]
    prog += [c.write_samples(X, Y), c.clear_counters(), c.stream(batch, True, 7),
             c.read_counters()]
    t0 = time.perf_counter()
    counters = run_commands(cfg, prog, sim)[-1]
    return counters, time.perf_counter() - t0


def cycles_case(name: str, cfg: DyadicConfig, batch: int, sim="verilator") -> dict:
    """One streaming batch with update on the RTL, against the cycle model."""
    _log(f"[cycles] {name}: batch {batch} on {sim} (first run builds the model) ...")
    counters, secs = _stream_on_rtl(cfg, batch, sim)
    model = stream_cycles(cfg, batch)
    tilings = [cfg.tiling(l) for l in range(1, cfg.L + 1)]
    mults = sum(t.multipliers for t in tilings)
    # steady state: every cell runs all its passes; the bound is the busiest cell's
    # arithmetic work over its multipliers
    work = [(3 if l > 1 else 2) * cfg.sizes[l] * cfg.sizes[l - 1] for l in range(1, cfg.L + 1)]
    bound = max(math.ceil(w / t.multipliers) for w, t in zip(work, tilings))
    steady = max(model.tick_cycles) if batch > 2 * cfg.L else None
    row = {
        "config": name, "sizes": list(cfg.sizes), "multipliers": [t.multipliers for t in tilings],
        "batch": batch, "ticks": counters["ticks"], "cycles": counters["cycles"],
        "busy_multiplier_cycles": counters["busy"],
        "model_cycles": model.cycles, "model_busy": model.busy,
        "rtl_equals_model": counters["cycles"] == model.cycles and counters["busy"] == model.busy,
        "cycles_per_sample": counters["cycles"] / batch,
        "utilization": counters["busy"] / (mults * counters["cycles"]),
        "cycles_per_tick_steady": steady, "tick_bound": bound,
        "tick_over_bound": (steady / bound - 1) if steady else None,
        "one_sample_per_tick": counters["ticks"] == batch + 2 * cfg.L,
        "simulated_seconds": round(secs, 1),
    }
    _log(f"[cycles] {name}: {row['cycles']} cycles, utilization {row['utilization']:.1%}, "
         f"RTL == model: {row['rtl_equals_model']} ({secs:.0f} s)")
    return row


def run_bench(out_dir: Path, quick: bool = False, sim: str = "verilator") -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    cfgs = ROOT / "configs"
    cases = [("xor", DyadicConfig.load(cfgs / "xor.json"), 4)]
    if quick:
        cases.append(("digits-ice40", DyadicConfig.load(cfgs / "digits-ice40.json"), 32))
    else:
        cases.append(("digits-ice40", DyadicConfig.load(cfgs / "digits-ice40.json"), 32))
        cases.append(("digits-ecp5", DyadicConfig.load(cfgs / "digits-ecp5.json"), 256))
    results = {"cycles": [cycles_case(n, c, b, sim) for n, c, b in cases]}
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results


def format_report(results: dict) -> str:
    lines = ["| config | multipliers | batch | cycles (RTL) | model | cycles/sample | "
             "steady tick / bound | utilization |", "|---|---|---|---|---|---|---|---|"]
    for r in results["cycles"]:
        tick = (f"{r['cycles_per_tick_steady']} / {r['tick_bound']} "
                f"(+{r['tick_over_bound']:.1%})" if r["cycles_per_tick_steady"] else "-")
        lines.append(f"| {r['config']} {'-'.join(map(str, r['sizes']))} | "
                     f"{'+'.join(map(str, r['multipliers']))} | {r['batch']} | {r['cycles']} | "
                     f"{r['model_cycles']} | {r['cycles_per_sample']:.1f} | {tick} | "
                     f"{r['utilization']:.1%} |")
    xor = next(r for r in results["cycles"] if r["config"] == "xor")
    lines.append("")
    lines.append(f"- XOR 2-2-1 training step at batch 4 (forward, adjoint, gradient, update): "
                 f"{xor['cycles']} cycles; target <= {TARGETS['xor_step_cycles']}: "
                 f"{'met' if xor['cycles'] <= TARGETS['xor_step_cycles'] else 'MISSED'}")
    for r in results["cycles"]:
        if r["batch"] >= 256:
            lines.append(f"- {r['config']} utilization over a batch of {r['batch']}: "
                         f"{r['utilization']:.1%}; target >= 85%: "
                         f"{'met' if r['utilization'] >= TARGETS['utilization'] else 'MISSED'}")
        if r["tick_over_bound"] is not None:
            ok = r["tick_over_bound"] <= TARGETS["tick_over_bound"]
            lines.append(f"- {r['config']} steady tick within "
                         f"{r['tick_over_bound']:.1%} of ceil(work / multipliers); "
                         f"target <= 10%: {'met' if ok else 'MISSED'}")
    lines.append(f"- RTL counters equal the cycle model in every case: "
                 f"{all(r['rtl_equals_model'] for r in results['cycles'])}")
    return "\n".join(lines)
