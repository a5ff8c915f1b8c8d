"""Network description: widths, one activation per layer, MSE loss, weights, biases.

Stored as ``.npz`` with arrays ``W1..WL`` (``Wl`` shaped ``(n_l, n_{l-1})``),
``b1..bL``, optionally a batch ``x`` ``(B, n_0)`` and ``y`` ``(B, n_L)``, and the
string arrays ``activations`` and ``loss``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field

import numpy as np

from firmware_py.contract.activations import Activation, parse_activation

__all__ = ["Network", "NetworkError", "parse_sizes", "parse_activations"]

MAX_WIDTH = 4096
MAX_DEPTH = 64


class NetworkError(ValueError):
    """A network description is malformed; the message says what and where."""


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"4,8,8,3"`` -> ``(4, 8, 8, 3)``: at least two positive widths."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise NetworkError(f"--sizes must be comma-separated integers like 4,8,3, "
                           f"not {text!r}") from None
    if len(sizes) < 2:
        raise NetworkError(f"--sizes needs at least an input and an output width, not {text!r}")
    if len(sizes) - 1 > MAX_DEPTH:
        raise NetworkError(f"--sizes has {len(sizes) - 1} layers; at most {MAX_DEPTH}")
    for n in sizes:
        if not 1 <= n <= MAX_WIDTH:
            raise NetworkError(f"layer width {n} in {text!r} is outside 1..{MAX_WIDTH}")
    return sizes


def parse_activations(text: str, layers: int) -> tuple[Activation, ...]:
    """One name per layer, or one name for the hidden layers with an identity output."""
    names = [p.strip() for p in str(text).split(",")]
    try:
        acts = [parse_activation(n) for n in names]
    except ValueError as e:
        raise NetworkError(str(e)) from None
    if len(acts) == layers:
        return tuple(acts)
    if len(acts) != 1:
        raise NetworkError(f"{len(acts)} activations given for {layers} layers")
    return tuple(acts * (layers - 1) + [Activation("identity")])


@dataclass
class Network:
    """A feed-forward network with float64 parameters."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: tuple[Activation, ...]
    loss: str = "mse"
    x: np.ndarray | None = field(default=None, repr=False)
    y: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        try:
            self.activations = tuple(a if isinstance(a, Activation) else parse_activation(a)
                                     for a in self.activations)
        except ValueError as e:
            raise NetworkError(str(e)) from None
        self.validate()

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[1],) + tuple(W.shape[0] for W in self.weights)

    @property
    def L(self) -> int:
        return len(self.weights)

    @classmethod
    def random(cls, sizes, activations, rng: np.random.Generator, *, scale: float = 1.0,
               bias_scale: float = 0.0):
        """Glorot-uniform weights; biases uniform in +-bias_scale (zero by default)."""
        Ws, bs = [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            a = scale * np.sqrt(6.0 / (n_in + n_out))
            Ws.append(rng.uniform(-a, a, size=(n_out, n_in)))
            bs.append(rng.uniform(-bias_scale, bias_scale, size=n_out))
        return cls(Ws, bs, tuple(activations))

    def validate(self):
        if self.loss != "mse":
            raise NetworkError(f"unknown loss {self.loss!r} (only 'mse')")
        if not self.weights:
            raise NetworkError("network has no layers")
        if len(self.biases) != len(self.weights):
            raise NetworkError(
                f"{len(self.weights)} weight matrices but {len(self.biases)} biases")
        if len(self.activations) != len(self.weights):
            raise NetworkError(
                f"{len(self.activations)} activations for {len(self.weights)} layers")
        prev = None
        for i, (W, b) in enumerate(zip(self.weights, self.biases), 1):
            if W.ndim != 2 or 0 in W.shape:
                raise NetworkError(f"W{i} must be a non-empty 2-D array, has shape {W.shape}")
            if prev is not None and W.shape[1] != prev:
                raise NetworkError(f"W{i} has shape {W.shape} but layer {i - 1} has width {prev}")
            if b.shape != (W.shape[0],):
                raise NetworkError(f"b{i} has shape {b.shape}, expected ({W.shape[0]},)")
            for name, a in ((f"W{i}", W), (f"b{i}", b)):
                if not np.all(np.isfinite(a)):
                    raise NetworkError(f"{name} contains NaN or inf")
            prev = W.shape[0]
        for name, a, n in (("x", self.x, self.sizes[0]), ("y", self.y, self.sizes[-1])):
            if a is None:
                continue
            if a.ndim != 2 or a.shape[1] != n or a.shape[0] == 0:
                raise NetworkError(f"{name} has shape {a.shape}, expected (B, {n})")
            if not np.all(np.isfinite(a)):
                raise NetworkError(f"{name} contains NaN or inf")
        if (self.x is None) != (self.y is None):
            raise NetworkError("x and y must be given together")
        if self.x is not None and len(self.x) != len(self.y):
            raise NetworkError(f"x has {len(self.x)} samples but y has {len(self.y)}")

    # -- .npz ------------------------------------------------------------------------
    def save(self, path):
        arrays = {}
        for i, (W, b) in enumerate(zip(self.weights, self.biases), 1):
            arrays[f"W{i}"], arrays[f"b{i}"] = W, b
        arrays["activations"] = np.array([str(a) for a in self.activations])
        arrays["loss"] = np.array(self.loss)
        if self.x is not None:
            arrays["x"], arrays["y"] = self.x, self.y
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path, default_activation: str = "relu") -> Network:
        """Load and validate; any defect raises ``NetworkError`` naming it."""
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise NetworkError(f"{path}: no such file") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise NetworkError(f"{path}: not a readable .npz file ({e})") from None
        L = 0
        while f"W{L + 1}" in arrays:
            L += 1
        if L == 0:
            raise NetworkError(f"{path}: no W1 array (expected W1..WL and b1..bL)")
        for i in range(1, L + 1):
            if f"b{i}" not in arrays:
                raise NetworkError(f"{path}: W{i} present but b{i} missing")
        extra = sorted(k for k in arrays if k[:1] in "Wb" and k[1:].isdigit()
                       and int(k[1:]) > L)
        if extra:
            raise NetworkError(f"{path}: {extra[0]} present but W{L + 1}/b{L + 1} missing")

        def num(name):
            a = arrays[name]
            if a.dtype.kind not in "iuf":
                raise NetworkError(f"{path}: {name} is not numeric (dtype {a.dtype})")
            return a.astype(np.float64)

        if "activations" in arrays:
            names = [str(s) for s in np.atleast_1d(arrays["activations"])]
            acts = parse_activations(",".join(names), L) if len(names) == L else None
            if acts is None:
                raise NetworkError(f"{path}: {len(names)} activations for {L} layers")
        else:
            acts = parse_activations(default_activation, L)
        try:
            return cls([num(f"W{i}") for i in range(1, L + 1)],
                       [num(f"b{i}") for i in range(1, L + 1)],
                       acts,
                       loss=str(arrays.get("loss", "mse")),
                       x=num("x") if "x" in arrays else None,
                       y=num("y") if "y" in arrays else None)
        except NetworkError as e:
            raise NetworkError(f"{path}: {e}") from None
