"""Benchmarks (``dyadic bench`` / ``make bench``): measured numbers, printed and saved.

Seven sections, each measured in this run (nothing is copied from an earlier one):

- ``exactness``: float64 relaxation against backprop over random networks, the
  fixed-point model against float64, and every value the RTL returned against the
  fixed-point golden model;
- ``cycles``: the RTL's own counters (Verilator) next to the cycle model, which must
  be equal;
- ``throughput``: samples per second and batch-1 step latency of each board's default
  configuration at the clock its bitstream runs at (achieved Fmax beside it), against
  PyTorch on this CPU and a quoted GPU anchor;
- ``accuracy``: digits trained in float64, fixed point and on the RTL;
- ``simulation``: simulated cycles per second, Icarus and Verilator;
- ``synthesis``: the boards' build reports (this command never runs synthesis);
- ``end_to_end``: a 30-epoch digits run as a user meets it: link bytes and round trips
  an epoch, one epoch on each board default's RTL, each board's predicted wall time.

``results.json`` also carries ``meta`` (when, where, how long) and ``targets`` (each
target with its measured value, met or missed, and why).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from firmware_py import ROOT
from firmware_py.contract.config import DyadicConfig

from .accuracy import accuracy_runs, board_formats
from .common import (
    GPU_ANCHOR,
    SMALL_DIGITS_CONFIG,
    _Clock,
    _git_commit,
    _json_default,
    _loadavg,
    _Tally,
    fmt_rate,
    plan_configs,
    ratio,
)
from .cycles import cycles_row, model_counters, rtl_session
from .exactness import _relaxation_curves, exactness_sweep, relax_example
from .report import format_report, headline_table
from .simulation import simulation_speed
from .synthesis import collect_synthesis
from .targets import TARGETS, evaluate_targets
from .throughput import _link_note, board_clock, pytorch_cpu, throughput_rows

__all__ = ["run_bench", "SECTIONS", "format_report", "headline_table", "evaluate_targets",
           "exactness_sweep", "collect_synthesis", "board_clock", "throughput_rows", "ratio",
           "plan_configs", "cycles_row", "model_counters", "GPU_ANCHOR", "TARGETS"]

SECTIONS = ("exactness", "cycles", "throughput", "accuracy", "simulation", "synthesis",
            "end_to_end")


def run_bench(out_dir: Path, quick: bool = False, boards_dir: Path | None = None,
              sections=SECTIONS, log=None) -> dict:
    """Measure every section, write results.json, report.md and the plots into ``out_dir``."""
    from firmware_py.ui.plots import plot_cycles, plot_throughput, plot_training

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
    if {"synthesis", "throughput", "end_to_end"} & set(sections):
        results["synthesis"] = collect_synthesis(boards_dir, BOARDS)
        for s in results["synthesis"]:
            clock("synthesis", f"{s['board']}: {s['status']}"
                  + (f", Fmax {s['fmax_mhz']} MHz" if s.get("fmax_mhz") else ""))
    if "end_to_end" in sections:
        from .end_to_end import end_to_end
        clock("end_to_end", "a digits run as a user meets it ...")
        results["end_to_end"] = end_to_end(BOARDS, quick, log=lambda m: clock("end_to_end", m),
                                           synthesis=results["synthesis"])
    tally = _Tally()

    if "exactness" in sections:
        n = 200
        clock("exactness", f"relaxation on {n} random networks (float64 and fixed point) ...")
        t0 = time.perf_counter()
        rel = exactness_sweep(n)
        plot = out_dir / "relaxation_error.png"
        _relaxation_curves(plot)
        results["exactness"] = {"relaxation_float64": rel, "plot": str(plot),
                                "relax_example": relax_example(),
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
            clock("throughput", f"{b['board']}: {fmt_rate(b['samples_per_s'])}, batch-1 step "
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
        clock("accuracy", "each board's digits network in its formats (golden model) ...")
        acc["boards"] = board_formats(board_cfg, {n: ROOT / p for n, p in configs.items()},
                                      epochs, log=lambda m: clock("accuracy", m))
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
