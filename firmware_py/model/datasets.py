"""Small bundled data sets (no downloads): digits, xor, nae3, moons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "load_dataset", "class_labels", "DATASETS"]

DATASETS = ("digits", "xor", "nae3", "moons")


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray   # one-hot (or 0/1 for a single output)
    x_test: np.ndarray
    y_test: np.ndarray
    default_sizes: tuple[int, ...]

    def labels(self, y):
        return class_labels(y)


def class_labels(y):
    """Class of each row: threshold 0.5 for a single output, else the largest output."""
    y = np.asarray(y)
    return (y[:, 0] > 0.5).astype(int) if y.shape[1] == 1 else np.argmax(y, axis=1)


def _split(x, y, seed, test_fraction=0.2):
    """Fixed-seed 80/20 split."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    te, tr = order[:n_test], order[n_test:]
    return x[tr], y[tr], x[te], y[te]


def _one_hot(labels, n):
    return np.eye(n)[labels]


def load_dataset(name: str, split_seed: int = 0) -> Dataset:
    """Load a data set scaled to the accelerator's input range [0, 1] (or [-1.5, 2.5])."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = d.data / 16.0
        return Dataset(name, *_split(x, _one_hot(d.target, 10), split_seed), (64, 32, 10))
    if name == "xor":
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
        y = np.array([[0], [1], [1], [0]], dtype=np.float64)
        return Dataset(name, x, y, x.copy(), y.copy(), (2, 2, 1))  # tested on its own truth table
    if name == "nae3":
        # not-all-equal of three bits: 1 unless the bits agree. Like xor it needs a hidden
        # layer, and two hidden units suffice (an OR and an AND); 3-2-1 is 8 weights, one
        # per DSP of an iCE40 UP5K.
        x = np.array([[(k >> 2) & 1, (k >> 1) & 1, k & 1] for k in range(8)], dtype=np.float64)
        y = np.array([[0.0 if k in (0, 7) else 1.0] for k in range(8)])
        return Dataset(name, x, y, x.copy(), y.copy(), (3, 2, 1))  # tested on its truth table
    if name == "moons":
        from sklearn.datasets import make_moons

        x, t = make_moons(n_samples=500, noise=0.15, random_state=split_seed)
        return Dataset(name, *_split(x, _one_hot(t, 2), split_seed), (2, 16, 2))
    raise ValueError(f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})")
