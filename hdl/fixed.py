"""Fixed-point building blocks of the gateware, mirroring ``firmware_py.contract.fixedpoint``."""

from amaranth.hdl import Cat, Const, Mux, Value

from firmware_py.contract.activations import Activation, FPrime
from firmware_py.contract.fixedpoint import QFormat

__all__ = ["block_ram", "rshift_round", "rshift_round_var", "round_prepare", "round_finish",
           "minus_rounded", "euler_blend", "saturate", "activate", "apply_fprime"]


def block_ram(width: int, depth: int) -> dict:
    """Memory attributes: keep a small memory in block RAM. Synthesis would build a shallow
    one from flip-flops and read multiplexers (about a logic cell per bit); block RAMs are
    what a small FPGA has to spare. Wide ones (more than four 16-bit-wide blocks) are left
    to synthesis, which would otherwise spend a block per 16 bits of a shallow memory."""
    return {"ram_style": "block"} if width <= 64 and depth <= 256 else {}


def rshift_round(v, k: int):
    """Round-half-up arithmetic shift right by a constant."""
    return v if k == 0 else (v + (1 << (k - 1))) >> k


def rshift_round_var(v, k, max_shift: int, offset: int = 0):
    """Round-half-up arithmetic shift right by ``offset + k``, 0 <= ``k`` <= ``max_shift`` at run
    time.

    floor(v / 2^n + 1/2) == (floor(2v / 2^n) + 1) >> 1: shift with one extra fraction bit,
    then round with a carry-in, so no rounding constant depends on ``k``. The constant
    ``offset`` is wiring only.
    """
    return round_finish(round_prepare(v, offset) >> k)


def round_prepare(v, offset: int = 0):
    """``v`` shifted right by ``offset`` with one extra fraction bit kept (see
    ``rshift_round_var``). Further floor shifts of it may be split over pipeline stages:
    floor(floor(x / 2^a) / 2^b) == floor(x / 2^(a + b))."""
    v = Value.cast(v).as_signed()
    return Cat(Const(0, 1), v).as_signed() if offset == 0 else (v >> (offset - 1))


def round_finish(u):
    """The rounded result from ``round_prepare``'s shifted value: drop the extra bit,
    round half up with it as a carry-in."""
    return u[1:].as_signed() + u[0]


def minus_rounded(w, u):
    """``w - round_finish(u)`` with one subtractor: w - ceil(u / 2) == floor((2w - u) / 2)."""
    return (Cat(Const(0, 1), Value.cast(w)).as_signed() - u)[1:].as_signed()


def euler_blend(old, new, k):
    """``old + rshift_round(new - old, k)`` (``arith.FixedArith.euler``) with one adder.

    With u = round_prepare(new - old) >> k, round_finish(u) == floor((u + 1) / 2), so
    old + round_finish(u) == (2 old + 1 + u) >> 1: the rounding carry rides in the low
    bit of the sum instead of a second adder.
    """
    old = Value.cast(old).as_signed()
    u = round_prepare(Value.cast(new).as_signed() - old) >> k
    return (Cat(Const(1, 1), old).as_signed() + u)[1:].as_signed()


def saturate(v, fmt: QFormat):
    """(value clamped into ``fmt``, 1 if it was clamped). Never wraps.

    Range checks look at the bits above the format's sign bit (a few LUTs) instead of
    comparing against the limits (two carry chains).
    """
    v = Value.cast(v)
    hi, lo = fmt.max, fmt.min
    top = v[fmt.bits - 1:]
    if v.shape().signed:
        sign = v[-1]
        over = (~sign & top.any()) if len(v) > fmt.bits else Const(0)
        under = (sign & ~top.all()) if len(v) > fmt.bits else Const(0)
    else:
        over, under = top.any(), Const(0)
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


