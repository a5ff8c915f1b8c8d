"""SGD training with the streaming schedule, on any arithmetic or on a device.

Every backend visits the samples in the same order, so a device run and the
fixed-point golden model with the same seed end with the same bits: epoch e takes
position p's sample ``(offset_e + p * stride_e) mod n``, with a stride coprime with
n and an offset drawn from the seeded generator (``epoch_order``), in batches of B
(the last one shorter). A device holds the training and test sets, runs each epoch
and each evaluation on chip, and the weights stay there until the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hdl.protocol import classes

from .arith import FixedArith
from .datasets import Dataset
from .dynamics import stream_batch
from .network import Network

__all__ = ["TrainResult", "train", "evaluate", "predict", "epoch_order", "epoch_indices",
           "eval_counts", "metrics"]


@dataclass
class TrainResult:
    params: tuple
    history: list = field(default_factory=list)  # one dict per epoch
    saturation: dict | None = None
    link: dict | None = None                     # a device's one-time load (bytes, round trips)

    @property
    def final(self) -> dict:
        return self.history[-1]


def epoch_order(rng, n: int) -> tuple[int, int]:
    """One epoch's (stride, offset): a stride uniform over those coprime with n, and an
    offset uniform over 0..n-1."""
    while True:
        stride = int(rng.integers(0, n))
        if math.gcd(stride, n) == 1:
            return stride, int(rng.integers(0, n))


def epoch_indices(n: int, stride: int, offset: int) -> np.ndarray:
    """The samples an epoch visits, in order: what the device's walker produces."""
    return (offset + stride * np.arange(n, dtype=np.int64)) % n


def predict(arith, params, X):
    """Network outputs for a batch, as float; the same operations as a forward tick."""
    s = arith.encode_x(X) if arith.kind == "float" else arith.encode_x(X, saturate=True)
    return arith.state_float(_outputs(arith, params, s), "s")


def _outputs(arith, params, s):
    """Forward passes from encoded inputs; evaluation is not training, so saturation in
    it is not counted."""
    with arith.uncounted():
        for l, (W, b) in enumerate(zip(*params)):
            s = arith.forward(l, W, b, s)[0]
    return s


def eval_counts(arith: FixedArith, params, X, Y) -> tuple[int, int]:
    """(correct predictions, sum of squared output errors in code units): what the
    device's EVALUATE returns, bit for bit. X, Y: input and target codes."""
    out = _outputs(arith, params, X)
    correct = int(np.sum(classes(arith.config, out) == classes(arith.config, Y)))
    return correct, int(np.sum((out - Y) ** 2))


def metrics(config, correct: int, loss_sum: int, n: int) -> tuple[float, float]:
    """(mean loss 1/2|s_L - y|^2, accuracy) from the evaluation counts."""
    return 0.5 * loss_sum * config.act.lsb ** 2 / n, correct / n


def evaluate(arith, params, data: Dataset, X, Y) -> tuple[float, float]:
    """(mean loss 1/2|s_L - y|^2, accuracy) of the network on X, Y."""
    if arith.kind == "fixed":
        c = arith.config
        Yq = arith.encode_y(Y, saturate=True)
        return metrics(c, *eval_counts(arith, params, arith.encode_x(X, saturate=True), Yq),
                       len(X))
    out = predict(arith, params, X)
    loss = 0.5 * float(np.mean(np.sum((out - Y) ** 2, axis=1)))
    acc = float(np.mean(data.labels(out) == data.labels(Y)))
    return loss, acc


