"""matplotlib figures for the command line (written to files, never shown)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_relaxation", "plot_training"]

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
