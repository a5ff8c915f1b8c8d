"""The gateware fixed-point helpers (``hdl.fixed``) against the golden model, bit for bit.

Each helper is instantiated many times side by side in one combinational design, so
that one simulation evaluates a whole batch of inputs per settle; inputs are
exhaustive where the range is small (16-bit h and lam) and edges plus random values
elsewhere. Every expected value comes from ``firmware_py``.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.sim import Simulator

from firmware_py.contract.activations import Activation, FPrime, parse_activation
from firmware_py.contract.fixedpoint import QFormat, SaturationCounters, rshift_round
from hdl import fixed

ACT = QFormat(16, 12)
HW_ACTS = ["identity", "relu", "leaky_relu:1", "leaky_relu:3", "leaky_relu:15", "hardtanh"]
LANE_BITS = 1024  # bits of one packed signal: more lanes settle faster but compile slower


def _pack(values, width):
    mask, word = (1 << width) - 1, 0
    for n, v in enumerate(values):
        word |= (int(v) & mask) << (n * width)
    return word


def _unpack(word, shape, lanes):
    w, mask = shape.width, (1 << shape.width) - 1
    out = [(word >> (n * w)) & mask for n in range(lanes)]
    if shape.signed:
        out = [v - (1 << w) if v >> (w - 1) else v for v in out]
    return out


def comb_eval(fn, inputs):
    """Evaluate ``fn`` on every row of ``inputs`` in one combinational simulation.

    ``inputs`` is a list of (shape, values) columns of equal length; ``fn`` gets one
    Value per column (of that shape) and returns a tuple of Values. Each output is read
    at its own natural shape, so the harness truncates nothing. Returns one int64 array
    per output.
    """
    shapes = [signed(s.width) if s.signed else unsigned(s.width) for s, _ in inputs]
    cols = [np.asarray(v, dtype=np.int64).ravel() for _, v in inputs]
    n = len(cols[0])
    assert all(len(c) == n for c in cols)
    for shape, c in zip(shapes, cols):  # the inputs must fit their signals
        lo, hi = (-(1 << shape.width - 1), (1 << shape.width - 1) - 1) if shape.signed \
            else (0, (1 << shape.width) - 1)
        assert lo <= c.min() and c.max() <= hi

    def lane_args(sigs, lane):
        return [(sig[lane * sh.width:(lane + 1) * sh.width]).as_signed() if sh.signed
                else sig[lane * sh.width:(lane + 1) * sh.width]
                for sig, sh in zip(sigs, shapes)]

    # the output shapes, from one probe instance
    probe = [Signal(sh) for sh in shapes]
    out_shapes = [Value.cast(r).shape() for r in fn(*probe)]
    widest = max(sh.width for sh in shapes + out_shapes)
    lanes = max(1, min(n, LANE_BITS // widest))

    m = Module()
    in_sigs = [Signal(sh.width * lanes, name=f"in{k}") for k, sh in enumerate(shapes)]
    out_sigs = [Signal(sh.width * lanes, name=f"out{k}") for k, sh in enumerate(out_shapes)]
    for lane in range(lanes):
        results = fn(*lane_args(in_sigs, lane))
        for sig, sh, r in zip(out_sigs, out_shapes, results):
            m.d.comb += sig[lane * sh.width:(lane + 1) * sh.width].eq(r)

    pad = (-n) % lanes
    cols = [np.concatenate([c, np.full(pad, c[0])]) for c in cols]
    results = [[] for _ in out_sigs]

    async def bench(ctx):
        for start in range(0, n + pad, lanes):
            for sig, sh, c in zip(in_sigs, shapes, cols):
                ctx.set(sig, _pack(c[start:start + lanes], sh.width))
            await ctx.delay(1e-9)
            for res, sig, sh in zip(results, out_sigs, out_shapes):
                res.extend(_unpack(ctx.get(sig), sh, lanes))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return [np.asarray(r[:n], dtype=np.int64) for r in results]


def _every(bits):
    return np.arange(-(1 << bits - 1), 1 << bits - 1, dtype=np.int64)


def _around(points, span):
    return np.unique(np.concatenate([np.arange(p - span, p + span + 1) for p in points]))


# -- rshift_round ----------------------------------------------------------------------------

def test_rshift_round_constant_every_16_bit_value():
    v = _every(16)
    outs = comb_eval(lambda x: tuple(fixed.rshift_round(x, k) for k in range(5)),
                     [(signed(16), v)])
    for k, out in enumerate(outs):
        np.testing.assert_array_equal(out, rshift_round(v, k), err_msg=f"k={k}")


def test_rshift_round_constant_unsigned_operand():
    v = np.arange(0, 1 << 12, dtype=np.int64)
    outs = comb_eval(lambda x: tuple(fixed.rshift_round(x, k) for k in range(5)),
                     [(unsigned(12), v)])
    for k, out in enumerate(outs):
        np.testing.assert_array_equal(out, rshift_round(v, k), err_msg=f"k={k}")


# -- rshift_round_var --------------------------------------------------------------------------

def _var_shift_case(bits, max_shift, n_random, seed):
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << bits - 1), (1 << bits - 1) - 1
    ties = [s * (1 << k) + e for k in range(max_shift + 1) for s in (-1, 1)
            for e in (-(1 << max(k - 1, 0)), 0, 1 << max(k - 1, 0))]
    v = np.concatenate([_around([lo + 40, 0, hi - 40], 40), ties,
                        rng.integers(lo, hi, n_random, endpoint=True)])
    v = np.unique(np.clip(v, lo, hi))
    vv, kk = np.meshgrid(v, np.arange(max_shift + 1))
    return vv.ravel(), kk.ravel()


@pytest.mark.parametrize("bits, max_shift", [
    (17, 15),   # Euler blend: (target - v) >> dt_shift
    (32, 35),   # SGD step: G >> (grad.frac - master.frac + lr_shift)
])
def test_rshift_round_var_matches_every_shift(bits, max_shift):
    v, k = _var_shift_case(bits, max_shift, 300, seed=bits)
    (out,) = comb_eval(lambda x, s: (fixed.rshift_round_var(x, s, max_shift),),
                       [(signed(bits), v), (unsigned(max_shift.bit_length()), k)])
    expect = np.array([rshift_round(int(a), int(b)) for a, b in zip(v, k)], dtype=np.int64)
    bad = np.flatnonzero(out != expect)
    assert bad.size == 0, f"v={v[bad[:5]]} k={k[bad[:5]]}: {out[bad[:5]]} != {expect[bad[:5]]}"


@pytest.mark.parametrize("offset", [1, 4])
def test_rshift_round_var_with_constant_offset(offset):
    # the SGD step: G >> (grad.frac - master.frac + lr_shift), lr_shift 0..31
    v, k = _var_shift_case(32, 31, 200, seed=7)
    (out,) = comb_eval(lambda x, s: (fixed.rshift_round_var(x, s, 31, offset),),
                       [(signed(32), v), (unsigned(5), k)])
    expect = np.array([rshift_round(int(a), int(b) + offset) for a, b in zip(v, k)],
                      dtype=np.int64)
    np.testing.assert_array_equal(out, expect)


def test_rshift_round_var_negative_values_round_half_up():
    # negative ties round towards +inf, like the model: -2^(k-1) >> k is 0, not -1
    k = np.arange(16)
    v = np.concatenate([-(1 << np.maximum(k - 1, 0)), -(1 << np.maximum(k - 1, 0)) - 1,
                        -(1 << 16) + 0 * k, -1 + 0 * k])
    k = np.tile(k, 4)
    (out,) = comb_eval(lambda x, s: (fixed.rshift_round_var(x, s, 15),),
                       [(signed(17), v), (unsigned(4), k)])
    expect = np.array([rshift_round(int(a), int(b)) for a, b in zip(v, k)], dtype=np.int64)
    np.testing.assert_array_equal(out, expect)
    assert np.all(out <= 0)


def test_minus_rounded_is_w_minus_the_rounded_shift():
    # the SGD step: w - round(u / 2) for u from round_prepare, one subtractor
    rng = np.random.default_rng(11)
    w = rng.integers(-(1 << 15), 1 << 15, 3000)
    u = np.concatenate([rng.integers(-(1 << 17), 1 << 17, 2000), np.arange(-500, 500)])
    (out,) = comb_eval(lambda a, b: (fixed.minus_rounded(a, b),),
                       [(signed(16), w), (signed(18), u)])
    np.testing.assert_array_equal(out, w - rshift_round(u, 1))


# -- euler_blend ---------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [6, 16])
def test_euler_blend_matches_the_golden_euler(bits):
    """old + round((new - old) / 2^k) with one adder: every 6-bit pair, and 16-bit edges
    and random pairs, for every dt shift 0..15."""
    from firmware_py.model.arith import FixedArith
    lo, hi = -(1 << bits - 1), (1 << bits - 1) - 1
    if bits <= 6:
        old, new = (a.ravel() for a in np.meshgrid(np.arange(lo, hi + 1), np.arange(lo, hi + 1)))
    else:
        rng = np.random.default_rng(3)
        edge = np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi])
        old = np.concatenate([np.repeat(edge, len(edge)), rng.integers(lo, hi, 400, endpoint=True)])
        new = np.concatenate([np.tile(edge, len(edge)), rng.integers(lo, hi, 400, endpoint=True)])
    k = np.repeat(np.arange(16), len(old))
    old, new = np.tile(old, 16), np.tile(new, 16)
    (out,) = comb_eval(lambda a, b, s: (fixed.euler_blend(a, b, s),),
                       [(signed(bits), old), (signed(bits), new), (unsigned(4), k)])
    expect = np.array([FixedArith.euler(None, int(a), int(b), int(s))
                       for a, b, s in zip(old, new, k)], dtype=np.int64)
    bad = np.flatnonzero(out != expect)
    assert bad.size == 0, f"old={old[bad[:5]]} new={new[bad[:5]]} k={k[bad[:5]]}"


# -- saturate ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, in_shape", [
    (QFormat(16, 12), signed(24)),     # h from the rounded accumulator (act format)
    (QFormat(16, 12), signed(17)),     # one bit wider than the format
    (QFormat(16, 12), unsigned(17)),   # an unsigned operand never counts as negative
    (QFormat(24, 20), signed(26)),     # master weights after an update
    (QFormat(32, 24), signed(33)),     # gradient accumulator after a sum
])
def test_saturate_clamps_and_flags(fmt, in_shape):
    w = in_shape.width
    lo, hi = (-(1 << w - 1), (1 << w - 1) - 1) if in_shape.signed else (0, (1 << w) - 1)
    rng = np.random.default_rng(w)
    v = np.concatenate([_around([fmt.min, fmt.max, 0, -1], 300),
                        _around([lo + 20, hi - 20], 20), rng.integers(lo, hi, 2000)])
    v = np.unique(np.clip(v, lo, hi))
    val, flag = comb_eval(lambda x: fixed.saturate(x, fmt), [(in_shape, v)])
    counters = SaturationCounters()
    expect = fmt.saturate(v, counters, "h")
    np.testing.assert_array_equal(val, expect)
    np.testing.assert_array_equal(flag, (expect != v).astype(np.int64))
    assert int(flag.sum()) == counters.counts["h"] > 0
    assert int(flag.sum()) < len(v)


def test_saturate_result_has_the_format_width():
    val, flag = fixed.saturate(Signal(signed(30)), QFormat(16, 12))
    assert val.shape() == signed(16) and len(flag) == 1


# -- activate / apply_fprime ----------------------------------------------------------------

@pytest.mark.parametrize("name", HW_ACTS)
def test_activate_every_16_bit_h(name):
    act = parse_activation(name)
    h = _every(ACT.bits)
    f, code = comb_eval(lambda x: fixed.activate(act, x, ACT.one), [(signed(ACT.bits), h)])
    np.testing.assert_array_equal(f, act.f_int(h, ACT.one))
    np.testing.assert_array_equal(code, act.fprime_code(h, ACT.one))
    # results stay inside the activation format, codes are valid FPrime members
    assert f.min() >= ACT.min and f.max() <= ACT.max
    assert set(np.unique(code)) <= {int(c) for c in FPrime}


@pytest.mark.parametrize("name", HW_ACTS)
def test_apply_fprime_every_lam_and_code(name):
    act = parse_activation(name)
    lam = _every(16)
    codes = np.arange(4)  # 3 is not a valid code: it must give 0 as in the model
    ll, cc = np.meshgrid(lam, codes)
    (d,) = comb_eval(lambda c, x: (fixed.apply_fprime(act, c, x),),
                     [(unsigned(2), cc.ravel()), (signed(16), ll.ravel())])
    np.testing.assert_array_equal(d, act.apply_fprime(cc.ravel(), ll.ravel()))


def test_float_only_activation_has_no_hardware_form():
    with pytest.raises(ValueError, match="no hardware form"):
        fixed.activate(Activation("tanh"), Signal(signed(16)), ACT.one)
