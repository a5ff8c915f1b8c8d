"""What the benchmark's sections share: progress lines, the configurations it measures, tallies."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from firmware_py import ROOT


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

def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None

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

def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# The configurations measured on the RTL: XOR, the demo's, and each board's default (from
# the board list). --quick measures only the boards that carry targets.
XOR_CONFIG = "configs/xor.json"

HEADLINE_BOARDS = ("icebreaker", "ulx3s-85f")

# The RTL training run (accuracy) and the simulator speed use the demo's digits design
# (16 + 4 multipliers): quick to build (Verilator, and Icarus at all), and what `make
# demo` trains. Accuracy does not depend on the multiplier count.
SMALL_DIGITS_CONFIG = "configs/digits-demo.json"

LR_SHIFT = 7   # SGD step 2^-7 on the summed batch gradient (digits' training default)

GPU_SIZES = (64, 32, 10)   # the network of the GPU anchor and of the PyTorch baseline

GPU_ANCHOR = {
    "what": "one NVIDIA H200, PyTorch 2.11 with CUDA graphs, 64-32-10, SGD",
    "batch1_step_us": 38.2,
    "batch256_samples_per_s": 3.48e6,
    "source": "quoted (issue 6), not measured here",
}



def random_session(cfg, batch: int, rng):
    """A random network's parameter codes and ``batch`` random samples for ``cfg``, with
    one-hot targets where the device holds labels: (params, X, Y)."""
    from firmware_py.contract.protocol import classes
    from firmware_py.model.arith import FixedArith
    from firmware_py.model.network import Network
    ar = FixedArith(cfg)
    P = ar.params(Network.random(cfg.sizes, cfg.activations, rng))
    X = ar.encode_x(rng.uniform(0, 1, (batch, cfg.sizes[0])))
    Y = ar.encode_y(rng.uniform(0, 1, (batch, cfg.sizes[-1])))
    if cfg.targets == "label":
        Y = ar.encode_y(np.eye(cfg.sizes[-1])[classes(cfg, Y)] if cfg.sizes[-1] > 1
                        else classes(cfg, Y)[:, None])
    return P, X, Y


def plan_configs(boards: dict, quick: bool = False) -> tuple[dict, dict]:
    """({config name: path} to measure on the RTL, {board: config name})."""
    configs = {"xor": XOR_CONFIG, Path(SMALL_DIGITS_CONFIG).stem: SMALL_DIGITS_CONFIG}
    board_cfg = {}
    for name, board in boards.items():
        if quick and name not in HEADLINE_BOARDS:
            continue
        path = getattr(board, "config", None)
        if not path or not (ROOT / path).exists():
            continue
        configs.setdefault(Path(path).stem, path)
        board_cfg[name] = Path(path).stem
    return configs, board_cfg


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M/s"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k/s"
    return f"{v:.0f} /s"
