"""The benchmark's end-to-end section: a digits training run as a user meets it.

Measured on the simulated accelerator (Verilator) through the real driver and link:
the bytes and round trips of loading the sets and of each epoch, and each epoch's cycles
from the device's counters. Each epoch of a run moves the same bytes and takes the same
cycles (the batches are the same sizes), so one measured epoch gives a whole run's;
from them, each board's predicted wall time at its clock and its bridge's rate.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from firmware_py import ROOT
from firmware_py.contract.config import DyadicConfig, derived_config
from firmware_py.contract.cycles import stream_cycles
from firmware_py.device.framing import link_seconds
from firmware_py.model.arith import FixedArith, FloatArith
from firmware_py.model.datasets import load_dataset
from firmware_py.model.network import Network, parse_activations
from firmware_py.model.recipes import TRAIN_DEFAULTS

__all__ = ["per_batch_before", "measure_epoch", "pytorch_train_seconds", "end_to_end",
           "BEFORE_BAUD", "BEFORE_LATENCY_S", "RUN_EPOCHS"]

RUN_EPOCHS = 30                 # the default digits recipe (model/recipes.py)
# what `make demo` runs (the Makefile's demo target)
DEMO_ARGS = ("train", "--dataset", "digits", "--config", "configs/digits-demo.json", "--compare")
BEFORE_COMMIT = "579b64a"       # the last tree with the per-batch path only
BEFORE_BAUD = 115_200           # ... and its UART
BEFORE_LATENCY_S = 16e-3        # an FTDI bridge's latency timer as it comes (16 ms)
BEFORE_FRAME_WORDS = 512


def per_batch_before(config: DyadicConfig, n_train: int, batch: int, epochs: int = 1) -> dict:
    """The link traffic of ``epochs`` epochs on the path before resident sets (commit
    579b64a): every value a 32-bit word, each batch written (in frames of at most 511
    payload words) and streamed, the weights read back after each epoch. ``session``
    adds the connection (RESET, IDENTIFY) and the first weights' load, as its measurement
    through SimTransport counted them."""
    n0, nL, L = config.sizes[0], config.sizes[-1], config.L
    frame = lambda words: 8 + 4 * words          # noqa: E731  (SOF, header, payload, CRC)
    per_frame = (BEFORE_FRAME_WORDS - 1) // (n0 + nL)
    sent = received = trips = 0
    for start in range(0, n_train, batch):
        b = min(batch, n_train - start)
        for first in range(0, b, per_frame):
            sent += frame(1 + min(per_frame, b - first) * (n0 + nL))
            received += frame(0)
            trips += 1
        sent += frame(2)                          # STREAM
        received += frame(0)
        trips += 1
    for l in range(1, L + 1):                     # READ_PARAMS
        n = config.sizes[l] * config.sizes[l - 1] + config.sizes[l]
        sent += frame(2)
        received += frame(n)
        trips += 1
    epoch = {"sent": sent, "received": received, "round_trips": trips}
    # the session: RESET, IDENTIFY (L + 5 words back), the first weights
    s_sent, s_recv, s_trips = 2 * frame(0), frame(0) + frame(L + 5), 2
    for l in range(1, L + 1):
        n = config.sizes[l] * config.sizes[l - 1] + config.sizes[l]
        for first in range(0, n, BEFORE_FRAME_WORDS - 1):
            s_sent += frame(1 + min(BEFORE_FRAME_WORDS - 1, n - first))
            s_recv += frame(0)
            s_trips += 1
    return {"epoch": epoch,
            "session": {"sent": s_sent + epochs * sent, "received": s_recv + epochs * received,
                        "round_trips": s_trips + epochs * trips}}


def _digits_recipe():
    return TRAIN_DEFAULTS["digits"]


def measure_epoch(config: DyadicConfig, *, resident: bool, seed: int = 0, log=print) -> dict:
    """One digits epoch on the simulated accelerator through the driver: the load's and
    the epoch's link traffic, the epoch's cycles from the device's counters, and whether
    it ended where the fixed-point golden model does."""
    from firmware_py.device.driver import Accelerator
    from firmware_py.device.training import train_on_device
    from firmware_py.device.transport import SimTransport
    from firmware_py.model.training import train

    sizes, act, _, batch, lr = _digits_recipe()
    data = load_dataset("digits")
    net = Network.random(config.sizes, config.activations, np.random.default_rng(seed))
    golden = train(FixedArith(config), net, data, epochs=1, batch=batch, lr=lr, seed=seed)
    device = Accelerator.open(SimTransport(config, log=log), config)
    t0 = time.perf_counter()
    try:
        run = train_on_device(device, FixedArith(config), net, data, epochs=1, batch=batch,
                              lr=lr, seed=seed, resident=resident)
        total = device.link_stats()
    finally:
        device.close()
    row = run.history[0]
    used = total["bytes_out"] + total["bytes_in"]
    return {
        "config_id": f"{config.config_id:#010x}", "sizes": list(config.sizes),
        "path": "resident" if resident else "per-batch", "batch": batch,
        "load_bytes": run.link["bytes"], "load_round_trips": run.link["round_trips"],
        "epoch_bytes": row["link_bytes"], "epoch_round_trips": row["round_trips"],
        "epoch_cycles": row["device_cycles"], "epoch_cycles_model": row["model_cycles"],
        "counter_bits": config.counter_bits,
        "final_bytes": used - run.link["bytes"] - row["link_bytes"],
        "final_round_trips": total["round_trips"] - run.link["round_trips"]
        - row["round_trips"],
        "matches_golden": bool(all(np.array_equal(a, b) for a, b in zip(
            run.params[0] + run.params[1], golden.params[0] + golden.params[1]))
            and {k: row[k] for k in golden.history[0]} == golden.history[0]),
        "simulated_seconds": round(time.perf_counter() - t0, 1),
    }


def predicted_run(measured: dict, clock_hz: float, baud: int, epochs: int = RUN_EPOCHS) -> dict:
    """A whole run's wall time on a board from one measured epoch: the load, every
    epoch's traffic and cycles, the final read-back."""
    link_bytes = (measured["load_bytes"] + epochs * measured["epoch_bytes"]
                  + measured["final_bytes"])
    trips = (measured["load_round_trips"] + epochs * measured["epoch_round_trips"]
             + measured["final_round_trips"])
    cycles = epochs * measured["epoch_cycles"]
    link = link_seconds(link_bytes, trips, baud)
    return {"seconds": link + cycles / clock_hz, "link_seconds": link,
            "device_seconds": cycles / clock_hz, "link_bytes": link_bytes,
            "round_trips": trips, "cycles": cycles}


