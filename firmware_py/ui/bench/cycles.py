"""Section 2, cycles: the RTL's counters against the cycle model, and the RTL's values
against the golden model."""

from __future__ import annotations

import math
import time

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.cycles import counted_cycles, relax_cycles, stream_cycles
from firmware_py.device.commands import CoreCommands
from firmware_py.model.arith import FixedArith

from .common import LR_SHIFT, _log, _Tally, random_session


def _sat_counts(ar: FixedArith):
    return [ar.counters.counts[k] for k in ar.counters.KINDS]

def _rtl_sats(counters):
    """The RTL's saturation counts, or None from a device that keeps none."""
    from firmware_py.contract.fixedpoint import SaturationCounters

    if "sat_h" not in counters:
        return None
    return [counters[f"sat_{k}"] for k in SaturationCounters.KINDS]

def _unwrapped(counters, model, bits: int) -> dict:
    """The run's counts, each the model's where a counter of ``bits`` wrapped and agrees
    with it modulo its width (``counted_cycles``: a batch of 256 on the iCEBreaker's 16-bit
    counters)."""
    return {k: counted_cycles(counters[k], getattr(model, k), bits)
            for k in ("ticks", "cycles", "busy")}


def _run_row(counters, model, bits: int = 32) -> dict:
    got = _unwrapped(counters, model, bits)
    raw = {k: counters[k] for k in got}
    return {**got, "counted": None if raw == got else raw,     # (what the counters read)
            "model_ticks": model.ticks, "model_cycles": model.cycles, "model_busy": model.busy,
            "equal": (got["ticks"], got["cycles"], got["busy"])
            == (model.ticks, model.cycles, model.busy)}

