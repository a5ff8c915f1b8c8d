"""Benchmarks (``dyadic bench`` / ``make bench``): measured numbers, printed and saved.

Six sections, each measured in this run (nothing is copied from an earlier one):

- ``exactness``: float64 relaxation against backprop over random networks, the
  fixed-point model against float64, and every value the RTL returned against the
  fixed-point golden model;
- ``cycles``: the RTL's own counters (Verilator) next to the cycle model, which must
  be equal;
- ``throughput``: samples per second and batch-1 step latency at each board's
  achieved Fmax (from its synthesis report), against PyTorch on this CPU and a
  quoted GPU anchor;
- ``accuracy``: digits trained in float64, fixed point and on the RTL;
- ``simulation``: simulated cycles per second, Icarus and Verilator;
- ``synthesis``: the boards' build reports (this command never runs synthesis).

``results.json`` also carries ``meta`` (when, where, how long) and ``targets`` (each
target with its measured value, met or missed, and why).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hdl.protocol import classes

from .arith import FixedArith, FloatArith
from .commands import CoreCommands
from .config import DyadicConfig
from .cycles import relax_cycles, stream_cycles
from .network import Network, parse_activations

__all__ = ["run_bench", "format_report", "headline_table", "evaluate_targets",
           "exactness_sweep", "collect_synthesis", "board_clock", "throughput_rows",
           "ratio", "plan_configs", "cycles_row", "model_counters", "GPU_ANCHOR", "TARGETS"]

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("exactness", "cycles", "throughput", "accuracy", "simulation", "synthesis",
            "end_to_end")

# The configurations measured on the RTL: XOR, and each board's configuration (read from
# the board list; these are used when a board names none that exists). --quick measures
# only the boards that carry targets.
XOR_CONFIG = "configs/xor.json"
BOARD_CONFIGS = {"icebreaker": "configs/nae3-ice40.json",
                 "ulx3s-85f": "configs/digits-ecp5.json"}
HEADLINE_BOARDS = ("icebreaker", "ulx3s-85f")
# The RTL training run (accuracy) and the simulator speed use the smallest digits design
# (6 + 2 multipliers), the quickest to build (Verilator, and Icarus at all). Accuracy
# does not depend on the multiplier count. It is measured for cycles too.
SMALL_DIGITS_CONFIG = "configs/digits-ice40.json"
LR_SHIFT = 7   # SGD step 2^-7 on the summed batch gradient (digits' training default)

GPU_SIZES = (64, 32, 10)   # the network of the GPU anchor and of the PyTorch baseline
GPU_ANCHOR = {
    "what": "one NVIDIA H200, PyTorch 2.11 with CUDA graphs, 64-32-10, SGD",
    "batch1_step_us": 38.2,
    "batch256_samples_per_s": 3.48e6,
    "source": "quoted (issue 6), not measured here",
}
TARGETS = {
    "link_reduction": 100.0,        # at least, link bytes an epoch: per-batch path / resident
    "ulx3s_run_seconds": 1.0,       # below, a 30-epoch digits run on the ULX3S-85F, load in
    "xor_step_cycles": 24,          # at most, XOR 2-2-1 batch-4 training step, 4 multipliers
    "utilization": 0.85,            # at least, each configuration at its largest batch
    "ulx3s_samples_per_s": 1e6,     # at least, ULX3S-85F digits training samples
    "ulx3s_vs_gpu_batch1": 10.0,    # at least, GPU anchor latency / ULX3S-85F latency
    "icebreaker_fmax_mhz": 24.0,    # at least
}


def _log(*a):
    print(*a, file=sys.stderr, flush=True)


class _Clock:
    """Progress lines on stderr with the time since the run started."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self, section, msg):
        _log(f"[{time.perf_counter() - self.t0:6.0f} s] {section}: {msg}")


def ratio(a, b):
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def plan_configs(boards: dict, quick: bool = False) -> tuple[dict, dict]:
    """({config name: path} to measure on the RTL, {board: config name})."""
    configs = {"xor": XOR_CONFIG, Path(SMALL_DIGITS_CONFIG).stem: SMALL_DIGITS_CONFIG}
    board_cfg = {}
    for name, board in boards.items():
        if quick and name not in HEADLINE_BOARDS:
            continue
        path = getattr(board, "config", None)
        if not path or not (ROOT / path).exists():
            path = BOARD_CONFIGS.get(name)
        if not path or not (ROOT / path).exists():
            continue
        configs.setdefault(Path(path).stem, path)
        board_cfg[name] = Path(path).stem
    if not boards:  # no board list: the two configurations with targets
        for name, path in BOARD_CONFIGS.items():
            configs.setdefault(Path(path).stem, path)
            board_cfg[name] = Path(path).stem
    return configs, board_cfg


# =====================================================================================
# 1. exactness
# =====================================================================================
FLOAT_ACTS = ("identity", "relu", "leaky_relu", "hardtanh", "tanh", "sigmoid")


