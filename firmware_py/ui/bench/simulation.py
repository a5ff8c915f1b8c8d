"""Section 5, simulation speed: simulated core cycles per wall second, per simulator."""

from __future__ import annotations

import time

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.device.commands import CoreCommands

from .common import _log, random_session, ratio


def simulation_speed(cfg: DyadicConfig, name: str, sims: dict, log=_log) -> dict:
    """Simulated core cycles per wall second, per simulator, through cocotb.

    ``sims``: {simulator: (reps, batch or None for max_batch)}. Two sessions per
    simulator on the same (already built) design: the set-up alone (weights and samples
    written, counters read) and the set-up plus ``reps`` streaming batches. Speed =
    cycles counted by the core / difference in wall time, so simulator start-up and the
    Python-driven set-up cancel out.
    """
    from firmware_py.device.rtl import run_commands

    L, B = cfg.L, cfg.max_batch
    P, X, Y = random_session(cfg, B, np.random.default_rng(1))
    c = CoreCommands(cfg)
    setup = [c.write_params(l, P[0][l - 1], P[1][l - 1]) for l in range(1, L + 1)]
    setup += [c.write_samples(X, Y), c.clear_counters()]
    out = {"config": name, "sizes": list(cfg.sizes),
           "multipliers": [cfg.tiling(l).multipliers for l in range(1, L + 1)],
           "method": "wall time of (set-up + reps x stream) minus (set-up alone)",
           "simulators": []}
    for sim, (reps, batch) in sims.items():
        batch = batch or B
        try:
            log(f"{sim}: building / warming up ...")
            t0 = time.perf_counter()
            run_commands(cfg, setup + [c.read_counters()], sim)
            t_first = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_commands(cfg, setup + [c.read_counters()], sim)
            t_base = time.perf_counter() - t0
            log(f"{sim}: {reps} streaming batch(es) of {batch} ...")
            t0 = time.perf_counter()
            cnt = run_commands(cfg, setup + [c.stream(batch, False)] * reps
                               + [c.read_counters()], sim)[-1]
            t_load = time.perf_counter() - t0
        except Exception as e:  # a missing simulator is a result, not a crash
            out["simulators"].append({"simulator": sim, "status": f"failed: {e}"})
            log(f"{sim}: {e}")
            continue
        dt = t_load - t_base
        speed = cnt["cycles"] / dt if dt > 0 else None
        out["simulators"].append({
            "simulator": sim, "status": "measured", "reps": reps, "batch": batch,
            "cycles": cnt["cycles"],
            "first_session_s": round(t_first, 2), "setup_session_s": round(t_base, 2),
            "load_session_s": round(t_load, 2), "cycles_per_s": speed})
        log(f"{sim}: {cnt['cycles']} cycles in {dt:.2f} s -> "
            f"{speed:,.0f} cycles/s" if speed else f"{sim}: too fast to time")
    by = {s["simulator"]: s.get("cycles_per_s") for s in out["simulators"]}
    out["verilator_over_icarus"] = ratio(by.get("verilator"), by.get("icarus"))
    return out