def model_counters(cfg: DyadicConfig) -> dict:
    """The counters the cycle model predicts for the runs of ``rtl_session`` (no saturation)."""
    L, B = cfg.L, cfg.max_batch
    runs = {"relax": relax_cycles(cfg, 2 * L),
            "half": stream_cycles(cfg, max(1, B // 2), update=False),
            "batch": stream_cycles(cfg, B), "online": stream_cycles(cfg, 1)}
    if not cfg.state_access:        # (no relaxation to run)
        del runs["relax"]
    return {k: {"ticks": m.ticks, "cycles": m.cycles, "busy": m.busy} for k, m in runs.items()}

def cycles_row(name: str, cfg: DyadicConfig, counters: dict, sim: str = "verilator",
               secs: float = 0.0, path: str | None = None) -> dict:
    """The cycles section's row from the RTL counters of the four runs of ``rtl_session``.

    ``counters``: {"relax", "half", "batch", "online"} -> {"ticks", "cycles", "busy"}; no
    "relax" from a device without the host's access to s and lam (``state_access``).
    """
    L, B = cfg.L, cfg.max_batch
    B2 = max(1, B // 2)
    bits = cfg.counter_bits
    relax_row = (_run_row(counters["relax"], relax_cycles(cfg, 2 * L), bits)
                 if "relax" in counters else None)
    half_row = _run_row(counters["half"], stream_cycles(cfg, B2, update=False), bits)
    model_b = stream_cycles(cfg, B)
    batch_row = _run_row(counters["batch"], model_b, bits)
    online_row = _run_row(counters["online"], stream_cycles(cfg, 1), bits)
    # (the counts below are the rows', unwrapped where a narrow counter wrapped)
    cnt_relax, cnt_half, cnt_batch, cnt_online = relax_row, half_row, batch_row, online_row
    tilings = [cfg.tiling(l) for l in range(1, L + 1)]
    mults = sum(t.multipliers for t in tilings)
    work = [(3 if l > 1 else 2) * cfg.sizes[l] * cfg.sizes[l - 1] for l in range(1, L + 1)]
    bound = max(math.ceil(w / t.multipliers) for w, t in zip(work, tilings))
    d_cyc = cnt_batch["cycles"] - cnt_half["cycles"]
    d_busy = cnt_batch["busy"] - cnt_half["busy"]
    steady = d_cyc / (B - B2) if B > B2 else None
    row = {
        "config": name, "path": path, "sizes": list(cfg.sizes),
        "activations": [str(x) for x in cfg.activations],
        "multipliers": [t.multipliers for t in tilings], "multipliers_total": mults,
        "macs_per_sample": sum(work),
        "multipliers_configured": list(cfg.multipliers) if cfg.multipliers else None,
        "tiling": [{"rows": t.rows, "cols": t.cols, "tiles": t.tiles} for t in tilings],
        "config_id": f"{cfg.config_id:#010x}", "L": L, "batch": B, "half_batch": B2,
        "relax_2L": relax_row, "stream_half": half_row, "stream_batch": batch_row,
        "online_step": online_row,
        "rtl_equals_model": all(r["equal"] for r in (relax_row, half_row, batch_row,
                                                      online_row) if r),
        "cycles_per_batch": cnt_batch["cycles"],
        "ticks_per_batch": cnt_batch["ticks"], "ticks_expected": B + 2 * L,
        "cycles_per_sample_batch": cnt_batch["cycles"] / B,
        # marginal cost of one more sample in a streaming batch, from the RTL counters of
        # the B and B/2 runs: the steady tick (one sample enters per tick)
        "cycles_per_tick_steady": steady,
        "cycles_per_tick_steady_model": ((model_b.cycles
                                          - stream_cycles(cfg, B2, update=False).cycles)
                                         / (B - B2) if B > B2 else None),
        "model_tick_cycles": list(model_b.tick_cycles),
        "tick_bound": bound,
        "utilization_batch": cnt_batch["busy"] / (mults * cnt_batch["cycles"]),
        "utilization_steady": d_busy / (mults * d_cyc) if d_cyc else None,
        "online_step_cycles": cnt_online["cycles"],
        "online_step_ticks": cnt_online["ticks"],
        "relax_2L_cycles": cnt_relax["cycles"] if cnt_relax else None,
        "simulator": sim, "simulated_seconds": round(secs, 1),
    }
    return row

def rtl_session(name: str, cfg: DyadicConfig, sim: str = "verilator", seed: int = 0,
                log=_log, path: str | None = None) -> tuple[dict, dict]:
    """One simulator session on ``cfg``: relaxation (where the device runs one), two
    streaming batches, an online step.

    Returns (cycles row, RTL-vs-golden tally). Runs, in order, on one random network:
    relaxation for 2L ticks on sample 0 from a zero state; a streaming batch of B/2
    without update; a streaming batch of B = max_batch with the SGD update; a batch-1
    streaming step with the update (the online training step: forward L ticks, adjoint
    L ticks, gradient read-out with the update fused). Every state, gradient and
    weight read back, and the saturation counters, are compared with the fixed-point
    golden model; the cycle counters with the cycle model.
    """
    from firmware_py.device.rtl import run_commands
    from firmware_py.model.dynamics import relax, stream_batch

    L, B = cfg.L, cfg.max_batch
    B2 = max(1, B // 2)
    P, X, Y = random_session(cfg, B, np.random.default_rng(seed))
    c = CoreCommands(cfg)
    prog = [c.write_params(l, P[0][l - 1], P[1][l - 1]) for l in range(1, L + 1)]
    prog.append(c.write_samples(X, Y))
    at = {}

    def add(key, cmds):
        at[key] = len(prog)
        prog.extend(cmds)

    if cfg.state_access:
        zeros = [np.zeros(n, dtype=np.int64) for n in cfg.sizes[1:]]
        prog += [c.write_state(l, zeros[l - 1], zeros[l - 1]) for l in range(1, L + 1)]
        add("relax", [c.clear_counters(), c.relax(2 * L, 0), c.read_counters()]
            + [c.read_state(l) for l in range(1, L + 1)]
            + [c.read_grads(l) for l in range(1, L + 1)])
    add("half", [c.clear_counters(), c.stream(B2, False), c.read_counters()])
    add("batch", [c.clear_counters(), c.stream(B, True, LR_SHIFT), c.read_counters()]
        + [c.read_grads(l) for l in range(1, L + 1)] + [c.read_params(l) for l in range(1, L + 1)])
    add("online", [c.clear_counters(), c.stream(1, True, LR_SHIFT), c.read_counters()]
        + [c.read_grads(l) for l in range(1, L + 1)] + [c.read_params(l) for l in range(1, L + 1)])
    log(f"{name}: {len(prog)} commands on {sim} (a first run builds the simulator) ...")
    t0 = time.perf_counter()
    out = run_commands(cfg, prog, sim)
    secs = time.perf_counter() - t0
    tally = _Tally()
    lr = 2.0 ** -LR_SHIFT

    def sats(counters, a):      # (a device without saturation counters has none to check)
        if (got := _rtl_sats(counters)) is not None:
            tally.add("saturation counters", got, _sat_counts(a))

    # relaxation
    cnt_relax = None
    if "relax" in at:
        a = FixedArith(cfg)
        tr = relax(a, P, X[0], Y[0], ticks=2 * L)
        i = at["relax"] + 2
        cnt_relax = out[i]
        for l in range(L):
            s, lam = out[i + 1 + l]
            tally.add("relaxation s, lam", np.concatenate([s, lam]),
                      np.concatenate([tr.states[-1].s[l], tr.states[-1].lam[l]]))
            gW, gb = out[i + 1 + L + l]
            tally.add("relaxation gradients", np.concatenate([gW.ravel(), gb]),
                      np.concatenate([tr.grads[-1][l][0].ravel(), tr.grads[-1][l][1]]))
        sats(cnt_relax, a)

    def check_stream(key, Pin, Xb, Yb, update):
        a = FixedArith(cfg)
        res = stream_batch(a, Pin, Xb, Yb, lr=lr if update else None)
        j = at[key] + 2
        sats(out[j], a)
        if update:
            for l in range(L):
                gW, gb = out[j + 1 + l]
                tally.add("batch gradients", np.concatenate([gW.ravel(), gb]),
                          np.concatenate([res.G[l][0].ravel(), res.G[l][1]]))
                W, b = out[j + 1 + L + l]
                tally.add("updated weights", np.concatenate([W.ravel(), b]),
                          np.concatenate([res.params[0][l].ravel(), res.params[1][l]]))
        return out[j], res.params

    cnt_half, _ = check_stream("half", P, X[:B2], Y[:B2], False)
    cnt_batch, P1 = check_stream("batch", P, X, Y, True)
    cnt_online, _ = check_stream("online", P1, X[:1], Y[:1], True)

    runs = {"half": cnt_half, "batch": cnt_batch, "online": cnt_online}
    if cnt_relax is not None:
        runs["relax"] = cnt_relax
    row = cycles_row(name, cfg, runs, sim, secs, path)
    model_b = stream_cycles(cfg, B)
    steady = row["cycles_per_tick_steady"]
    log(f"{name}: batch {B}: {row['cycles_per_batch']} cycles "
        f"(model {model_b.cycles}), steady tick {steady}, utilization "
        f"{row['utilization_batch']:.1%}, online step {row['online_step_cycles']} cycles, "
        f"RTL == model: {row['rtl_equals_model']}, RTL == golden: "
        f"{tally.summary()['share']:.2%} ({secs:.0f} s)")
    return row, tally.checks
