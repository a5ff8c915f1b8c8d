"""SGD training with the streaming schedule, on any arithmetic (or device backend)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arith import FixedArith
from .datasets import Dataset
from .dynamics import stream_batch
from .network import Network

__all__ = ["TrainResult", "train", "evaluate", "predict"]


@dataclass
class TrainResult:
    params: tuple
    history: list = field(default_factory=list)  # one dict per epoch
    saturation: dict | None = None

    @property
    def final(self) -> dict:
        return self.history[-1]


def predict(arith, params, X):
    """Network outputs for a batch, as float; the same operations as a forward tick."""
    Ws, bs = params
    s = arith.encode_x(X) if arith.kind == "float" else arith.encode_x(X, saturate=True)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        s = arith.forward(l, W, b, s)[0]
    return arith.state_float(s, "s")


def evaluate(arith, params, data: Dataset, X, Y) -> tuple[float, float]:
    """(mean loss 1/2|s_L - y|^2, accuracy) of the network on X, Y."""
    out = predict(arith, params, X)
    loss = 0.5 * float(np.mean(np.sum((out - Y) ** 2, axis=1)))
    acc = float(np.mean(data.labels(out) == data.labels(Y)))
    return loss, acc


def train(arith, net: Network, data: Dataset, *, epochs: int, batch: int, lr: float,
          seed: int, progress=None, on_epoch=None, device=None, on_batch=None) -> TrainResult:
    """Mini-batch SGD, one streaming batch at a time; deterministic for a given seed.

    The batch gradient is the sum over the batch and W <- W - lr * G after each batch.
    With ``device`` (an ``Accelerator``) every batch runs on the device, which holds the
    weights; they are read back after each epoch for evaluation (in the same
    fixed-point arithmetic). ``progress`` is called with the number of samples done,
    ``on_epoch`` with each epoch's metrics, ``on_batch`` with the weights (host
    training only, or read back from the device).
    """
    params = arith.params(net)
    X = arith.encode_x(data.x_train)
    Y = arith.encode_y(data.y_train)
    rng = np.random.default_rng(seed)
    result = TrainResult(params)
    if device is not None:
        lr_shift = arith.lr_step(lr)
        device.load_network(params)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            if device is None:
                params = stream_batch(arith, params, X[idx], Y[idx], lr=lr).params
            else:
                device.write_samples(X[idx], Y[idx])
                device.stream(len(idx), update=True, lr_shift=lr_shift)
            if on_batch:
                on_batch(params if device is None else device.read_network())
            if progress:
                progress(len(idx))
        if device is not None:
            params = device.read_network()
        tr = evaluate(arith, params, data, data.x_train, data.y_train)
        te = evaluate(arith, params, data, data.x_test, data.y_test)
        row = {"epoch": epoch, "train_loss": tr[0], "train_accuracy": tr[1],
               "test_loss": te[0], "test_accuracy": te[1]}
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
    result.params = params
    if isinstance(arith, FixedArith):
        result.saturation = arith.counters.as_dict()
    return result


