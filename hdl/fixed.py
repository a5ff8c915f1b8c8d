"""Fixed-point building blocks of the gateware, mirroring ``firmware_py.fixedpoint``."""

from amaranth.hdl import Array, Const, Mux, Value

from firmware_py.activations import Activation, FPrime
from firmware_py.fixedpoint import QFormat

__all__ = ["rshift_round", "rshift_round_var", "saturate", "activate", "apply_fprime"]


def rshift_round(v, k: int):
    """Round-half-up arithmetic shift right by a constant."""
    return v if k == 0 else (v + (1 << (k - 1))) >> k


def rshift_round_var(v, k, max_shift: int):
    """Round-half-up arithmetic shift right by a runtime amount 0 <= ``k`` <= ``max_shift``."""
    v = Value.cast(v).as_signed()
    width = max(len(v), max_shift + 1) + 1
    # 2^(k-1), or 0 for k = 0, from a table (a variable left shift would be 2^len(k) wide)
    half = Array([Const(0 if n == 0 else 1 << (n - 1), width) for n in range(max_shift + 1)])[k]
    return (v + half.as_signed()) >> k


def saturate(v, fmt: QFormat):
    """(value clamped into ``fmt``, 1 if it was clamped). Never wraps."""
    v = Value.cast(v)
    hi, lo = fmt.max, fmt.min
    over, under = v > hi, v < lo
    return Mux(over, hi, Mux(under, lo, v)).as_signed()[:fmt.bits].as_signed(), over | under


def activate(act: Activation, h, one: int):
    """(f(h), derivative code) for one neuron; h is already in the activation format."""
    n = act.name
    pos = h > 0
    if n == "identity":
        return h, Const(FPrime.ONE, 2)
    if n == "relu":
        return Mux(pos, h, 0), Mux(pos, FPrime.ONE, FPrime.ZERO)
    if n == "leaky_relu":
        return Mux(pos, h, rshift_round(h, act.shift)), Mux(pos, FPrime.ONE, FPrime.SLOPE)
    if n == "hardtanh":
        inside = (h < one) & (h > -one)
        return (Mux(h >= one, one, Mux(h <= -one, -one, h)),
                Mux(inside, FPrime.ONE, FPrime.ZERO))
    raise ValueError(f"{n} has no hardware form")


def apply_fprime(act: Activation, code, lam):
    """d = f'(h) * lam from the 2-bit derivative code."""
    slope = rshift_round(lam, act.shift) if act.name == "leaky_relu" else lam
    return Mux(code == FPrime.ONE, lam, Mux(code == FPrime.SLOPE, slope, 0))