def before_run(config: DyadicConfig, clock_hz: float, epochs: int = RUN_EPOCHS) -> dict:
    """The same run on the path before resident sets, at its 115,200 baud and an FTDI
    bridge's default 16 ms latency; its device time from the cycle model's batches."""
    sizes, _, _, batch, _ = _digits_recipe()
    n = len(load_dataset("digits").x_train)
    traffic = per_batch_before(config, n, batch, epochs)["session"]
    cycles = epochs * sum(stream_cycles(config, min(batch, n - i)).cycles
                          for i in range(0, n, batch))
    link = (traffic["sent"] + traffic["received"]) * 10 / BEFORE_BAUD \
        + traffic["round_trips"] * BEFORE_LATENCY_S
    return {"seconds": link + cycles / clock_hz, "link_bytes": traffic["sent"]
            + traffic["received"], "round_trips": traffic["round_trips"],
            "baud": BEFORE_BAUD, "latency_s": BEFORE_LATENCY_S}


def pytorch_train_seconds(epochs: int = RUN_EPOCHS, seed: int = 0) -> dict:
    """The digits recipe in PyTorch on this CPU (float32): epochs of SGD on the summed
    batch gradient, and after each the training and test accuracy, as ``dyadic train``."""
    try:
        import torch
    except ImportError:
        return {"status": "torch not installed (pip install torch==2.13.0)"}
    from firmware_py.model.training import epoch_indices, epoch_order
    sizes, _, _, batch, lr = _digits_recipe()
    data = load_dataset("digits")
    torch.manual_seed(seed)
    X, Y = torch.tensor(data.x_train, dtype=torch.float32), torch.tensor(data.y_train,
                                                                         dtype=torch.float32)
    Xt = torch.tensor(data.x_test, dtype=torch.float32)
    model = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.ReLU(),
                                torch.nn.Linear(sizes[1], sizes[2]))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        idx = torch.tensor(epoch_indices(len(X), *epoch_order(rng, len(X))))
        for i in range(0, len(X), batch):
            b = idx[i:i + batch]
            opt.zero_grad(set_to_none=True)
            (0.5 * ((model(X[b]) - Y[b]) ** 2).sum()).backward()
            opt.step()
        with torch.no_grad():
            acc = float((model(Xt).argmax(1).numpy() == data.y_test.argmax(1)).mean())
            _ = float((model(X).argmax(1) == Y.argmax(1)).float().mean())
    return {"status": "measured", "seconds": time.perf_counter() - t0, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "test_accuracy": acc}


