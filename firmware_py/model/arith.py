"""The arithmetic of one Euler tick, in float64 and in the hardware's fixed point.

The schedules in ``dynamics`` (relaxation, streaming) are written once against
this small interface, so the float64 model and the fixed-point model cannot
drift apart: only the arithmetic of each operation differs.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.fixedpoint import SaturationCounters, rshift_round

from .network import Network

__all__ = ["FloatArith", "FixedArith"]


class FloatArith:
    """float64 arithmetic; ``dt == 1`` assigns instead of blending, so it is exact."""

    kind = "float"

    def __init__(self, activations):
        self.activations = tuple(activations)

    @classmethod
    def for_network(cls, net: Network) -> FloatArith:
        return cls(net.activations)

    def params(self, net: Network):
        return [W.copy() for W in net.weights], [b.copy() for b in net.biases]

    def uncounted(self):
        return contextlib.nullcontext()

    def dt_step(self, dt: float):
        if not 0 < dt <= 1:
            raise ValueError(f"dt must be in (0, 1], not {dt}")
        return float(dt)

    def lr_step(self, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, not {lr}")
        return float(lr)

    def encode_x(self, x):
        return np.asarray(x, dtype=np.float64)

    encode_y = encode_x

    def zeros(self, n):
        return np.zeros(n)

    def random_state(self, n, rng):
        return rng.normal(0.0, 1.0, size=n)

    def forward(self, l, W, b, s_prev):
        h = (W @ s_prev.T).T + b  # s_prev: one sample (n,) or a batch (B, n)
        act = self.activations[l]
        return act.f(h), act.df(h)

    def euler(self, old, new, step):
        return new.copy() if step == 1.0 else old + step * (new - old)

    def top_error(self, s_top, y):
        return s_top - y

    def local_error(self, l, fprime, lam):
        return fprime * lam

    def backward(self, W, d):
        return W.T @ d

    def grad(self, d, s_prev):
        return np.outer(d, s_prev), d.copy()

    def accumulate(self, G, g):
        return G + g

    def update(self, P, G, step):
        return P - step * G

    # float views of native values
    def grad_float(self, g):
        return g

    def state_float(self, v, which):
        return v

    def param_float(self, p):
        return p


class FixedArith:
    """Integer arithmetic exactly as the gateware does it (see ``DyadicConfig``).

    Rounding is always round-half-up (``rshift_round``); every narrowing to a
    format saturates and is counted in ``self.counters``.
    """

    kind = "fixed"

    def __init__(self, config: DyadicConfig, counters: SaturationCounters | None = None):
        self.config = config
        self.activations = config.activations
        self.counters = counters if counters is not None else SaturationCounters()

    @classmethod
    def for_network(cls, net: Network, **formats) -> FixedArith:
        return cls(DyadicConfig(net.sizes, net.activations, **formats))

    @contextlib.contextmanager
    def uncounted(self):
        """Operations inside do not count saturation (analysis-only read-outs)."""
        saved, self.counters = self.counters, SaturationCounters()
        try:
            yield
        finally:
            self.counters = saved

    # -- conversions -----------------------------------------------------------------
    def params(self, net: Network, *, saturate: bool = False):
        """Quantize float weights/biases to master codes.

        Raises ``FormatError`` for a value out of range, unless ``saturate``.
        """
        m = self.config.master
        return tuple([m.quantize(a, saturate=saturate, what=f"{name}{i}")
                      for i, a in enumerate(arrays, 1)]
                     for name, arrays in (("W", net.weights), ("b", net.biases)))

    def dt_step(self, dt: float) -> int:
        k = _power_of_two_exponent(dt, "dt")
        if k > 15:
            raise ValueError("dt must be >= 2^-15")
        return k

    def lr_step(self, lr: float) -> int:
        k = _power_of_two_exponent(lr, "learning rate")
        if k > 31:
            raise ValueError("learning rate must be >= 2^-31")
        return k

    def encode_x(self, x, saturate=False):
        return self.config.act.quantize(x, saturate=saturate, what="input")

    def encode_y(self, y, saturate=False):
        return self.config.act.quantize(y, saturate=saturate, what="target")

    def zeros(self, n):
        return np.zeros(n, dtype=np.int64)

    def random_state(self, n, rng):
        return self.config.act.quantize(rng.normal(0.0, 1.0, size=n), saturate=True)

    # -- one tick's operations -----------------------------------------------------
    def operand(self, P):
        """The multiplier operand: master code with the guard bits dropped (floor)."""
        return P >> self.config.weight_guard

    def forward(self, l, W, b, s_prev):
        c = self.config
        # s_prev: one sample (n,) or a batch (B, n); integer sums are exact either way
        acc = (self.operand(W) @ s_prev.T).T + (self.operand(b) << c.act.frac)
        h = c.act.saturate(rshift_round(acc, c.weight.frac), self.counters, "h")
        act = self.activations[l]
        return act.f_int(h, c.act.one), act.fprime_code(h, c.act.one)

    def euler(self, old, new, step):
        # The result lies between old and new, so it needs no saturation.
        return old + rshift_round(new - old, step)

    def top_error(self, s_top, y):
        c = self.config
        e = s_top - y
        shift = c.sens.frac - c.act.frac
        e = e << shift if shift >= 0 else rshift_round(e, -shift)
        return c.sens.saturate(e, self.counters, "err")

    def local_error(self, l, code, lam):
        return self.activations[l].apply_fprime(code, lam)

    def backward(self, W, d):
        c = self.config
        acc = self.operand(W).T @ d
        return c.sens.saturate(rshift_round(acc, c.weight.frac), self.counters, "lam")

    def grad(self, d, s_prev):
        return np.outer(d, s_prev), d << self.config.act.frac

    def accumulate(self, G, g):
        return self.config.grad.saturate(G + g, self.counters, "grad")

    def update(self, P, G, step):
        c = self.config
        shift = c.grad_frac - c.master.frac + step
        delta = rshift_round(G, shift) if shift >= 0 else G << -shift
        return c.master.saturate(P - delta, self.counters, "weight")

    # -- float views -------------------------------------------------------------------
    def grad_float(self, g):
        return g * 2.0 ** -self.config.grad_frac

    def state_float(self, v, which):
        return v * (self.config.act if which == "s" else self.config.sens).lsb

    def param_float(self, p):
        """The value the multipliers use (operand), as float."""
        return self.operand(p) * self.config.weight.lsb


def _power_of_two_exponent(v: float, what: str) -> int:
    if not (v > 0 and v <= 1):
        raise ValueError(f"{what} must be in (0, 1], not {v}")
    k = -math.log2(v)
    if k != int(k):
        raise ValueError(f"fixed point needs {what} = 2^-k (a shift), not {v}")
    return int(k)