def exactness_sweep(n: int = 200, seed: int = 0, max_width: int = 16) -> dict:
    """Relaxation at dt = 1 on ``n`` random networks of depth 1-6 (float64 and fixed point).

    float64: the read-out must equal backprop bit for bit at tick 2L and every tick
    after (checked to 2L + 2). Fixed point (hardware activations): the gradient after 2L
    ticks against float64 backprop of the same float network (so weight and input
    quantization count), and against the dequantized network within the derived bound.
    """
    from . import reference
    from .bounds import dequantized_network, gradient_error_bound
    from .cli import _exact_from, _max_err, _relax_errors
    from .dynamics import relax

    rows, fixed = [], []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        depth = 1 + k % 6
        act = FLOAT_ACTS[(k // 6) % len(FLOAT_ACTS)]
        init = ("zero", "random")[(k // 36) % 2]
        sizes = tuple(int(v) for v in rng.integers(1, max_width + 1, size=depth + 1))
        net = Network.random(sizes, parse_activations(act, depth), rng, bias_scale=0.2)
        x, y = rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
        L = depth
        _, errs = _relax_errors(net, x, y, 1.0, 2 * L + 2, init, seed * 100003 + k)
        exact = _exact_from(errs)
        rows.append({"net": k, "sizes": list(sizes), "activation": act, "init": init,
                     "L": L, "exact_from_tick": exact,
                     "exact_from_2L": exact is not None and exact <= 2 * L,
                     "err_at_tick_2L_minus_1": errs[2 * L - 2][1]})
        if act in ("identity", "relu", "leaky_relu", "hardtanh"):
            ar = FixedArith.for_network(net)
            P = ar.params(net)
            xq, yq = ar.encode_x(x), ar.encode_y(y)
            g = relax(ar, P, xq, yq, ticks=2 * L).grads[-1]
            gf = [(ar.grad_float(a), ar.grad_float(b)) for a, b in g]
            xf, yf = ar.state_float(xq, "s"), ar.state_float(yq, "s")
            ref_float = reference.backprop(net, x, y)
            ref_deq = reference.backprop(dequantized_network(ar, P), xf, yf)
            bound = gradient_error_bound(ar, P, xf, yf)
            _, hs = reference.forward(dequantized_network(ar, P), xf)
            kink = min((float(np.min(np.abs(h - k))) for h, a in zip(hs, net.activations)
                        for k in a.kinks), default=None)
            within = all(bool(np.all(np.abs(a - r) <= bnd)) for pair, rpair, bpair in
                         zip(gf, ref_deq, bound) for a, r, bnd in zip(pair, rpair, bpair))
            fixed.append({"net": k, "saturated": ar.counters.total,
                          "err_vs_float64": _max_err(gf, ref_float),
                          "err_vs_dequantized": _max_err(gf, ref_deq),
                          "bound": max(float(np.max(b)) for pair in bound for b in pair),
                          "within_bound": within, "nearest_kink": kink,
                          "grad_scale": max(float(np.max(np.abs(r)))
                                            for pair in ref_float for r in pair)})
    ok = [r for r in rows if r["exact_from_2L"]]
    clean = [f for f in fixed if f["saturated"] == 0]
    errs_f = [f["err_vs_float64"] for f in clean]
    worst = max(clean, key=lambda f: f["err_vs_float64"], default=None)
    out = {
        "networks": n, "depths": sorted({r["L"] for r in rows}),
        "activations": list(FLOAT_ACTS), "max_width": max_width, "inits": ["zero", "random"],
        "exact_from_2L": len(ok),
        "exact_exactly_at_2L": sum(r["exact_from_tick"] == 2 * r["L"] for r in rows),
        "not_exact": [r["net"] for r in rows if not r["exact_from_2L"]],
        "exact_before_2L_activations": sorted({r["activation"] for r in rows
                                               if r["exact_from_tick"] is not None
                                               and r["exact_from_tick"] < 2 * r["L"]}),
        "fixed_point": {
            "networks": len(fixed), "saturated": len(fixed) - len(clean),
            "max_err_vs_float64": max(errs_f) if errs_f else None,
            "median_err_vs_float64": float(np.median(errs_f)) if errs_f else None,
            "p95_err_vs_float64": float(np.percentile(errs_f, 95)) if errs_f else None,
            "networks_err_above_1e-2": sum(e > 1e-2 for e in errs_f),
            "max_err_vs_dequantized": max((f["err_vs_dequantized"] for f in clean),
                                          default=None),
            "within_derived_bound": sum(f["within_bound"] for f in clean),
            "max_bound": max((f["bound"] for f in clean), default=None),
            "max_grad_magnitude": max((f["grad_scale"] for f in clean), default=None),
            "worst_network": worst and {"net": worst["net"], "err": worst["err_vs_float64"],
                                        "nearest_kink": worst["nearest_kink"]},
            "half_lsb_act": DyadicConfig((1, 1), ("identity",)).act.lsb / 2,
        },
    }
    return out


def _relaxation_curves(path):
    """The error-against-tick plot of `dyadic relax --plot` (4-8-8-3, seed 0)."""
    from .cli import _relax_errors
    from .plots import plot_relaxation

    rng = np.random.default_rng(0)
    sizes = (4, 8, 8, 3)
    net = Network.random(sizes, parse_activations("relu", 3), rng, bias_scale=0.1)
    x, y = rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
    curves = {f"dt = {label}": _relax_errors(net, x, y, dt, 18, "zero", 0)[1]
              for label, dt in (("1", 1.0), ("1/2", 0.5), ("1/4", 0.25), ("1/8", 0.125))}
    plot_relaxation(path, 3, curves)
    return curves["dt = 1"]


class _Tally:
    """RTL values compared with the fixed-point golden model."""

    def __init__(self):
        self.checks = {}

    def add(self, what, rtl, golden):
        rtl, golden = np.asarray(rtl), np.asarray(golden)
        same = int(np.sum(rtl == golden)) if rtl.shape == golden.shape else 0
        n = max(int(golden.size), int(rtl.size))
        c = self.checks.setdefault(what, [0, 0])
        c[0] += same
        c[1] += n

    def merge(self, other: dict):
        for k, (same, n) in other.items():
            c = self.checks.setdefault(k, [0, 0])
            c[0] += same
            c[1] += n

    def summary(self) -> dict:
        same = sum(c[0] for c in self.checks.values())
        n = sum(c[1] for c in self.checks.values())
        return {"values_compared": n, "values_matching": same,
                "share": same / n if n else None,
                "by_check": {k: {"matching": c[0], "compared": c[1]}
                             for k, c in sorted(self.checks.items())}}


# =====================================================================================
# 2. cycles (RTL counters against the cycle model), with the RTL value checks
# =====================================================================================
def _sat_counts(ar: FixedArith):
    return [ar.counters.counts[k] for k in ar.counters.KINDS]


def _rtl_sats(counters):
    from .fixedpoint import SaturationCounters

    return [counters[f"sat_{k}"] for k in SaturationCounters.KINDS]


def _run_row(counters, model) -> dict:
    return {"ticks": counters["ticks"], "cycles": counters["cycles"], "busy": counters["busy"],
            "model_ticks": model.ticks, "model_cycles": model.cycles, "model_busy": model.busy,
            "equal": (counters["ticks"], counters["cycles"], counters["busy"])
            == (model.ticks, model.cycles, model.busy)}


def model_counters(cfg: DyadicConfig) -> dict:
    """The counters the cycle model predicts for the runs of ``rtl_session`` (no saturation)."""
    L, B = cfg.L, cfg.max_batch
    runs = {"relax": relax_cycles(cfg, 2 * L),
            "half": stream_cycles(cfg, max(1, B // 2), update=False),
            "batch": stream_cycles(cfg, B), "online": stream_cycles(cfg, 1)}
    return {k: {"ticks": m.ticks, "cycles": m.cycles, "busy": m.busy} for k, m in runs.items()}


def cycles_row(name: str, cfg: DyadicConfig, counters: dict, sim: str = "verilator",
               secs: float = 0.0, path: str | None = None) -> dict:
    """The cycles section's row from the RTL counters of the four runs of ``rtl_session``.

    ``counters``: {"relax", "half", "batch", "online"} -> {"ticks", "cycles", "busy"}.
    """
    L, B = cfg.L, cfg.max_batch
    B2 = max(1, B // 2)
    cnt_relax, cnt_half = counters["relax"], counters["half"]
    cnt_batch, cnt_online = counters["batch"], counters["online"]
    relax_row = _run_row(cnt_relax, relax_cycles(cfg, 2 * L))
    half_row = _run_row(cnt_half, stream_cycles(cfg, B2, update=False))
    model_b = stream_cycles(cfg, B)
    batch_row = _run_row(cnt_batch, model_b)
    online_row = _run_row(cnt_online, stream_cycles(cfg, 1))
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
        "multipliers_configured": list(cfg.multipliers) if cfg.multipliers else None,
        "tiling": [{"rows": t.rows, "cols": t.cols, "tiles": t.tiles} for t in tilings],
        "config_id": f"{cfg.config_id:#010x}", "L": L, "batch": B, "half_batch": B2,
        "relax_2L": relax_row, "stream_half": half_row, "stream_batch": batch_row,
        "online_step": online_row,
        "rtl_equals_model": all(r["equal"] for r in (relax_row, half_row, batch_row,
                                                      online_row)),
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
        "relax_2L_cycles": cnt_relax["cycles"],
        "simulator": sim, "simulated_seconds": round(secs, 1),
    }
    return row


def rtl_session(name: str, cfg: DyadicConfig, sim: str = "verilator", seed: int = 0,
                log=_log, path: str | None = None) -> tuple[dict, dict]:
    """One simulator session on ``cfg``: relaxation, two streaming batches, an online step.

    Returns (cycles row, RTL-vs-golden tally). Runs, in order, on one random network:
    relaxation for 2L ticks on sample 0 from a zero state; a streaming batch of B/2
    without update; a streaming batch of B = max_batch with the SGD update; a batch-1
    streaming step with the update (the online training step: forward L ticks, adjoint
    L ticks, gradient read-out with the update fused). Every state, gradient and
    weight read back, and the saturation counters, are compared with the fixed-point
    golden model; the cycle counters with the cycle model.
    """
    from .dynamics import relax, stream_batch
    from .rtl import run_commands

    L, B = cfg.L, cfg.max_batch
    B2 = max(1, B // 2)
    rng = np.random.default_rng(seed)
    net = Network.random(cfg.sizes, cfg.activations, rng)
    ar = FixedArith(cfg)
    P = ar.params(net)
    X = ar.encode_x(rng.uniform(0, 1, (B, cfg.sizes[0])))
    Y = ar.encode_y(rng.uniform(0, 1, (B, cfg.sizes[-1])))
    if cfg.targets == "label":      # what such a device holds: one-hot targets
        Y = ar.encode_y(np.eye(cfg.sizes[-1])[classes(cfg, Y)] if cfg.sizes[-1] > 1
                        else classes(cfg, Y)[:, None])
    c = CoreCommands(cfg)
    prog = [c.write_params(l, P[0][l - 1], P[1][l - 1]) for l in range(1, L + 1)]
    prog.append(c.write_samples(X, Y))
    at = {}

    def add(key, cmds):
        at[key] = len(prog)
        prog.extend(cmds)

    zeros = [np.zeros(n, dtype=np.int64) for n in cfg.sizes[1:]]
    prog += [c.write_state(l, zeros[l - 1], zeros[l - 1]) for l in range(1, L + 1)]
    add("relax", [c.clear_counters(), c.relax(2 * L, 0), c.read_counters()]
        + [c.read_state(l) for l in range(1, L + 1)] + [c.read_grads(l) for l in range(1, L + 1)])
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

    # relaxation
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
    tally.add("saturation counters", _rtl_sats(cnt_relax), _sat_counts(a))

    def check_stream(key, Pin, Xb, Yb, update):
        a = FixedArith(cfg)
        res = stream_batch(a, Pin, Xb, Yb, lr=lr if update else None)
        j = at[key] + 2
        tally.add("saturation counters", _rtl_sats(out[j]), _sat_counts(a))
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

    row = cycles_row(name, cfg, {"relax": cnt_relax, "half": cnt_half, "batch": cnt_batch,
                                 "online": cnt_online}, sim, secs, path)
    model_b = stream_cycles(cfg, B)
    steady = row["cycles_per_tick_steady"]
    log(f"{name}: batch {B}: {row['cycles_per_batch']} cycles "
        f"(model {model_b.cycles}), steady tick {steady}, utilization "
        f"{row['utilization_batch']:.1%}, online step {row['online_step_cycles']} cycles, "
        f"RTL == model: {row['rtl_equals_model']}, RTL == golden: "
        f"{tally.summary()['share']:.2%} ({secs:.0f} s)")
    return row, tally.checks


# =====================================================================================
# 3. throughput: PyTorch on this CPU, boards at their (achieved) clock
# =====================================================================================
def pytorch_cpu(sizes=GPU_SIZES, quick=False, log=_log) -> dict:
    """SGD steps of an MLP in PyTorch on this machine's CPU, batch 1 and batch 256.

    Same network (ReLU hidden, identity output), MSE loss, plain SGD, float32 (PyTorch's
    default). Each batch size is timed with 1 thread and with all cores, in blocks of
    steps after warm-up. The ratios use the fastest block of the faster thread count: on a
    shared machine that is the closest to an unloaded CPU, so the baseline gets its best
    case (the medians are recorded too).
    """
    try:
        import torch
    except ImportError:
        return {"status": "torch not installed (pip install torch==2.13.0)"}
    torch.manual_seed(0)
    threads_options = sorted({1, os.cpu_count() or 1})
    saved_threads = torch.get_num_threads()
    res = {"status": "measured", "torch": torch.__version__, "device": "cpu",
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "dtype": "float32", "loss": "MSE (1/2 sum of squares)", "optimizer": "SGD",
           "sizes": list(sizes), "load_average_before": _loadavg(), "nice": os.nice(0),
           "runs": []}
    blocks, per_block = (5, 100) if quick else (15, 200)
    for batch in (1, 256):
        for threads in threads_options:
            torch.set_num_threads(threads)
            layers = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(torch.nn.Linear(n_in, n_out))
                if i < len(sizes) - 2:
                    layers.append(torch.nn.ReLU())
            model = torch.nn.Sequential(*layers)
            opt = torch.optim.SGD(model.parameters(), lr=2.0 ** -7)
            x = torch.rand(batch, sizes[0])
            y = torch.nn.functional.one_hot(torch.randint(0, sizes[-1], (batch,)),
                                            sizes[-1]).float()

            def step(model=model, opt=opt, x=x, y=y):
                opt.zero_grad(set_to_none=True)
                loss = 0.5 * ((model(x) - y) ** 2).sum()
                loss.backward()
                opt.step()

            n = per_block if batch == 1 else max(10, per_block // 4)
            for _ in range(n):
                step()
            times = []
            for _ in range(blocks):
                t0 = time.perf_counter()
                for _ in range(n):
                    step()
                times.append((time.perf_counter() - t0) / n)
            med, best = float(np.median(times)), min(times)
            res["runs"].append({"batch": batch, "threads": threads, "step_us": best * 1e6,
                                "samples_per_s": batch / best, "step_us_median": med * 1e6,
                                "samples_per_s_median": batch / med, "blocks": blocks,
                                "steps_per_block": n})
            log(f"pytorch cpu batch {batch}, {threads} thread(s): best block {best * 1e6:.1f} "
                f"us/step ({batch / best:,.0f} samples/s), median {med * 1e6:.1f} us/step")
    torch.set_num_threads(saved_threads)
    b1 = min((r for r in res["runs"] if r["batch"] == 1), key=lambda r: r["step_us"])
    b256 = min((r for r in res["runs"] if r["batch"] == 256), key=lambda r: r["step_us"])
    res["batch1_step_us"], res["batch1_threads"] = b1["step_us"], b1["threads"]
    res["batch256_samples_per_s"] = b256["samples_per_s"]
    res["batch256_threads"] = b256["threads"]
    res["load_average_after"] = _loadavg()
    return res


def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def board_clock(synth: dict | None, board_clock_mhz: float) -> tuple[float, str, bool]:
    """(MHz, basis, achieved) for throughput: achieved Fmax when a build report has one."""
    if synth and synth.get("fmax_mhz"):
        met = synth.get("timing_met")
        return float(synth["fmax_mhz"]), (
            "achieved Fmax" + ("" if met else f" (timing NOT met at {synth.get('target_mhz')}"
                               " MHz target)")), True
    status = (synth or {}).get("status", "not built")
    return float(board_clock_mhz), f"at target clock, not achieved Fmax ({status})", False


def throughput_rows(cycles_rows: list, synthesis: list, boards: dict, torch_res: dict,
                    board_cfg: dict) -> list:
    """Samples/s and batch-1 latency per board whose configuration was measured."""
    by_cfg = {r["config"]: r for r in cycles_rows}
    by_board = {s["board"]: s for s in synthesis}
    out = []
    for bname, cname in board_cfg.items():
        board = boards.get(bname)
        row = by_cfg.get(cname)
        if board is None or row is None:
            continue
        syn = by_board.get(bname)
        mhz, basis, achieved = board_clock(syn, board.clock_mhz)
        hz = mhz * 1e6
        # a max_batch of 1 has no marginal sample: then the batch's cycles per sample
        steady = row["cycles_per_tick_steady"] or row["cycles_per_sample_batch"]
        sps = hz / steady
        sps_batch = hz * row["batch"] / row["cycles_per_batch"]
        lat_us = row["online_step_cycles"] / hz * 1e6
        cpu1 = torch_res.get("batch1_step_us")
        cpu256 = torch_res.get("batch256_samples_per_s")
        mismatch = None
        if syn and syn.get("config_id") and syn["config_id"] != row["config_id"]:
            mismatch = (f"the board was built with {syn.get('config')} (ID {syn['config_id']}, "
                        f"multipliers {syn.get('multipliers')}), not the benchmarked "
                        f"{row['path']} (ID {row['config_id']}, multipliers "
                        f"{row['multipliers']})")
        # the CPU and GPU figures are for one network: another network is not compared
        same_net = tuple(row["sizes"]) == tuple(torch_res.get("sizes") or GPU_SIZES)
        ratios = {
            "vs_cpu_samples": ratio(sps, cpu256),
            "vs_cpu_latency": ratio(cpu1, lat_us),
            "vs_gpu_samples": ratio(sps, GPU_ANCHOR["batch256_samples_per_s"]),
            "vs_gpu_latency": ratio(GPU_ANCHOR["batch1_step_us"], lat_us),
        }
        out.append({
            "board": bname, "title": board.title, "config": cname, "config_path": row["path"],
            "comparable": same_net, "sizes": list(row["sizes"]),
            "clock_mhz": mhz, "clock_basis": basis, "achieved_fmax": achieved,
            "config_mismatch": mismatch,
            "cycles_per_sample_steady": steady, "samples_per_s": sps,
            "batch": row["batch"], "samples_per_s_at_max_batch": sps_batch,
            "online_step_cycles": row["online_step_cycles"], "online_step_us": lat_us,
            **(ratios if same_net else dict.fromkeys(ratios)),
        })
    return out


# =====================================================================================
# 4. accuracy
# =====================================================================================
def accuracy_runs(cfg: DyadicConfig, epochs: int | None, seed: int = 0, log=_log,
                  name: str = "") -> dict:
    """digits as `dyadic train` trains it, in float64, fixed point and on the RTL."""
    from tqdm import tqdm

    from .cli import TRAIN_DEFAULTS
    from .datasets import load_dataset
    from .driver import Accelerator
    from .training import train
    from .transport import SimTransport

    sizes, act, epochs0, batch, lr = TRAIN_DEFAULTS["digits"]
    epochs = epochs or epochs0
    acts = parse_activations(act, len(sizes) - 1)
    if tuple(cfg.sizes) != tuple(sizes) or tuple(cfg.activations) != tuple(acts):
        raise ValueError(f"accuracy configuration {cfg.sizes} does not match digits {sizes}")
    data = load_dataset("digits")
    net = Network.random(sizes, acts, np.random.default_rng(seed))
    kw = dict(epochs=epochs, batch=batch, lr=lr, seed=seed)
    t0 = time.perf_counter()
    fl = train(FloatArith.for_network(net), net, data, **kw)
    t_float = time.perf_counter() - t0
    t0 = time.perf_counter()
    fx = train(FixedArith(cfg), net, data, **kw)
    t_fixed = time.perf_counter() - t0
    log(f"float64 {fl.final['test_accuracy']:.2%} ({t_float:.1f} s), fixed point "
        f"{fx.final['test_accuracy']:.2%} ({t_fixed:.1f} s); now on the RTL (Verilator) ...")
    device = Accelerator(SimTransport(cfg, log=log), cfg)
    t0 = time.perf_counter()
    try:
        device.clear_counters()
        with tqdm(total=epochs * len(data.x_train), unit="sample", file=sys.stderr,
                  desc="  train digits on the RTL", mininterval=0.5 if sys.stderr.isatty()
                  else 15, dynamic_ncols=True) as bar:
            rt = train(FixedArith(cfg), net, data, device=device, progress=bar.update, **kw)
        counters = device.read_counters()
    finally:
        device.close()
    t_rtl = time.perf_counter() - t0
    tally = _Tally()
    for l in range(len(sizes) - 1):
        tally.add("trained weights", np.concatenate([rt.params[0][l].ravel(), rt.params[1][l]]),
                  np.concatenate([fx.params[0][l].ravel(), fx.params[1][l]]))
    same_hist = rt.history == fx.history
    samples = epochs * len(data.x_train)
    return {
        "dataset": "digits", "sizes": list(sizes), "activation": act, "epochs": epochs,
        "batch": batch, "lr": lr, "seed": seed, "rtl_config": name,
        "train_samples": len(data.x_train), "test_samples": len(data.x_test),
        "float64": {"test_accuracy": fl.final["test_accuracy"],
                    "train_accuracy": fl.final["train_accuracy"], "seconds": round(t_float, 1),
                    "history": fl.history},
        "fixed": {"test_accuracy": fx.final["test_accuracy"],
                  "train_accuracy": fx.final["train_accuracy"], "seconds": round(t_fixed, 1),
                  "saturation": fx.saturation, "history": fx.history},
        "rtl": {"test_accuracy": rt.final["test_accuracy"],
                "train_accuracy": rt.final["train_accuracy"], "seconds": round(t_rtl, 1),
                "history": rt.history, "simulator": "verilator (C++ byte-pipe server, framed "
                "link, host driver)", "core_cycles": counters["cycles"],
                "simulated_samples_per_s": samples / t_rtl,
                "core_cycles_per_s": counters["cycles"] / t_rtl},
        "rtl_equals_fixed": bool(same_hist and tally.summary()["share"] == 1.0),
        "rtl_history_equals_fixed": bool(same_hist),
        "_tally": tally.checks,
    }


# =====================================================================================
# 5. simulation speed
# =====================================================================================
def simulation_speed(cfg: DyadicConfig, name: str, sims: dict, log=_log) -> dict:
    """Simulated core cycles per wall second, per simulator, through cocotb.

    ``sims``: {simulator: (reps, batch or None for max_batch)}. Two sessions per
    simulator on the same (already built) design: the set-up alone (weights and samples
    written, counters read) and the set-up plus ``reps`` streaming batches. Speed =
    cycles counted by the core / difference in wall time, so simulator start-up and the
    Python-driven set-up cancel out.
    """
    from .rtl import run_commands

    L, B = cfg.L, cfg.max_batch
    rng = np.random.default_rng(1)
    ar = FixedArith(cfg)
    P = ar.params(Network.random(cfg.sizes, cfg.activations, rng))
    X = ar.encode_x(rng.uniform(0, 1, (B, cfg.sizes[0])))
    Y = ar.encode_y(rng.uniform(0, 1, (B, cfg.sizes[-1])))
    if cfg.targets == "label":      # what such a device holds: one-hot targets
        Y = ar.encode_y(np.eye(cfg.sizes[-1])[classes(cfg, Y)] if cfg.sizes[-1] > 1
                        else classes(cfg, Y)[:, None])
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


# =====================================================================================
# 6. synthesis (collected, never run here)
# =====================================================================================
def collect_synthesis(root: Path, boards: dict) -> list[dict]:
    """Each board's build report: report.json, else failure.json, else "not built"."""
    out = []
    for name, board in boards.items():
        d = Path(root) / name
        rep, fail = d / "report.json", d / "failure.json"
        entry = {"board": name, "title": board.title, "family": board.family,
                 "target_mhz": board.clock_mhz, "default_config": board.config,
                 "build_command": f"make bitstream BOARD={name}"}
        found = [p for p in (rep, fail) if p.exists()]
        if not found:
            entry["status"] = "not built"
            if (d / "work").is_dir():
                entry["note"] = (f"{d / 'work'} exists without a report: a build is running "
                                 "or was interrupted")
            out.append(entry)
            continue
        newest = max(found, key=lambda p: p.stat().st_mtime)
        try:
            data = json.loads(newest.read_text())
        except (OSError, ValueError) as e:
            entry.update(status="unreadable", reason=f"{newest}: {e}")
            out.append(entry)
            continue
        entry["source"] = str(newest)
        for k in ("device", "config", "config_id", "sizes", "multipliers", "fmax_mhz",
                  "timing_met", "clocks", "resources", "build_seconds", "seed", "bitstream"):
            if k in data:
                entry[k] = data[k]
        if data.get("target_mhz") is not None:
            entry["target_mhz"] = data["target_mhz"]
        if newest == rep:
            fmax = data.get("fmax_mhz")
            met = data.get("timing_met", fmax is not None and fmax >= entry["target_mhz"])
            entry["timing_met"] = bool(met)
            entry["status"] = "built" if met else "built, timing not met"
        else:
            entry["status"] = "failed"
            entry["reason"] = str(data.get("reason", "no reason given"))
        out.append(entry)
    return out


# =====================================================================================
# targets
# =====================================================================================
def _fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M/s"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k/s"
    return f"{v:.0f} /s"


def evaluate_targets(results: dict) -> list[dict]:
    """Each target next to its measured value: met / MISSED / NOT MEASURED, and why."""
    T = []
    cyc = {r["config"]: r for r in results.get("cycles", [])}
    thr = {r["board"]: r for r in results.get("throughput", {}).get("boards", [])}
    syn = {s["board"]: s for s in results.get("synthesis", [])}

    def add(name, target, measured, status, why=""):
        T.append({"target": name, "goal": target, "measured": measured, "status": status,
                  "why": why})

    e2e = results.get("end_to_end") or {}
    if e2e.get("link"):
        k = e2e["link"]
        r = k["reduction_vs_before"]
        add("digits link bytes an epoch after the one-time load, against the per-batch path "
            f"before resident sets ({k['before']['commit']})",
            f">= {TARGETS['link_reduction']:g}x fewer",
            f"{k['resident']['epoch_bytes']:,} against {k['before']['epoch_bytes']:,} "
            f"({r:,.0f}x fewer)", "met" if r >= TARGETS["link_reduction"] else "MISSED",
            f"batch by batch through the resident memory: {k['per_batch']['epoch_bytes']:,}")
        for b in e2e.get("boards", []):
            if b["board"] != "ulx3s-85f":
                continue
            if b.get("status") != "measured":
                add("ULX3S-85F 30-epoch digits run", "< 1 s", "-", "NOT MEASURED",
                    b.get("status", ""))
                continue
            p = b["predicted"]
            ok = p["seconds"] < TARGETS["ulx3s_run_seconds"] and b["measured"]["matches_golden"]
            add(f"ULX3S-85F {e2e['epochs']}-epoch digits run ({b['config']}), load included, "
                f"predicted from one epoch on the RTL at {b['clock_mhz']:g} MHz and "
                f"{b['baud']:,} baud", f"< {TARGETS['ulx3s_run_seconds']:g} s",
                f"{p['seconds']:.2f} s (before: {b['before']['seconds'] / 60:.0f} min)",
                "met" if ok else "MISSED",
                f"link {p['link_seconds']:.2f} s ({p['link_bytes']:,} bytes, "
                f"{p['round_trips']} round trips), device {p['device_seconds']:.3f} s")
    x = cyc.get("xor")
    if x:
        n = x["cycles_per_batch"]
        ok = n <= TARGETS["xor_step_cycles"]
        ticks = x["model_tick_cycles"]
        add(f"XOR 2-2-1 training step (batch {x['batch']}, {x['multipliers_total']} "
            "multipliers, forward + adjoint + gradient + update)",
            f"<= {TARGETS['xor_step_cycles']} cycles", f"{n} cycles", "met" if ok else "MISSED",
            "" if ok else f"{x['ticks_per_batch']} ticks (B + 2L) of {ticks} cycles + 1 "
            f"prologue cycle = {n}")
    else:
        add("XOR 2-2-1 training step", f"<= {TARGETS['xor_step_cycles']} cycles", "-",
            "NOT MEASURED", "the XOR configuration was not run")
    for r in results.get("cycles", []):
        u = r["utilization_batch"]
        ok = u >= TARGETS["utilization"]
        why = ""
        if not ok:
            fill = 2 * r["L"]
            us = r.get("utilization_steady")
            why = (f"a batch of {r['batch']} runs {r['ticks_per_batch']} ticks, {fill} of them "
                   f"filling/draining the pipeline (2L); ")
            if us is not None:
                why += (f"the marginal (steady-tick) utilization is {us:.1%}: "
                        f"a steady tick takes {r['cycles_per_tick_steady']:g} cycles against "
                        f"ceil(busiest cell's work / its multipliers) = {r['tick_bound']}")
        add(f"multiplier utilization, {r['config']} "
            f"{'-'.join(map(str, r['sizes']))} ({'+'.join(map(str, r['multipliers']))} "
            f"multipliers), batch {r['batch']}",
            f">= {TARGETS['utilization']:.0%}", f"{u:.1%}", "met" if ok else "MISSED", why)
    u = thr.get("ulx3s-85f")
    if u:
        sps = u["samples_per_s"]
        ok = sps is not None and sps >= TARGETS["ulx3s_samples_per_s"]
        why = (f"{u['clock_mhz']:g} MHz / {u['cycles_per_sample_steady']:g} cycles per sample")
        if not ok:
            why += (f" = {_fmt_rate(sps)}; 1 M/s needs Fmax >= "
                    f"{u['cycles_per_sample_steady']:.0f} MHz at this cycle count")
        status = _clock_status(ok, u)
        if u["config_mismatch"]:
            why += "; " + u["config_mismatch"]
        if _build_failed(u):
            why = f"no bitstream: the board's build failed (see synthesis); at its clock, {why}"
        add("ULX3S-85F digits training samples per second",
            f">= {_fmt_rate(TARGETS['ulx3s_samples_per_s'])}",
            f"{_fmt_rate(sps)} ({u['clock_basis']}, {u['clock_mhz']:g} MHz)", status, why)
        r = u["vs_gpu_latency"]
        ok = r is not None and r >= TARGETS["ulx3s_vs_gpu_batch1"]
        lim = GPU_ANCHOR["batch1_step_us"] / TARGETS["ulx3s_vs_gpu_batch1"]
        why = (f"{u['online_step_cycles']} cycles at {u['clock_mhz']:g} MHz = "
               f"{u['online_step_us']:.2f} us against {GPU_ANCHOR['batch1_step_us']} us")
        if not ok:
            why += (f"; 10x needs <= {lim:.2f} us: <= {lim * u['clock_mhz']:.0f} cycles at this "
                    f"clock, or Fmax >= {u['online_step_cycles'] / lim:.0f} MHz")
        if _build_failed(u):
            why = f"no bitstream: the board's build failed (see synthesis); at its clock, {why}"
        add("ULX3S-85F batch-1 training step against the GPU anchor",
            f">= {TARGETS['ulx3s_vs_gpu_batch1']:g}x faster ({lim:.2f} us)",
            f"{r:.1f}x ({u['online_step_us']:.2f} us, {u['clock_basis']})", _clock_status(ok, u),
            why)
    else:
        for name in ("ULX3S-85F digits training samples per second",
                     "ULX3S-85F batch-1 training step against the GPU anchor"):
            add(name, "-", "-", "NOT MEASURED", "the digits-ecp5 configuration was not run")
    ice = syn.get("icebreaker")
    goal = f">= {TARGETS['icebreaker_fmax_mhz']:g} MHz"
    if ice is None:
        add("iCEBreaker Fmax", goal, "-", "NOT MEASURED", "no iCEBreaker board defined")
    elif ice.get("fmax_mhz") is not None:
        f = ice["fmax_mhz"]
        ok = f >= TARGETS["icebreaker_fmax_mhz"]
        why = "" if ok else (f"achieved Fmax {f:g} MHz < {TARGETS['icebreaker_fmax_mhz']:g} "
                             f"MHz; critical clock: {ice.get('clocks')}")
        if ice["status"] == "failed":
            why = f"build failed: {ice.get('reason')}; " + why
        add("iCEBreaker Fmax (achieved, place and route)", goal, f"{f:g} MHz",
            "met" if ok and ice["status"] != "failed" else "MISSED", why)
    elif ice["status"] == "failed":
        add("iCEBreaker Fmax (achieved, place and route)", goal, "-", "MISSED",
            f"build failed: {ice.get('reason')}")
    else:
        add("iCEBreaker Fmax (achieved, place and route)", goal, "-", "NOT MEASURED",
            f"{ice['status']}: run `{ice['build_command']}` (10-40 min), then `make bench`")
    # must-hold checks
    ex = results.get("exactness", {})
    rel = ex.get("relaxation_float64")
    if rel:
        ok = rel["exact_from_2L"] == rel["networks"]
        add("float64 relaxation bit-identical to backprop from tick 2L", "all networks",
            f"{rel['exact_from_2L']}/{rel['networks']}", "met" if ok else "MISSED",
            "" if ok else f"not exact: networks {rel['not_exact'][:10]}")
    rv = ex.get("rtl_vs_fixed")
    if rv and rv.get("values_compared"):
        ok = rv["values_matching"] == rv["values_compared"]
        add("RTL values equal to the fixed-point golden model", "100 %",
            f"{rv['share']:.4%} of {rv['values_compared']:,}", "met" if ok else "MISSED",
            "" if ok else "mismatching checks: " + ", ".join(
                k for k, v in rv["by_check"].items() if v["matching"] != v["compared"]))
    if results.get("cycles"):
        ok = all(r["rtl_equals_model"] for r in results["cycles"])
        add("RTL cycle counters equal to the cycle model", "every run",
            "equal" if ok else "DIFFERENT", "met" if ok else "MISSED",
            "" if ok else ", ".join(r["config"] for r in results["cycles"]
                                    if not r["rtl_equals_model"]))
    acc = results.get("accuracy", {})
    if acc.get("rtl"):
        ok = acc["rtl_equals_fixed"]
        add(f"digits test accuracy after {acc['epochs']} epochs: RTL training equals fixed "
            "point (every epoch, final weights)", "RTL = fixed",
            f"float64 {acc['float64']['test_accuracy']:.2%}, fixed "
            f"{acc['fixed']['test_accuracy']:.2%}, RTL {acc['rtl']['test_accuracy']:.2%}",
            "met" if ok else "MISSED", "" if ok else "RTL training diverged from the golden model")
    return T


def _build_failed(thr_row) -> bool:
    return not thr_row["achieved_fmax"] and "(failed)" in thr_row["clock_basis"]


def _clock_status(ok, thr_row):
    if not ok or _build_failed(thr_row):   # no bitstream: a target-clock figure meets nothing
        return "MISSED"
    if thr_row["config_mismatch"]:
        return "met (unverified: synthesized configuration differs)"
    return "met" if thr_row["achieved_fmax"] else "met at target clock (unverified: not built)"


# =====================================================================================
# report
# =====================================================================================
def _pct(v, digits=1):
    return "-" if v is None else f"{100 * v:.{digits}f} %"


def _x(v):
    return "-" if v is None else (f"{v:.1f}x" if v >= 0.1 else f"{v:.3f}x")


def _mults(r):
    """Multipliers the tiling uses, and the configured count when that is larger."""
    used = "+".join(map(str, r["multipliers"]))
    conf = r.get("multipliers_configured")
    return used if not conf or conf == r["multipliers"] else \
        f"{used} (of {'+'.join(map(str, conf))} configured)"


def _sizes(r):
    return "-".join(map(str, r["sizes"]))


def headline_table(results: dict) -> str:
    """The table for the README: every target and must-hold check, measured."""
    lines = ["| what | measured | target | |", "|---|---|---|---|"]
    for t in results.get("targets") or evaluate_targets(results):
        lines.append(f"| {t['target']} | {t['measured']} | {t['goal']} | {t['status']} |")
    thr = results.get("throughput", {})
    cpu = thr.get("pytorch_cpu", {})
    for b in thr.get("boards", []):
        if b["board"] not in HEADLINE_BOARDS:
            continue
        lines.append(f"| {b['title']} ({b['config']}), {b['clock_mhz']:g} MHz "
                     f"{b['clock_basis']}: training samples/s; batch-1 step | "
                     f"{_fmt_rate(b['samples_per_s'])}; {b['online_step_us']:.2f} us | | |")
        if not b.get("comparable", True):
            lines.append(f"| ... not compared with PyTorch or the H200 anchor: "
                         f"{'-'.join(map(str, b['sizes']))} is not their 64-32-10 | | | |")
            continue
        lines.append(f"| ... against PyTorch on this CPU (batch 256 samples/s; batch-1 step) | "
                     f"{_x(b['vs_cpu_samples'])}; {_x(b['vs_cpu_latency'])} | | ratio |")
        lines.append(f"| ... against the H200 anchor (batch 256 samples/s; batch-1 step) | "
                     f"{_x(b['vs_gpu_samples'])}; {_x(b['vs_gpu_latency'])} | | ratio |")
    if cpu.get("status") == "measured":
        lines.append(f"| PyTorch {cpu['torch']} on this CPU ({cpu['cores']} cores): "
                     f"batch-256 samples/s; batch-1 step | "
                     f"{_fmt_rate(cpu['batch256_samples_per_s'])}; "
                     f"{cpu['batch1_step_us']:.1f} us | | baseline |")
    elif cpu:
        lines.append(f"| PyTorch CPU baseline | {cpu.get('status')} | | baseline |")
    return "\n".join(lines)


def format_report(results: dict) -> str:
    """The whole Markdown report (headline table, then every section)."""
    meta = results.get("meta", {})
    out = ["# dyadic benchmark", ""]
    if meta:
        out.append(f"Run {meta.get('date')} on commit {meta.get('commit')}"
                   f"{' (quick)' if meta.get('quick') else ''}; {meta.get('machine')}; "
                   f"wall time {meta.get('wall_seconds', 0):.0f} s. Regenerate with "
                   f"`make bench` (or `make bench QUICK=1`).")
        out.append("")
    out += ["## Headline", "", headline_table(results), ""]
    out += ["## Targets", ""]
    for t in results.get("targets") or evaluate_targets(results):
        line = f"- target {t['target']}: {t['goal']}; measured {t['measured']} — {t['status']}"
        if t["why"]:
            line += f" ({t['why']})"
        out.append(line)
    out.append("")
    out += _exactness_md(results.get("exactness", {}))
    out += _cycles_md(results.get("cycles", []))
    out += _throughput_md(results.get("throughput", {}))
    out += _accuracy_md(results.get("accuracy", {}))
    out += _simulation_md(results.get("simulation", {}))
    out += _synthesis_md(results.get("synthesis", []))
    out += _end_to_end_md(results.get("end_to_end", {}))
    return "\n".join(out).rstrip() + "\n"


def _end_to_end_md(e2e):
    if not e2e or not e2e.get("link"):
        return []
    k = e2e["link"]
    out = ["## End to end", "",
           f"digits, {e2e['epochs']} epochs, batch {e2e['batch']}: {e2e['train_samples']} "
           f"training and {e2e['test_samples']} test samples, loaded once. Link traffic an "
           "epoch (bytes both ways; round trips):", "",
           "| path | load | an epoch | cycles an epoch (RTL = model) |", "|---|---|---|---|"]
    for name, m in (("resident (TRAIN, EVALUATE x2, READ_COUNTERS)", k["resident"]),
                    ("batch by batch through the resident memory", k["per_batch"])):
        out.append(f"| {name} | {m['load_bytes']:,}; {m['load_round_trips']} | "
                   f"{m['epoch_bytes']:,}; {m['epoch_round_trips']} | {m['epoch_cycles']:,} "
                   f"({'=' if m['epoch_cycles'] == m['epoch_cycles_model'] else '!='} "
                   f"{m['epoch_cycles_model']:,}) |")
    out.append(f"| before resident sets ({k['before']['commit']}: 32-bit words) | | "
               f"{k['before']['epoch_bytes']:,}; {k['before']['epoch_round_trips']} | |")
    out += ["", "Predicted wall time of the whole run on each board's default configuration "
            "(link at its bridge's rate, 1 ms a round trip, cycles at its clock):", "",
            "| board | configuration | path | predicted | link | device | before |",
            "|---|---|---|---|---|---|---|"]
    for b in e2e["boards"]:
        if b.get("status") != "measured":
            out.append(f"| {b['title']} | {b['config']} | {b.get('status')} | | | | |")
            continue
        p = b["predicted"]
        out.append(f"| {b['title']} | {b['config']} ({'-'.join(map(str, b['sizes']))}) | "
                   f"{b['measured']['path']} | {p['seconds']:.2f} s | {p['link_seconds']:.2f} s "
                   f"| {p['device_seconds']:.3f} s | {b['before']['seconds'] / 60:.1f} min |")
    cpu, f64 = e2e.get("pytorch_cpu", {}), e2e.get("float64", {})
    if cpu.get("status") == "measured":
        out.append(f"| PyTorch {cpu['torch']} on this CPU | 64-32-10, float32 | | "
                   f"{cpu['seconds']:.2f} s | | | |")
    if f64:
        out.append(f"| float64 golden model on this CPU | 64-32-10 | | {f64['seconds']:.2f} s "
                   "| | | |")
    demo = e2e.get("demo")
    if demo:
        before = demo.get("before", {})
        out += ["", f"`make demo`: {demo['after_seconds']:.0f} s now"
                + (f", {before['seconds']:.0f} s before ({before['commit']}, "
                   f"{before['note']})" if before else "") + "."]
    return out + [""]


def _exactness_md(ex):
    out = ["## 1. Exactness", ""]
    rel = ex.get("relaxation_float64")
    if rel:
        out.append(f"- float64 relaxation, dt = 1, {rel['networks']} random networks (depth "
                   f"{min(rel['depths'])}-{max(rel['depths'])}, widths 1-{rel['max_width']}, "
                   f"{', '.join(rel['activations'])}; zero and random initial state): the "
                   f"read-out is bit-identical to backprop at tick 2L and after (checked to "
                   f"2L + 2) for **{rel['exact_from_2L']}/{rel['networks']}**; first exact "
                   f"exactly at tick 2L for {rel['exact_exactly_at_2L']}"
                   + (f"; the other {rel['networks'] - rel['exact_exactly_at_2L']} "
                      f"({', '.join(rel.get('exact_before_2L_activations', []))}, where f' = 0 "
                      f"can hide the early error) already before." if rel['exact_exactly_at_2L']
                      < rel['networks'] else "."))
        fx = rel["fixed_point"]
        if fx["networks"]:
            out.append(f"- fixed point (Q4.12, hardware activations; {fx['networks']} of the "
                       f"networks, {fx['saturated']} saturated and left out): gradient after "
                       f"2L ticks against float64 backprop of the same float network: largest "
                       f"error {fx['max_err_vs_float64']:.2e}, median "
                       f"{fx['median_err_vs_float64']:.2e}, 95th percentile "
                       f"{fx['p95_err_vs_float64']:.2e}, above 1e-2 in "
                       f"{fx['networks_err_above_1e-2']} networks (largest gradient magnitude "
                       f"{fx['max_grad_magnitude']:.2f}). Against the dequantized network "
                       f"(rounding only): largest {fx['max_err_vs_dequantized']:.2e}, within "
                       f"the derived bound for {fx['within_derived_bound']}/"
                       f"{fx['networks'] - fx['saturated']} (largest bound "
                       f"{fx['max_bound']:.2e})."
                       + _worst_note(fx))
    rv = ex.get("rtl_vs_fixed")
    if rv and rv.get("values_compared"):
        out.append(f"- RTL against the fixed-point golden model: **{rv['share']:.4%}** of "
                   f"{rv['values_compared']:,} values equal:")
        for k, v in rv["by_check"].items():
            out.append(f"  - {k}: {v['matching']:,}/{v['compared']:,}")
    if ex.get("plot"):
        out.append(f"- plot: `{ex['plot']}` (error against tick, dt = 1, 1/2, 1/4, 1/8)")
    return out + [""]


def _worst_note(fx):
    w = fx.get("worst_network")
    if not w or w.get("nearest_kink") is None or fx.get("half_lsb_act") is None:
        return ""
    if w["nearest_kink"] <= fx["half_lsb_act"]:
        return (f" The largest error (network {w['net']}) has a pre-activation "
                f"{w['nearest_kink']:.1e} from an activation kink, within half an LSB "
                f"({fx['half_lsb_act']:.1e}) of it, so the rounded f' differs from float64's; "
                "the bound allows for that.")
    return (f" The largest error (network {w['net']}): nearest pre-activation to a kink "
            f"{w['nearest_kink']:.1e}.")


def _cycles_md(rows):
    if not rows:
        return ["## 2. Cycles and utilization", "", "not run", ""]
    out = ["## 2. Cycles and utilization", "",
           "Every number is the RTL's own counter (Verilator) unless marked model; the RTL "
           "must equal the cycle model in every run.", "",
           "| config | multipliers | B | ticks (B + 2L) | cycles / batch (RTL; model) | "
           "steady cycles / tick (RTL; model; bound) | cycles / sample (batch; steady) | "
           "utilization (batch; steady) | batch-1 step, cycles | relax 2L + read-out, cycles "
           "| RTL = model |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        st = r["cycles_per_tick_steady"]
        stm = r["cycles_per_tick_steady_model"]
        out.append(
            f"| {r['config']} {_sizes(r)} | {_mults(r)} | "
            f"{r['batch']} | {r['ticks_per_batch']} ({r['ticks_expected']}) | "
            f"{r['cycles_per_batch']}; {r['stream_batch']['model_cycles']} | "
            f"{'-' if st is None else f'{st:g}'}; {'-' if stm is None else f'{stm:g}'}; "
            f"{r['tick_bound']} | {r['cycles_per_sample_batch']:.1f}; "
            f"{'-' if st is None else f'{st:g}'} | {_pct(r['utilization_batch'])}; "
            f"{_pct(r['utilization_steady'])} | {r['online_step_cycles']} "
            f"({r['online_step_ticks']} ticks) | {r['relax_2L_cycles']} | "
            f"{'yes' if r['rtl_equals_model'] else 'NO'} |")
    out += ["", "Steady = marginal cost of one more sample, (cycles(B) - cycles(B/2)) / (B/2) "
            "from the RTL counters; bound = ceil(busiest cell's work per tick / its "
            "multipliers). The batch-1 step is a streaming batch of one with the SGD update "
            "(forward L ticks, adjoint L ticks, gradient read-out with the update fused).", ""]
    if any(r.get("plot") for r in rows):
        out += [f"Plot: `{rows[0]['plot']}`", ""]
    return out


def _throughput_md(thr):
    out = ["## 3. Throughput and latency", ""]
    cpu = thr.get("pytorch_cpu", {})
    if cpu.get("status") == "measured":
        out.append(f"PyTorch {cpu['torch']} on this machine's CPU ({cpu['cpu']}, "
                   f"{cpu['cores']} cores, shared; load average {cpu['load_average_before']} "
                   f"before): {'-'.join(map(str, cpu['sizes']))}, ReLU, {cpu['loss']}, SGD, "
                   f"float32, process nice {cpu.get('nice')}. Timed in blocks of steps after "
                   f"warm-up, with 1 thread and with all cores; the ratios use the fastest "
                   f"block of the faster thread count (the baseline's best case):")
        out.append("")
        out.append("| batch | threads | step, best block (median) | samples/s, best block "
                   "(median) |")
        out.append("|---|---|---|---|")
        for r in cpu["runs"]:
            out.append(f"| {r['batch']} | {r['threads']} | {r['step_us']:.1f} us "
                       f"({r['step_us_median']:.1f} us) | {_fmt_rate(r['samples_per_s'])} "
                       f"({_fmt_rate(r['samples_per_s_median'])}) |")
        out.append("")
        load = (cpu.get("load_average_before") or [0])[0]
        if load > 0.5 * (cpu.get("cores") or 1) or cpu.get("nice"):
            out += [f"Caveat: the CPU was shared (load average {load} on {cpu['cores']} cores) "
                    f"and the process ran at nice {cpu.get('nice')}, so an idle CPU would "
                    "likely be faster than this; the ratios against it favour the boards by "
                    "that much.", ""]
    else:
        out += [f"PyTorch CPU baseline: {cpu.get('status', 'not run')}; its ratios are left "
                "out.", ""]
    g = GPU_ANCHOR
    out += [f"GPU anchor ({g['source']}): {g['what']}: batch-1 step {g['batch1_step_us']} us, "
            f"{_fmt_rate(g['batch256_samples_per_s'])} at batch 256.", ""]
    rows = thr.get("boards", [])
    if rows:
        out += ["| board (config) | clock | steady cycles / sample | samples/s (steady; at max "
                "batch incl. fill, drain, update) | batch-1 step | vs CPU (samples/s; "
                "latency) | vs H200 anchor (samples/s; latency) |",
                "|---|---|---|---|---|---|---|"]
        for b in rows:
            out.append(
                f"| {b['title']} ({b['config']}) | {b['clock_mhz']:g} MHz, {b['clock_basis']} | "
                f"{b['cycles_per_sample_steady']:g} | {_fmt_rate(b['samples_per_s'])}; "
                f"{_fmt_rate(b['samples_per_s_at_max_batch'])} (B = {b['batch']}) | "
                f"{b['online_step_cycles']} cycles = {b['online_step_us']:.2f} us | "
                f"{_x(b['vs_cpu_samples'])}; {_x(b['vs_cpu_latency'])} | "
                f"{_x(b['vs_gpu_samples'])}; {_x(b['vs_gpu_latency'])} |")
        for b in rows:
            if b["config_mismatch"]:
                out.append(f"\n- {b['board']}: {b['config_mismatch']}.")
        out += ["", "Ratios are the board over the baseline (above 1: the board is faster). "
                "These are core numbers with the samples already in on-chip memory; "
                f"{thr.get('link_note', '')}", ""]
    if thr.get("plot"):
        out += [f"Plot: `{thr['plot']}`", ""]
    return out


def _accuracy_md(acc):
    out = ["## 4. Accuracy", ""]
    if not acc.get("rtl"):
        return out + [acc.get("status", "not run"), ""]
    out += [f"digits {'-'.join(map(str, acc['sizes']))} ({acc['activation']}), {acc['epochs']} "
            f"epochs, batch {acc['batch']}, lr 2^{math.log2(acc['lr']):g}, seed {acc['seed']} "
            f"({acc['train_samples']} train / {acc['test_samples']} test samples); RTL: "
            f"{acc['rtl_config']} on {acc['rtl']['simulator']}.", "",
            "| model | test accuracy | train accuracy | wall time |", "|---|---|---|---|"]
    for k, label in (("float64", "float64"), ("fixed", "fixed point (Q4.12)"),
                     ("rtl", "RTL (Verilator)")):
        r = acc[k]
        out.append(f"| {label} | {_pct(r['test_accuracy'], 2)} | "
                   f"{_pct(r['train_accuracy'], 2)} | {r['seconds']} s |")
    out += ["", f"RTL equals fixed point (every epoch's metrics and the final weights, bit for "
            f"bit): {'yes' if acc['rtl_equals_fixed'] else 'NO'}. Fixed-point saturation "
            f"events: {acc['fixed']['saturation']}.", ""]
    if acc.get("plot"):
        out += [f"Plot: `{acc['plot']}`", ""]
    return out


def _simulation_md(sim):
    out = ["## 5. Simulation speed", ""]
    if not sim.get("simulators"):
        return out + [sim.get("status", "not run"), ""]
    out += [f"{sim['config']} {'-'.join(map(str, sim['sizes']))} "
            f"({'+'.join(map(str, sim['multipliers']))} multipliers), streaming batches "
            f"through cocotb; {sim['method']}.", "",
            "| simulator | streaming batches | cycles simulated | cycles / s | session with "
            "set-up only |", "|---|---|---|---|---|"]
    for s in sim["simulators"]:
        if s["status"] != "measured":
            out.append(f"| {s['simulator']} | {s['status']} | | | |")
            continue
        cps = s["cycles_per_s"]
        reps = f"{s.get('reps', '?')} x {s.get('batch', sim.get('batch', '?'))}"
        out.append(f"| {s['simulator']} | {reps} | {s['cycles']:,} | "
                   f"{'-' if cps is None else f'{cps:,.0f}'} | {s['setup_session_s']} s |")
    out.append("")
    if sim.get("verilator_over_icarus"):
        out.append(f"Verilator is {sim['verilator_over_icarus']:.1f}x faster than Icarus here.")
    if sim.get("training"):
        t = sim["training"]
        out.append(f"During the RTL training run (Verilator C++ server, the demo's path, link "
                   f"and host evaluation included): {t['core_cycles_per_s']:,.0f} core "
                   f"cycles/s, {t['simulated_samples_per_s']:.0f} training samples/s.")
    return out + [""]


def _synthesis_md(rows):
    out = ["## 6. Synthesis", "", "Collected from `build/boards/<board>/report.json` (or "
           "`failure.json`); `make bench` never runs synthesis.", "",
           "| board | status | config | Fmax (target) | resources | build time |",
           "|---|---|---|---|---|---|"]
    for s in rows:
        res = ", ".join(f"{k} {v['used']}/{v['available']}"
                        for k, v in (s.get("resources") or {}).items()
                        if isinstance(v, dict) and "used" in v)
        fmax = s.get("fmax_mhz")
        status = s["status"]
        if status == "not built":
            status = f"not built: `{s['build_command']}`" + (f" ({s['note']})"
                                                              if s.get("note") else "")
        elif status == "failed":
            status = f"failed: {s.get('reason', '').splitlines()[0] if s.get('reason') else ''}"
        secs = s.get("build_seconds")
        out.append(f"| {s['title']} | {status} | {s.get('config', s.get('default_config'))} | "
                   f"{'-' if fmax is None else f'{fmax:g} MHz'} ({s['target_mhz']:g} MHz) | "
                   f"{res or '-'} | {'-' if secs is None else f'{secs:.0f} s'} |")
    return out + [""]


# =====================================================================================
# the run
# =====================================================================================
def _link_note(cfg: DyadicConfig, baud: int = 115200) -> str:
    """What the board's UART would allow if every sample came over it (an upper bound)."""
    words = cfg.sizes[0] + cfg.sizes[-1]
    rate = baud / 10 / (4 * words)   # 8N1: 10 bits per byte; 32-bit words; no framing
    return (f"fed over the boards' {baud} baud UART instead, {words} words per "
            f"{'-'.join(map(str, cfg.sizes))} sample would cap training at "
            f"{rate:.0f} samples/s (before framing), so these rates need the samples "
            "generated or stored on the board, or a faster link.")


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return head + ("+uncommitted changes" if dirty else "") if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_bench(out_dir: Path, quick: bool = False, boards_dir: Path | None = None,
              sections=SECTIONS, log=None) -> dict:
    """Measure every section, write results.json, report.md and the plots into ``out_dir``."""
    from .plots import plot_cycles, plot_throughput, plot_training

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    boards_dir = Path(boards_dir) if boards_dir else ROOT / "build" / "boards"
    clock = log or _Clock()
    t_start = time.perf_counter()
    try:
        from boards import BOARDS
    except ImportError as e:
        BOARDS = {}
        clock("synthesis", f"board list unavailable ({e})")
    results = {"meta": {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": _git_commit(), "quick": quick,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "load_average_start": _loadavg()}}
    for s in SECTIONS:
        results[s] = [] if s in ("cycles", "synthesis") else {"status": "skipped"}
    if "end_to_end" in sections:
        from .end_to_end import end_to_end
        clock("end_to_end", "a digits run as a user meets it ...")
        results["end_to_end"] = end_to_end(BOARDS, quick, log=lambda m: clock("end_to_end", m))
    tally = _Tally()

    if "exactness" in sections:
        n = 200
        clock("exactness", f"relaxation on {n} random networks (float64 and fixed point) ...")
        t0 = time.perf_counter()
        rel = exactness_sweep(n)
        plot = out_dir / "relaxation_error.png"
        _relaxation_curves(plot)
        results["exactness"] = {"relaxation_float64": rel, "plot": str(plot),
                                "seconds": round(time.perf_counter() - t0, 1)}
        clock("exactness", f"{rel['exact_from_2L']}/{n} exact from tick 2L; fixed point "
              f"largest error against float64 {rel['fixed_point']['max_err_vs_float64']:.2e}")

    configs, board_cfg = plan_configs(BOARDS, quick)
    results["meta"]["configs"] = configs
    results["meta"]["board_configs"] = board_cfg

    def small_digits():
        return Path(SMALL_DIGITS_CONFIG).stem, DyadicConfig.load(ROOT / SMALL_DIGITS_CONFIG)

    if "cycles" in sections:
        rows = []
        for name, path in configs.items():
            row, checks = rtl_session(name, DyadicConfig.load(ROOT / path), path=path,
                                      log=lambda m: clock("cycles", m))
            rows.append(row)
            tally.merge(checks)
        plot = out_dir / "cycles_utilization.png"
        plot_cycles(plot, rows)
        for r in rows:
            r["plot"] = str(plot)
        results["cycles"] = rows

    if "synthesis" in sections or "throughput" in sections:
        results["synthesis"] = collect_synthesis(boards_dir, BOARDS)
        for s in results["synthesis"]:
            clock("synthesis", f"{s['board']}: {s['status']}"
                  + (f", Fmax {s['fmax_mhz']} MHz" if s.get("fmax_mhz") else ""))

    if "throughput" in sections:
        clock("throughput", "PyTorch on this CPU ...")
        cpu = pytorch_cpu(quick=quick, log=lambda m: clock("throughput", m))
        if cpu["status"] != "measured":
            clock("throughput", cpu["status"])
        rows = throughput_rows(results["cycles"], results["synthesis"], BOARDS, cpu, board_cfg)
        thr = {"pytorch_cpu": cpu, "gpu_anchor": GPU_ANCHOR, "boards": rows,
               "link_note": _link_note(small_digits()[1])}
        if rows:
            plot = out_dir / "throughput.png"
            plot_throughput(plot, rows, cpu, GPU_ANCHOR)
            thr["plot"] = str(plot)
        for b in rows:
            clock("throughput", f"{b['board']}: {_fmt_rate(b['samples_per_s'])}, batch-1 step "
                  f"{b['online_step_us']:.2f} us ({b['clock_basis']}, {b['clock_mhz']:g} MHz)")
        results["throughput"] = thr

    if "accuracy" in sections:
        epochs = 2 if quick else None
        clock("accuracy", f"digits, {epochs or 'default'} epochs: float64, fixed point, RTL ...")
        name, cfg = small_digits()
        acc = accuracy_runs(cfg, epochs, log=lambda m: clock("accuracy", m), name=name)
        tally.merge(acc.pop("_tally"))
        plot = out_dir / "training_curves.png"
        plot_training(plot, {"RTL (Verilator)": acc["rtl"]["history"],
                             "fixed point": acc["fixed"]["history"],
                             "float64": acc["float64"]["history"]},
                      f"digits {'-'.join(map(str, acc['sizes']))}, batch {acc['batch']}, "
                      f"lr {acc['lr']:g}, seed {acc['seed']}")
        acc["plot"] = str(plot)
        results["accuracy"] = acc
        clock("accuracy", f"test accuracy float64 {acc['float64']['test_accuracy']:.2%}, "
              f"fixed {acc['fixed']['test_accuracy']:.2%}, RTL {acc['rtl']['test_accuracy']:.2%}"
              f" (RTL = fixed: {acc['rtl_equals_fixed']})")

    if "simulation" in sections:
        # (streaming batches, batch size; None: max_batch). Icarus runs ~500 cycles/s here.
        reps = ({"icarus": (1, 8), "verilator": (10, None)} if quick
                else {"icarus": (2, None), "verilator": (40, None)})
        name, cfg = small_digits()
        clock("simulation", f"{name}: Icarus and Verilator ...")
        sim = simulation_speed(cfg, name, reps,
                               log=lambda m: clock("simulation", m))
        if isinstance(results["accuracy"], dict) and results["accuracy"].get("rtl"):
            r = results["accuracy"]["rtl"]
            sim["training"] = {"config": results["accuracy"]["rtl_config"],
                               "core_cycles_per_s": r["core_cycles_per_s"],
                               "simulated_samples_per_s": r["simulated_samples_per_s"]}
        results["simulation"] = sim

    if tally.checks:
        if results["exactness"].get("status") == "skipped":
            results["exactness"] = {}
        results["exactness"]["rtl_vs_fixed"] = tally.summary()
    results["targets"] = evaluate_targets(results)
    results["meta"]["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    results["meta"]["load_average_end"] = _loadavg()
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=_json_default)
                                          + "\n")
    (out_dir / "report.md").write_text(format_report(results))
    return results


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
