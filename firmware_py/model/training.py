"""SGD training with the streaming schedule, on any arithmetic.

Every backend visits the samples in the same order, so a device run
(``firmware_py.device.training``) and the fixed-point golden model with the same seed
end with the same bits: epoch e takes position p's sample ``(offset_e + p * stride_e)
mod n``, with a stride coprime with n and an offset drawn from the seeded generator
(``epoch_order``), in batches of B (the last one shorter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from firmware_py.contract.protocol import classes

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
          seed: int, progress=None, on_epoch=None) -> TrainResult:
    """Mini-batch SGD, one streaming batch at a time; deterministic for a given seed.

    The batch gradient is the sum over the batch and W <- W - lr * G after each batch.
    ``progress`` is called with the number of samples done, ``on_epoch`` with each
    epoch's metrics. (``firmware_py.device.training.train_on_device`` runs the same
    epochs on a device.)
    """
    params = arith.params(net)
    X = arith.encode_x(data.x_train)
    Y = arith.encode_y(data.y_train)
    n = len(X)
    rng = np.random.default_rng(seed)
    result = TrainResult(params)
    for epoch in range(1, epochs + 1):
        order = epoch_indices(n, *epoch_order(rng, n))
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            params = stream_batch(arith, params, X[idx], Y[idx], lr=lr).params
            if progress:
                progress(len(idx))
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
