"""Section 4, accuracy: digits as `dyadic train` trains it, in float64, fixed point and
on the RTL."""

from __future__ import annotations

import sys
import time

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.model.arith import FixedArith, FloatArith
from firmware_py.model.network import Network, parse_activations

from .common import _log, _Tally


def board_formats(board_cfg: dict, paths: dict, epochs: int | None, seed: int = 0,
                  log=_log) -> dict:
    """The golden model's digits accuracy in each board's formats (the default recipe): what
    a board's network reaches, whose RTL equals the golden model bit for bit."""
    from firmware_py.model.datasets import load_dataset
    from firmware_py.model.recipes import TRAIN_DEFAULTS
    from firmware_py.model.training import train

    sizes, act, epochs0, batch, lr = TRAIN_DEFAULTS["digits"]
    epochs = epochs or epochs0
    data = load_dataset("digits")
    out, done = {}, {}
    for board, name in board_cfg.items():
        cfg = DyadicConfig.load(paths[name])
        if (cfg.sizes[0], cfg.sizes[-1]) != (sizes[0], sizes[-1]):
            continue        # not a digits network
        if name not in done:
            net = Network.random(cfg.sizes, cfg.activations, np.random.default_rng(seed))
            t0 = time.perf_counter()
            r = train(FixedArith(cfg), net, data, epochs=epochs, batch=batch, lr=lr, seed=seed)
            done[name] = {"config": name, "sizes": list(cfg.sizes), "epochs": epochs,
                          "test_accuracy": r.final["test_accuracy"],
                          "seconds": round(time.perf_counter() - t0, 1)}
            log(f"{name} {'-'.join(map(str, cfg.sizes))}: fixed point "
                f"{r.final['test_accuracy']:.2%} ({done[name]['seconds']} s)")
        out[board] = done[name]
    return out


def accuracy_runs(cfg: DyadicConfig, epochs: int | None, seed: int = 0, log=_log,
                  name: str = "") -> dict:
    """digits as `dyadic train` trains it, in float64, fixed point and on the RTL."""
    from tqdm import tqdm

    from firmware_py.device.driver import Accelerator
    from firmware_py.device.training import train_on_device
    from firmware_py.device.transport import SimTransport
    from firmware_py.model.datasets import load_dataset
    from firmware_py.model.recipes import TRAIN_DEFAULTS
    from firmware_py.model.training import train

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
    device = Accelerator.open(SimTransport(cfg, log=log), cfg)
    t0 = time.perf_counter()
    try:
        device.clear_counters()
        with tqdm(total=epochs * len(data.x_train), unit="sample", file=sys.stderr,
                  desc="  train digits on the RTL", mininterval=0.5 if sys.stderr.isatty()
                  else 15, dynamic_ncols=True) as bar:
            rt = train_on_device(device, FixedArith(cfg), net, data, progress=bar.update, **kw)
        counters = device.read_counters()
    finally:
        device.close()
    t_rtl = time.perf_counter() - t0
    tally = _Tally()
    for l in range(len(sizes) - 1):
        tally.add("trained weights", np.concatenate([rt.params[0][l].ravel(), rt.params[1][l]]),
                  np.concatenate([fx.params[0][l].ravel(), fx.params[1][l]]))
    # (a device's rows also carry its link and cycle fields)
    same_hist = (len(rt.history) == len(fx.history) and all(
        {k: r[k] for k in g} == g for r, g in zip(rt.history, fx.history)))
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
