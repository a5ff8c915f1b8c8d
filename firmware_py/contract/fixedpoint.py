"""Two's-complement fixed-point helpers shared by the golden model and the gateware.

A value with ``frac`` fraction bits in a ``bits``-wide signed word stands for
``integer * 2**-frac``. Integers live in NumPy ``int64`` arrays: every product and
sum the hardware forms fits in 63 bits, so the model never loses a bit the
hardware keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QFormat", "rshift_round", "SaturationCounters", "FormatError"]


class FormatError(ValueError):
    """A value does not fit its fixed-point format."""


@dataclass(frozen=True)
class QFormat:
    """Signed fixed-point format: ``bits`` wide with ``frac`` fraction bits."""

    bits: int
    frac: int

    def __post_init__(self):
        if not (2 <= self.bits <= 48):
            raise ValueError(f"format width must be 2..48 bits, not {self.bits}")
        if not (0 <= self.frac < self.bits):
            raise ValueError(f"fraction bits must be 0..{self.bits - 1}, not {self.frac}")

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def one(self) -> int:
        return 1 << self.frac

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    def __str__(self):
        return f"Q{self.bits - self.frac}.{self.frac}"

    def quantize(self, x, *, saturate: bool = False, what: str = "value") -> np.ndarray:
        """Round float(s) to the nearest code (ties up); out of range raises or saturates."""
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise FormatError(f"{what} contains NaN or inf")
        q = np.floor(x * (1 << self.frac) + 0.5)
        if not saturate:
            bad = (q < self.min) | (q > self.max)
            if np.any(bad):
                worst = float(x[bad].flat[np.argmax(np.abs(x[bad]))])
                raise FormatError(
                    f"{what} {worst:g} does not fit {self} "
                    f"(range {self.min * self.lsb:g} .. {self.max * self.lsb:g})")
        return np.clip(q, self.min, self.max).astype(np.int64)

    def saturate(self, q, counters: SaturationCounters | None = None, kind: str = ""):
        """Clamp integer codes into range, counting each clamped element under ``kind``."""
        q = np.asarray(q, dtype=np.int64)
        if counters is not None:
            n = int(np.count_nonzero((q < self.min) | (q > self.max)))
            if n:
                counters.add(kind, n)
        return np.clip(q, self.min, self.max)


def rshift_round(x, k: int):
    """Arithmetic shift right by ``k`` rounding half up: ``floor(x / 2**k + 1/2)``.

    This is the only rounding the hardware does: add half an LSB, then drop bits.
    """
    if k == 0:
        return x
    if k < 0:
        raise ValueError("shift must be >= 0")
    return (x + (1 << (k - 1))) >> k


class SaturationCounters:
    """Counts of clamped values per kind; the gateware exposes the same counters.

    Kinds: ``h`` forward pre-activation, ``err`` output error, ``lam`` back-propagated
    sensitivity, ``grad`` gradient accumulator, ``weight`` weight update.
    """

    KINDS = ("h", "err", "lam", "grad", "weight")

    def __init__(self):
        self.counts = dict.fromkeys(self.KINDS, 0)

    def add(self, kind: str, n: int):
        self.counts[kind] += n

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return dict(self.counts)

    def __repr__(self):
        return f"SaturationCounters({self.counts})"
