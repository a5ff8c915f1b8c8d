"""matplotlib figures for the command line (written to files, never shown)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_relaxation", "plot_training", "plot_cycles", "plot_throughput"]

EXACT_FLOOR = 1e-18  # where an error of exactly 0.0 is drawn on a log axis


def plot_relaxation(path, L: int, curves: dict):
    """curves: {label: [(tick, max_abs_err), ...]}; exact zeros drawn on the floor."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, pts in curves.items():
        t = [p[0] for p in pts]
        e = [max(p[1], EXACT_FLOOR) for p in pts]
        line, = ax.semilogy(t, e, marker="o", ms=3, label=label)
        zeros = [tt for tt, ee in pts if ee == 0.0]
        if zeros:
            ax.semilogy(zeros, [EXACT_FLOOR] * len(zeros), "s", color=line.get_color(), ms=6)
    ax.axvline(2 * L, color="k", ls="--", lw=1)
    ax.text(2 * L, ax.get_ylim()[1], f"  2L = {2 * L}", va="top")
    ax.set_xlabel("tick")
    ax.set_ylabel("max |gradient - backprop|  (squares: exactly 0.0)")
    ax.set_title(f"Dyadic relaxation of a {L}-layer network")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training(path, runs: dict, title: str):
    """runs: {label: history list of per-epoch dicts}; loss and accuracy panels.

    Later runs are drawn wide and pale under the first, so that a device run that
    matches its reference exactly stays visible on top of it.
    """
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    for k, (label, hist) in enumerate(runs.items()):
        ep = [r["epoch"] for r in hist]
        style = dict(lw=1.2, marker="o", ms=3, zorder=3) if k == 0 else \
            dict(lw=6, alpha=0.3, zorder=2)
        for ax, key in ((ax_l, "loss"), (ax_a, "accuracy")):
            ax.plot(ep, [r[f"train_{key}"] for r in hist], "--", label=f"{label} train", **style)
            ax.plot(ep, [r[f"test_{key}"] for r in hist], "-", label=f"{label} test", **style)
    ax_l.set_yscale("log")
    ax_l.set_ylabel("loss 1/2|s_L - y|^2")
    ax_a.set_ylabel("accuracy")
    for ax in (ax_l, ax_a):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_cycles(path, rows: list):
    """Benchmark: multiplier utilization per configuration (batch and steady) with the target."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{r['config']}\n{'+'.join(map(str, r['multipliers']))} mult., B={r['batch']}"
              for r in rows]
    x = np.arange(len(rows))
    batch = [100 * r["utilization_batch"] for r in rows]
    steady = [100 * (r["utilization_steady"] or 0) for r in rows]
    ax.bar(x - 0.2, batch, 0.4, label="over the batch (B + 2L ticks)")
    ax.bar(x + 0.2, steady, 0.4, label="steady tick (marginal sample)")
    for xi, v in zip(x, batch):
        ax.text(xi - 0.2, v + 1, f"{v:.1f}", ha="center", fontsize=8)
    for xi, v in zip(x, steady):
        ax.text(xi + 0.2, v + 1, f"{v:.1f}", ha="center", fontsize=8)
    ax.axhline(85, color="k", ls="--", lw=1, label="target 85 %")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("multiplier utilization, % (RTL counters)")
    ax.set_title("Multiplier utilization measured on the RTL")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_throughput(path, boards: list, cpu: dict, gpu: dict):
    """Benchmark: training samples/s and batch-1 step latency, boards against baselines."""
    fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(11, 4))
    names, sps, lat = [], [], []
    for b in boards:
        names.append(f"{b['board']}\n{b['clock_mhz']:g} MHz"
                     + ("" if b["build"] == "met" else f" ({b['build']})"))
        sps.append(b["samples_per_s"] or 0)
        lat.append(b["online_step_us"])
    if cpu.get("status") == "measured":
        names.append("PyTorch CPU")
        sps.append(cpu["batch256_samples_per_s"])
        lat.append(cpu["batch1_step_us"])
    names.append("H200 anchor\n(quoted)")
    sps.append(gpu["batch256_samples_per_s"])
    lat.append(gpu["batch1_step_us"])
    colors = ["C0"] * len(boards) + ["C1"] * (len(names) - len(boards) - 1) + ["C2"]
    ax_s.bar(names, sps, color=colors)
    ax_s.set_yscale("log")
    ax_s.set_ylabel("training samples / s (baselines at batch 256)")
    ax_l.bar(names, lat, color=colors)
    ax_l.set_yscale("log")
    ax_l.set_ylabel("batch-1 training step, us (lower is better)")
    for ax, vals, fmt in ((ax_s, sps, "{:.3g}"), (ax_l, lat, "{:.3g}")):
        for i, v in enumerate(vals):
            ax.text(i, v, fmt.format(v), ha="center", va="bottom", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.suptitle("digits 64-32-10 training: boards (cycles from the RTL) against PyTorch")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
