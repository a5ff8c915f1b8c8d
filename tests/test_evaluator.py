"""The evaluator: correct predictions and the squared error of each sample, walked one
output a cycle, as the golden model counts them."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.cycles import eval_walk
from firmware_py.contract.fixedpoint import QFormat
from firmware_py.contract.protocol import classes
from firmware_py.model.network import parse_activations
from hdl.evaluator import Evaluator
from hdl.squarer import MultiplierSquarer, TableSquarer, squarer_for


@pytest.mark.parametrize("nL, bits, targets", [(10, 8, "label"), (3, 16, "vector"),
                                               (1, 8, "label"), (1, 12, "vector")])
def test_counts_and_squared_errors(nL, bits, targets):
    q = QFormat(bits, bits - 3)
    cfg = DyadicConfig((4, nL), parse_activations("identity", 1), act=q, weight=q, sens=q,
                       weight_guard=2, grad_bits=max(2 * (bits - 3) + 2, 16),
                       max_samples=64, targets=targets)
    ev = Evaluator(cfg)
    rng = np.random.default_rng(nL + bits)
    n = 20
    S = rng.integers(q.min, q.max + 1, (n, nL))
    S[:3] = S[:3, :1]                 # ties: the first of equal outputs is the prediction
    if targets == "label":
        labels = rng.integers(0, max(nL, 2), n)
        Y = labels[:, None] * q.one if nL == 1 else np.eye(nL, dtype=np.int64)[labels] * q.one
        T = labels[:, None]
    else:
        Y = T = rng.integers(q.min, q.max + 1, (n, nL))
    want_correct = int(np.sum(classes(cfg, S) == classes(cfg, Y)))
    want_loss = int(np.sum((S - Y) ** 2))

    async def bench(ctx):
        ctx.set(ev.clear, 1)
        await ctx.tick()
        ctx.set(ev.clear, 0)
        for k in range(n):
            assert ctx.get(ev.ready)
            for i in range(nL):
                ctx.set(ev.s[i], int(S[k, i]))
            for i in range(cfg.target_lanes):
                ctx.set(ev.target[i], int(T[k, i]) & ((1 << bits) - 1))
            ctx.set(ev.fire, 1)
            await ctx.tick()
            ctx.set(ev.fire, 0)
            walk = 1
            while not ctx.get(ev.ready):
                await ctx.tick()
                walk += 1
            assert walk == eval_walk(cfg)        # the cycle model's bound, exactly
        assert (ctx.get(ev.correct), ctx.get(ev.loss)) == (want_correct, want_loss)

    sim = Simulator(ev)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_narrow_errors_square_by_table_wide_ones_by_multiplier():
    """An 8-bit format's errors are squared by a table (the small boards' multipliers are
    all the cells'); a wider one's by a multiplier."""
    from amaranth.back import rtlil
    narrow, wide = squarer_for(10, 256), squarer_for(18, 1 << 16)
    assert isinstance(narrow, TableSquarer) and isinstance(wide, MultiplierSquarer)
    assert "$mul" not in rtlil.convert(narrow) and "$mul" in rtlil.convert(wide)
