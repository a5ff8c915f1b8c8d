"""The lane's arithmetic units against the golden model, value for value, and their
latencies against the Retiming contract."""

import dataclasses

import numpy as np
import pytest
from harness import run_pipe

from firmware_py.contract.config import ConfigError, DyadicConfig
from firmware_py.contract.fixedpoint import SaturationCounters
from firmware_py.contract.retiming import LEAN, Retiming
from firmware_py.model.arith import FixedArith
from firmware_py.model.network import parse_activations
from hdl.layer.gradient import GradientUnit
from hdl.layer.update import ArrayUpdate, ShiftOperand, shift_operand, step_shift
from sim.runner import LEAN_FORMATS

# digits' lean formats (configs/digits-lean-ecp5.json): act Q3.5, weight Q2.6 (+6 guard bits),
# sens Q1.7, an 18-bit G
LEAN_CFG = DyadicConfig((64, 32, 10), parse_activations("relu,identity", 2), **LEAN_FORMATS)
P_BITS = 36


def _edges(fmt_bits, rng, n):
    lo, hi = -(1 << (fmt_bits - 1)), (1 << (fmt_bits - 1)) - 1
    return np.concatenate([[lo, lo + 1, -1, 0, 1, hi - 1, hi],
                           rng.integers(lo, hi + 1, size=n)])


def test_the_step_is_every_gradient_times_one_operand():
    """G x B stepped by one adder equals FixedArith.update for every 18-bit G and shift."""
    c = LEAN_CFG
    top = c.grad_bits - 1
    g = np.arange(-(1 << top), 1 << top, dtype=np.int64)
    w = np.random.default_rng(0).integers(c.master.min, c.master.max + 1, size=g.size)
    for k in range(0, 25):
        s = step_shift(c, k)
        got = c.master.saturate(((w << top) + (1 << (top - 1)) - 1 + g * shift_operand(c, s))
                                >> top)
        assert np.array_equal(got, FixedArith(c).update(w, g, k)), k


@pytest.mark.parametrize("rt", [LEAN, Retiming(writeback=0), Retiming(writeback=2)])
def test_array_update_is_the_golden_update(rt):
    c, rng = LEAN_CFG, np.random.default_rng(1)
    cases = [(int(w), int(g), int(k)) for w, g, k in zip(
        _edges(c.master.bits, rng, 300), _edges(c.grad_bits, rng, 307)[:307],
        rng.integers(0, 22, size=307))]
    dut = ArrayUpdate(c, rt, P_BITS)
    seen = run_pipe(dut, [{"w": w, "p": g * shift_operand(c, step_shift(c, k))}
                          for w, g, k in cases], ["w_new", "saturated"])
    for t, (w, g, k) in enumerate(cases):
        counters = SaturationCounters()
        want = int(FixedArith(c, counters).update(np.int64(w), np.int64(g), k))
        out = seen[t + rt.writeback]
        sat = counters.as_dict().get("weight", 0)
        assert (out["w_new"], out["saturated"]) == (want, sat), (w, g, k)


def test_the_shift_operand_follows_the_run_shift():
    c = LEAN_CFG
    dut = ShiftOperand(c, max_shift=24)
    seen = run_pipe(dut, [{"s": s} for s in range(25)], ["b"])
    assert [seen[s + 1]["b"] for s in range(25)] == [shift_operand(c, s) for s in range(25)]


@pytest.mark.parametrize("rt", [LEAN, Retiming(writeback=0)])
def test_gradient_unit_is_the_golden_accumulate(rt):
    c, rng = LEAN_CFG, np.random.default_rng(2)
    g = _edges(c.grad_bits, rng, 400)
    p = np.concatenate([[-(1 << 14), (1 << 14) - 1, 0, 1, -1, 5, -5],
                        rng.integers(-(1 << 14), 1 << 14, size=400)])
    dut = GradientUnit(c, rt, P_BITS)
    seen = run_pipe(dut, [{"g": int(a), "p": int(b)} for a, b in zip(g, p)],
                    ["g_new", "saturated"])
    for t, (a, b) in enumerate(zip(g, p)):
        counters = SaturationCounters()
        want = int(FixedArith(c, counters).accumulate(np.int64(a), np.int64(b)))
        assert (seen[t + rt.writeback]["g_new"], seen[t + rt.writeback]["saturated"]) == \
            (want, counters.as_dict().get("grad", 0)), (a, b)


def test_a_gradient_wider_than_the_multiplier_is_refused():
    from hdl.layer.lane import check_widths
    check_widths(LEAN_CFG)
    with pytest.raises(ConfigError, match="18-bit multiplier operands"):
        dataclasses.replace(LEAN_CFG, grad_bits=20)
    with pytest.raises(ValueError, match="18-bit multiplier"):
        check_widths(dataclasses.replace(LEAN_CFG, grad_bits=20, cell="classic"))