def train(arith, net: Network, data: Dataset, *, epochs: int, batch: int, lr: float,
          seed: int, progress=None, on_epoch=None, device=None, resident=None) -> TrainResult:
    """Mini-batch SGD, one streaming batch at a time; deterministic for a given seed.

    The batch gradient is the sum over the batch and W <- W - lr * G after each batch.
    With ``device`` (an ``Accelerator``) the training and test sets are loaded once, then
    every epoch and every evaluation runs on the device; the weights are read back at
    the end. A device that cannot hold both sets or has no trainer (or
    ``resident=False``) is sent each batch instead, and its weights are read back after
    each epoch to be evaluated here.
    Each epoch's row then also has the link traffic and the device's cycles.
    ``progress`` is called with the number of samples done, ``on_epoch`` with each
    epoch's metrics.
    """
    params = arith.params(net)
    X = arith.encode_x(data.x_train)
    Y = arith.encode_y(data.y_train)
    n = len(X)
    rng = np.random.default_rng(seed)
    result = TrainResult(params)
    if device is not None:
        if resident is None:     # on chip if the device can train and holds both sets
            c = device.config
            resident = c.trainer and len(data.x_train) + len(data.x_test) <= c.samples
        run = (_DeviceRun if resident else _DeviceBatches)(device, arith, params, data, X, Y)
        result.link = run.load
    for epoch in range(1, epochs + 1):
        stride, offset = epoch_order(rng, n)
        if device is None:
            order = epoch_indices(n, stride, offset)
            for i in range(0, n, batch):
                idx = order[i:i + batch]
                params = stream_batch(arith, params, X[idx], Y[idx], lr=lr).params
                if progress:
                    progress(len(idx))
            tr = evaluate(arith, params, data, data.x_train, data.y_train)
            te = evaluate(arith, params, data, data.x_test, data.y_test)
            extra = {}
        else:
            tr, te, extra = run.epoch(batch, arith.lr_step(lr), stride, offset, progress)
        row = {"epoch": epoch, "train_loss": tr[0], "train_accuracy": tr[1],
               "test_loss": te[0], "test_accuracy": te[1], **extra}
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
    result.params = params if device is None else device.read_network()
    if isinstance(arith, FixedArith):
        result.saturation = arith.counters.as_dict()
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
        self.cycles = device.read_counters()["cycles"]

    def epoch(self, batch, lr_shift, stride, offset, progress):
        d, c = self.device, self.config
        before = d.link_stats()
        d.train(0, self.n, batch, lr_shift, [(stride, offset)])
        if progress:
            progress(self.n)
        tr = metrics(c, *d.evaluate(0, self.n), self.n)
        te = metrics(c, *d.evaluate(self.n, self.n_test), self.n_test)
        return tr, te, self._spent(before)

    def _spent(self, before):
        cycles = self.device.read_counters()["cycles"]
        wrap = 1 << self.config.counter_bits
        spent, self.cycles = (cycles - self.cycles) % wrap, cycles
        link = _delta(before, self.device.link_stats())
        return {"link_bytes": link["bytes"], "round_trips": link["round_trips"],
                "device_cycles": spent}


class _DeviceBatches(_DeviceRun):
    """Each batch sent when it is due, the weights read back after each epoch and
    evaluated on the host: for a device that cannot hold the sets."""

    def __init__(self, device, arith, params, data, X, Y):
        self.device, self.config, self.arith, self.data = device, device.config, arith, data
        self.X, self.Y = X, Y
        before = device.link_stats()
        device.load_network(params)
        self.load = _delta(before, device.link_stats())
        self.cycles = device.read_counters()["cycles"]

    def epoch(self, batch, lr_shift, stride, offset, progress):
        d, data = self.device, self.data
        before = d.link_stats()
        order = epoch_indices(len(self.X), stride, offset)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            d.write_samples(self.X[idx], self.Y[idx])
            d.stream(len(idx), update=True, lr_shift=lr_shift)
            if progress:
                progress(len(idx))
        params = d.read_network()
        tr = evaluate(self.arith, params, data, data.x_train, data.y_train)
        te = evaluate(self.arith, params, data, data.x_test, data.y_test)
        return tr, te, self._spent(before)


def _delta(before: dict, after: dict) -> dict:
    return {"bytes": after["bytes_out"] + after["bytes_in"]
            - before["bytes_out"] - before["bytes_in"],
            "round_trips": after["round_trips"] - before["round_trips"]}
