"""Activation functions in float64 and in the hardware's integer arithmetic.

Hardware activations are piecewise linear, so their derivatives are exact and cheap:
the derivative of a neuron is stored as a 2-bit code (``FPrime``) in the stash
instead of a number, and applying it to a sensitivity is a mask or a shift.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .fixedpoint import rshift_round

__all__ = ["Activation", "FPrime", "HARDWARE_ACTIVATIONS", "FLOAT_ONLY_ACTIVATIONS",
           "parse_activation"]

HARDWARE_ACTIVATIONS = ("identity", "relu", "leaky_relu", "hardtanh")
FLOAT_ONLY_ACTIVATIONS = ("tanh", "sigmoid")
DEFAULT_LEAKY_SHIFT = 3  # slope 1/8


class FPrime(enum.IntEnum):
    """Derivative code kept per neuron: f'(h) is 0, 1 or 2**-shift."""

    ZERO = 0
    ONE = 1
    SLOPE = 2


@dataclass(frozen=True)
class Activation:
    """One layer's activation. ``shift`` is k of the leaky-ReLU slope 2**-k."""

    name: str
    shift: int = 0

    def __str__(self):
        return f"{self.name}:{self.shift}" if self.name == "leaky_relu" else self.name

    @property
    def hardware(self) -> bool:
        return self.name in HARDWARE_ACTIVATIONS

    # -- float64 -------------------------------------------------------------------
    def f(self, h):
        n = self.name
        if n == "identity":
            return h
        if n == "relu":
            return np.maximum(h, 0.0)
        if n == "leaky_relu":
            return np.where(h > 0, h, h * 2.0 ** -self.shift)
        if n == "hardtanh":
            return np.clip(h, -1.0, 1.0)
        if n == "tanh":
            return np.tanh(h)
        return 1.0 / (1.0 + np.exp(-h))  # sigmoid

    def df(self, h):
        n = self.name
        if n == "identity":
            return np.ones_like(h)
        if n == "relu":
            return (h > 0).astype(np.float64)
        if n == "leaky_relu":
            return np.where(h > 0, 1.0, 2.0 ** -self.shift)
        if n == "hardtanh":
            return (np.abs(h) < 1.0).astype(np.float64)
        if n == "tanh":
            return 1.0 - np.tanh(h) ** 2
        s = 1.0 / (1.0 + np.exp(-h))
        return s * (1.0 - s)

    # -- integer (hardware) --------------------------------------------------------
    def f_int(self, h, one: int):
        """f on integer codes; ``one`` is the code of 1.0 in h's format."""
        n = self.name
        if n == "identity":
            return h
        if n == "relu":
            return np.maximum(h, 0)
        if n == "leaky_relu":
            return np.where(h > 0, h, rshift_round(h, self.shift))
        if n == "hardtanh":
            return np.clip(h, -one, one)
        raise ValueError(f"activation {self.name!r} has no fixed-point form")

    def fprime_code(self, h, one: int):
        n = self.name
        if n == "identity":
            return np.full(np.shape(h), FPrime.ONE, dtype=np.int64)
        if n == "relu":
            return np.where(h > 0, FPrime.ONE, FPrime.ZERO).astype(np.int64)
        if n == "leaky_relu":
            return np.where(h > 0, FPrime.ONE, FPrime.SLOPE).astype(np.int64)
        if n == "hardtanh":
            return np.where(np.abs(h) < one, FPrime.ONE, FPrime.ZERO).astype(np.int64)
        raise ValueError(f"activation {self.name!r} has no fixed-point form")

    def apply_fprime(self, code, lam):
        """d = f'(h) * lam on integer sensitivities, from the stashed code."""
        return np.where(code == FPrime.ONE, lam,
                        np.where(code == FPrime.SLOPE, rshift_round(lam, self.shift), 0))

    # -- for error bounds ----------------------------------------------------------
    @property
    def kinks(self) -> tuple[float, ...]:
        return {"relu": (0.0,), "leaky_relu": (0.0,), "hardtanh": (-1.0, 1.0)}.get(self.name, ())

    @property
    def lipschitz(self) -> float:
        return 0.25 if self.name == "sigmoid" else 1.0

    @property
    def min_slope(self) -> float:
        return {"relu": 0.0, "hardtanh": 0.0, "leaky_relu": 2.0 ** -self.shift}.get(self.name, 1.0)


def parse_activation(text: str) -> Activation:
    """Parse ``relu``, ``leaky_relu`` (slope 1/8), ``leaky_relu:K`` (slope 2**-K), ..."""
    name, _, arg = str(text).strip().partition(":")
    known = HARDWARE_ACTIVATIONS + FLOAT_ONLY_ACTIVATIONS
    if name not in known:
        raise ValueError(f"unknown activation {text!r} (choose from {', '.join(known)})")
    if name == "leaky_relu":
        try:
            shift = int(arg) if arg else DEFAULT_LEAKY_SHIFT
        except ValueError:
            raise ValueError(f"leaky_relu slope must be leaky_relu:K for slope 2^-K, "
                             f"not {text!r}") from None
        if not 1 <= shift <= 15:
            raise ValueError(f"leaky_relu:K needs 1 <= K <= 15, not {shift}")
        return Activation(name, shift)
    if arg:
        raise ValueError(f"activation {name!r} takes no parameter ({text!r})")
    return Activation(name)