def float64_train_seconds(epochs: int = RUN_EPOCHS, seed: int = 0) -> dict:
    from firmware_py.model.training import train
    sizes, act, _, batch, lr = _digits_recipe()
    data = load_dataset("digits")
    net = Network.random(sizes, parse_activations(act, len(sizes) - 1),
                         np.random.default_rng(seed))
    t0 = time.perf_counter()
    run = train(FloatArith.for_network(net), net, data, epochs=epochs, batch=batch, lr=lr,
                seed=seed)
    return {"seconds": time.perf_counter() - t0, "test_accuracy": run.final["test_accuracy"]}


def demo_seconds(log=print) -> dict:
    """The wall time of ``make demo`` (``dyadic`` + ``DEMO_ARGS``) now,
    with its simulator already built, and as measured before resident sets."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "firmware_py.ui.cli", *DEMO_ARGS, "--json"],
                          cwd=ROOT, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    out = {"after_seconds": round(secs, 1), "ok": proc.returncode == 0}
    if proc.returncode == 0:
        obj = json.loads(proc.stdout)
        out.update(test_accuracy=obj["test_accuracy"], matches=obj.get("matches_fixed_golden"))
    before = ROOT / "docs" / "results" / "demo-before.json"
    if before.exists():
        out["before"] = json.loads(before.read_text())
    return out


def end_to_end(boards: dict, quick: bool = False, log=print, demo_config=None,
               synthesis: list | None = None) -> dict:
    """The section's results: see the module docstring. ``synthesis`` (the boards' build
    reports) says whether each board's bitstream runs at the clock the figure uses."""
    from .throughput import board_clock
    built = {s["board"]: s for s in synthesis or []}
    sizes, act, _, batch, lr = _digits_recipe()
    data = load_dataset("digits")
    n, n_test = len(data.x_train), len(data.x_test)
    acts = parse_activations(act, len(sizes) - 1)
    demo = demo_config or derived_config(sizes, acts, batch, n + n_test)
    out = {"dataset": "digits", "train_samples": n, "test_samples": n_test, "batch": batch,
           "lr": lr, "epochs": RUN_EPOCHS, "boards": []}
    log(f"the demo's configuration {'-'.join(map(str, sizes))}: one epoch resident, one "
        f"sent batch by batch (Verilator) ...")
    res = measure_epoch(demo, resident=True, log=log)
    per = measure_epoch(demo, resident=False, log=log)
    before = per_batch_before(demo, n, batch)["epoch"]
    out["link"] = {
        "resident": res, "per_batch": per,
        "before": {"commit": BEFORE_COMMIT, "epoch_bytes": before["sent"] + before["received"],
                   "epoch_round_trips": before["round_trips"]},
        "reduction_vs_before": (before["sent"] + before["received"]) / res["epoch_bytes"],
        "reduction_vs_per_batch": per["epoch_bytes"] / res["epoch_bytes"],
    }
    log(f"link bytes an epoch: {res['epoch_bytes']:,} resident, {per['epoch_bytes']:,} batch "
        f"by batch, {before['sent'] + before['received']:,} before ({BEFORE_COMMIT})")
    for name, board in boards.items():
        if quick and name != "ulx3s-85f":
            continue
        cfg = board.default_config()
        row = {"board": name, "title": board.title, "config": board.config,
               "sizes": list(cfg.sizes), "baud": board.baud, "clock_mhz": board.clock_hz() / 1e6}
        _, row["clock_basis"], row["build"] = board_clock(built.get(name), board.clock_mhz, name)
        if (cfg.sizes[0], cfg.sizes[-1]) != (sizes[0], sizes[-1]):
            row["status"] = (f"its default ({'-'.join(map(str, cfg.sizes))}) is not a digits "
                             f"network")
            out["boards"].append(row)
            continue
        resident = cfg.trainer and n + n_test <= cfg.samples
        log(f"{name}: {board.config}, one epoch {'resident' if resident else 'batch by batch'}"
            f" on the RTL (Verilator) ...")
        m = measure_epoch(cfg, resident=resident, log=log)
        row.update(status="measured", measured=m,
                   predicted=predicted_run(m, board.clock_hz(), board.baud),
                   before=before_run(cfg, board.clock_hz()))
        log(f"{name}: {RUN_EPOCHS} epochs predicted {row['predicted']['seconds']:.2f} s "
            f"(before: {row['before']['seconds']:.0f} s)")
        out["boards"].append(row)
    log("PyTorch and the float64 golden model on this CPU ...")
    out["pytorch_cpu"] = pytorch_train_seconds()
    out["float64"] = float64_train_seconds()
    if not quick:
        log(f"make demo (dyadic {' '.join(DEMO_ARGS)}) ...")
        out["demo"] = demo_seconds(log)
    return out
