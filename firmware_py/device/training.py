"""Training on a device: the same epochs as the golden model's, run on the chip.

The training and test sets are loaded once and stay on the device; each epoch is one
TRAIN command and each evaluation one EVALUATE command, and the weights are read back
at the end. A device that cannot hold both sets, or has no trainer, is sent each batch
instead, and its weights are read back after each epoch to be evaluated on the host.
Either way the order of the samples is the golden model's (``model.training``), so a
run ends with the fixed-point golden model's bits.
"""

from __future__ import annotations

import numpy as np

from firmware_py.contract.cycles import counted_cycles, epoch_cycles, eval_cycles, stream_cycles
from firmware_py.model.training import (
    TrainResult,
    epoch_indices,
    epoch_order,
    evaluate,
    metrics,
)

__all__ = ["train_on_device"]


def train_on_device(device, arith, net, data, *, epochs: int, batch: int, lr: float,
                    seed: int, progress=None, on_epoch=None, resident=None) -> TrainResult:
    """``model.training.train`` on ``device`` (an ``Accelerator``): the same arguments,
    and ``resident`` to force the path (default: on chip when the device can train and
    holds both sets). Each epoch's row also has ``link_bytes`` (both ways),
    ``round_trips``, ``model_cycles`` (the cycle model's) and ``device_cycles`` (from the
    device's counters, checked against the model modulo their width where an epoch
    outlasts them); ``result.link`` has the one-time load's bytes and round trips."""
    params = arith.params(net)
    X = arith.encode_x(data.x_train)
    Y = arith.encode_y(data.y_train)
    n = len(X)
    if resident is None:
        c = device.config
        resident = c.trainer and len(data.x_train) + len(data.x_test) <= c.samples
    run = (_DeviceRun if resident else _DeviceBatches)(device, arith, params, data, X, Y)
    rng = np.random.default_rng(seed)
    result = TrainResult(params, link=run.load)
    for epoch in range(1, epochs + 1):
        stride, offset = epoch_order(rng, n)
        tr, te, extra = run.epoch(batch, arith.lr_step(lr), stride, offset, progress)
        row = {"epoch": epoch, "train_loss": tr[0], "train_accuracy": tr[1],
               "test_loss": te[0], "test_accuracy": te[1], **extra}
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
    result.params = device.read_network()
    result.saturation = run.saturation()
    return result


class _DeviceRun:
    """The training and test sets resident on a device, one after the other."""

    def __init__(self, device, arith, params, data, X, Y):
        c = device.config
        Xt, Yt = arith.encode_x(data.x_test), arith.encode_y(data.y_test)
        self.device, self.config = device, c
        self.n, self.n_test = len(X), len(Xt)
        before = device.link_stats()
        device.load_network(params)
        device.write_samples(X, Y)
        device.write_samples(Xt, Yt, first=self.n)
        self.load = _delta(before, device.link_stats())
        self.start = device.read_counters()
        self.cycles = self.start["cycles"]

    def saturation(self) -> dict:
        """The saturation events the device counted during the run (its training and
        evaluation runs)."""
        end, wrap = self.device.read_counters(), 1 << self.config.counter_bits
        return {k[4:]: (end[k] - self.start[k]) % wrap for k in end if k.startswith("sat_")}

    def epoch(self, batch, lr_shift, stride, offset, progress):
        d, c = self.device, self.config
        before = d.link_stats()
        d.train(0, self.n, batch, lr_shift, [(stride, offset)])
        if progress:
            progress(self.n)
        tr = metrics(c, *d.evaluate(0, self.n), self.n)
        te = metrics(c, *d.evaluate(self.n, self.n_test), self.n_test)
        model = (epoch_cycles(c, self.n, batch) + eval_cycles(c, self.n).cycles
                 + eval_cycles(c, self.n_test).cycles)
        return tr, te, self._spent(before, model)

    def _spent(self, before, model):
        cycles = self.device.read_counters()["cycles"]
        wrap = 1 << self.config.counter_bits
        spent = counted_cycles((cycles - self.cycles) % wrap, model, self.config.counter_bits)
        self.cycles = cycles
        link = _delta(before, self.device.link_stats())
        return {"link_bytes": link["bytes"], "round_trips": link["round_trips"],
                "device_cycles": spent, "model_cycles": model}


class _DeviceBatches(_DeviceRun):
    """Each batch sent when it is due, the weights read back after each epoch and
    evaluated on the host: for a device that cannot hold the sets."""

    def __init__(self, device, arith, params, data, X, Y):
        self.device, self.config, self.arith, self.data = device, device.config, arith, data
        self.X, self.Y = X, Y
        before = device.link_stats()
        device.load_network(params)
        self.load = _delta(before, device.link_stats())
        self.start = device.read_counters()
        self.cycles = self.start["cycles"]

    def epoch(self, batch, lr_shift, stride, offset, progress):
        d, data = self.device, self.data
        before = d.link_stats()
        order = epoch_indices(len(self.X), stride, offset)
        model = 0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            d.write_samples(self.X[idx], self.Y[idx])
            d.stream(len(idx), update=True, lr_shift=lr_shift)
            model += stream_cycles(self.config, len(idx)).cycles
            if progress:
                progress(len(idx))
        params = d.read_network()
        tr = evaluate(self.arith, params, data, data.x_train, data.y_train)
        te = evaluate(self.arith, params, data, data.x_test, data.y_test)
        return tr, te, self._spent(before, model)


def _delta(before: dict, after: dict) -> dict:
    return {"bytes": after["bytes_out"] + after["bytes_in"]
            - before["bytes_out"] - before["bytes_in"],
            "round_trips": after["round_trips"] - before["round_trips"]}
