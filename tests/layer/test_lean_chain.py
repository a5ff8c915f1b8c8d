"""Two lean cells in a chain stream a batch exactly as ``dynamics.stream_batch`` does: the
same G, the same weights after the update, every tick as long as ``retiming.tick_work``
says. The testbench plays the run control and the output error."""

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator
from harness import host_access
from test_lane_arithmetic import LEAN_CFG

from firmware_py.contract.cycles import relax_flags, stream_flags
from firmware_py.contract.fixedpoint import SaturationCounters
from firmware_py.contract.retiming import LEAN, Retiming, lean_tiling, tick_work
from firmware_py.model.arith import FixedArith
from firmware_py.model.dynamics import relax, stream_batch
from firmware_py.model.network import Network
from hdl.cell_links import HostTarget
from hdl.layer.cell import LeanCell

KINDS = ("busy", "sat_h", "sat_lam", "sat_grad", "sat_weight")


def _config(sizes, multipliers):
    """The lean digits formats (test_lane_arithmetic.LEAN_CFG) on a smaller network."""
    return dataclasses.replace(LEAN_CFG, sizes=sizes, multipliers=multipliers)


def _chain(config, rt):
    """The lean cells of ``config`` linked as the core links them (below, above, lam)."""
    cells = [LeanCell(config, l, rt) for l in range(1, config.L + 1)]
    top = Module()
    for l, cell in enumerate(cells, 1):
        top.submodules[f"cell{l}"] = cell
    for lo, hi in zip(cells, cells[1:]):
        top.d.comb += [hi.below.s.eq(lo.above.s), hi.below.lam.eq(lo.above.lam),
                       lo.lam_in.value.eq(hi.lam_out.value), lo.lam_in.we.eq(hi.lam_out.we)]
    return top, cells


async def _load_params(ctx, cells, params):
    """W and b into every cell, through the host walk."""
    Ws, bs = params
    for l, cell in enumerate(cells, 1):
        words = list(Ws[l - 1].ravel()) + list(bs[l - 1])
        await host_access(ctx, cell, HostTarget.PARAMS, 0, len(words), words)


def _stream(config, rt, params, X, Y, lr_step):
    L, B = config.L, len(X)
    top, cells = _chain(config, rt)
    f = FixedArith(config)
    result = {"stats": dict.fromkeys(KINDS, 0)}

    def count_stats(ctx):
        for cell in cells:
            for kind in KINDS:
                result["stats"][kind] += ctx.get(getattr(cell.stats, kind))

    async def bench(ctx):
        await _load_params(ctx, cells, params)
        ticks = []
        lam_top = np.zeros(config.sizes[-1], dtype=np.int64)
        for t in range(B + 2 * L + 1):      # (the last commit ends the run)
            cycles = 0
            while not all(ctx.get(c.ctl.ready) for c in cells):
                count_stats(ctx)            # (once a cycle, before its clock edge)
                await ctx.tick()
                cycles += 1
            if t:
                ticks.append(cycles + 1)
            n_top = t - 1 - L                # the output error of the tick that ends
            if 0 <= n_top < B:
                s_top = np.array([ctx.get(cells[-1].above.s[i])
                                  for i in range(config.sizes[-1])])
                lam_top = f.top_error(s_top, Y[n_top])
                for i, v in enumerate(lam_top):
                    ctx.set(cells[-1].lam_in.value[i], int(v))
                ctx.set(cells[-1].lam_in.we, (1 << config.sizes[-1]) - 1)
            for l, cell in enumerate(cells, 1):
                fwd, bwd, grad = stream_flags(L, l, t, B) if t < B + 2 * L else (0, 0, 0)
                n = t - (2 * L + 1 - l)
                ctx.set(cell.ctl.commit, 1)
                for name, v in (("fwd", fwd), ("bwd", bwd), ("grad", grad),
                                ("first", grad and n == 0),
                                ("update", grad and t == B + 2 * L - l),
                                ("lr_shift", lr_step), ("dt_shift", 0)):
                    ctx.set(getattr(cell.ctl, name), int(v))
            count_stats(ctx)
            await ctx.tick()
            for cell in cells:
                ctx.set(cell.ctl.commit, 0)
            ctx.set(cells[-1].lam_in.we, 0)
            # the tick's sample, from the cycle after its commit (the core's sample register)
            x = X[t] if t < B else np.zeros(config.sizes[0], dtype=np.int64)
            for j, v in enumerate(x):
                ctx.set(cells[0].below.s[j], int(v))
        for _ in range(2 * rt.land):
            count_stats(ctx)
            await ctx.tick()
        for l, cell in enumerate(cells, 1):
            N, M = config.sizes[l], config.sizes[l - 1]
            out = []
            for target in (HostTarget.PARAMS, HostTarget.GRADS):
                words = await host_access(ctx, cell, target, 0, N * M + N)
                out.append(np.c_[np.array(words[:N * M]).reshape(N, M), words[N * M:]])
            result[l] = tuple(out)
        result["ticks"] = ticks
    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return result


@pytest.mark.parametrize("sizes, multipliers, rt", [
    ((6, 5, 3), [[2, 3], [3, 2]], LEAN),
    ((9, 7, 4), [[3, 4], [4, 3]], Retiming(address=1, tree=2)),
])
def test_a_lean_chain_streams_a_batch_like_the_golden_model(sizes, multipliers, rt):
    config = _config(sizes, multipliers)
    rng = np.random.default_rng(sum(sizes))
    net = Network.random(sizes, config.activations, rng, scale=1.0, bias_scale=0.5)
    f = FixedArith(config)
    params = f.params(net, saturate=True)
    B, lr_step = 5, 3
    X = f.encode_x(rng.uniform(-1, 3, size=(B, sizes[0])), saturate=True)
    Y = f.encode_y(rng.uniform(-1, 1, size=(B, sizes[-1])), saturate=True)
    got = _stream(config, rt, params, X, Y, lr_step)
    counters = SaturationCounters()
    want = stream_batch(FixedArith(config, counters), params, X, Y, lr=2.0 ** -lr_step)
    for l in range(1, config.L + 1):
        W, G = got[l]            # read back by the host: [W | b], [G_W | G_b]
        assert np.array_equal(G[:, :-1], want.G[l - 1][0]), l
        assert np.array_equal(G[:, -1], want.G[l - 1][1]), l
        assert np.array_equal(W[:, :-1], want.params[0][l - 1]), l
        assert np.array_equal(W[:, -1], want.params[1][l - 1]), l
    assert any(np.any(got[l][1]) for l in (1, 2))
    # every real MAC counted once (no bias column, padding or update), and every saturation
    macs = B * 3 * sum(a * b for a, b in zip(sizes[1:], sizes[:-1])) - B * sizes[0] * sizes[1]
    counts = counters.as_dict()
    assert got["stats"] == {"busy": macs, **{f"sat_{k}": counts.get(k, 0)
                                             for k in ("h", "lam", "grad", "weight")}}
    assert sum(counts.values()) > 0
    L = config.L
    expect = []
    for t in range(B + 2 * L):
        expect.append(max(tick_work(rt, lean_tiling(config, l),
                                    *stream_flags(L, l, t, B), t == B + 2 * L - l
                                    and stream_flags(L, l, t, B)[2], False).need
                          for l in range(1, L + 1)))
    assert got["ticks"] == expect


def _relax(config, params, x, y, ticks, k):
    """A relaxation run on a lean chain: ``ticks`` ticks of forward and adjoint passes
    (the output error written at each), then the read-out tick."""
    top, cells = _chain(config, LEAN)
    f = FixedArith(config)
    result = {}

    async def bench(ctx):
        await _load_params(ctx, cells, params)
        for j, v in enumerate(x):
            ctx.set(cells[0].below.s[j], int(v))
        for t in range(ticks + 2):           # (the last commit ends the read-out tick)
            while not all(ctx.get(c.ctl.ready) for c in cells):
                await ctx.tick()
            nL = config.sizes[-1]
            if 1 <= t <= ticks:              # the output error of the tick that ends
                s_top = np.array([ctx.get(cells[-1].above.s[i]) for i in range(nL)])
                lam = np.array([ctx.get(cells[-1].above.lam[i]) for i in range(nL)])
                new = f.euler(lam, f.top_error(s_top, y), k)
                for i, v in enumerate(new):
                    ctx.set(cells[-1].lam_in.value[i], int(v))
                ctx.set(cells[-1].lam_in.we, (1 << nL) - 1)
            for l, cell in enumerate(cells, 1):
                fwd, bwd, grad = relax_flags(l, t, ticks) if t <= ticks else (0, 0, 0)
                ctx.set(cell.ctl.commit, 1)
                for name, v in (("fwd", fwd), ("bwd", bwd), ("grad", grad), ("first", 1),
                                ("relax", 1), ("readout", t == ticks), ("dt_shift", k)):
                    ctx.set(getattr(cell.ctl, name), int(v))
            await ctx.tick()
            for cell in cells:
                ctx.set(cell.ctl.commit, 0)
            ctx.set(cells[-1].lam_in.we, 0)
        await ctx.tick().repeat(2 * LEAN.land)
        for l, cell in enumerate(cells, 1):
            N, M = config.sizes[l], config.sizes[l - 1]
            g = await host_access(ctx, cell, HostTarget.GRADS, 0, N * M + N)
            st = await host_access(ctx, cell, HostTarget.STATE, 0, 2 * N)
            result[l] = (np.array(g[:N * M]).reshape(N, M), np.array(g[N * M:]),
                         np.array(st[:N]), np.array(st[N:]))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return result


@pytest.mark.parametrize("k", [0, 1])
def test_a_lean_chain_relaxes_to_the_golden_gradient(k):
    """Relaxation (dt = 2^-k): the adjoint and gradient passes read this tick's codes
    after the issue sequencer's gap; the read-out tick's G and the final state match
    ``dynamics.relax``."""
    sizes = (9, 7, 4)
    config = _config(sizes, [[3, 4], [4, 3]])
    rng = np.random.default_rng(11 + k)
    net = Network.random(sizes, config.activations, rng, scale=1.0, bias_scale=0.5)
    f = FixedArith(config)
    params = f.params(net, saturate=True)
    x = f.encode_x(rng.uniform(-1, 3, size=sizes[0]), saturate=True)
    y = f.encode_y(rng.uniform(-1, 1, size=sizes[-1]), saturate=True)
    ticks = 2 * config.L + 3
    got = _relax(config, params, x, y, ticks, k)
    want = relax(FixedArith(config), params, x, y, ticks=ticks, dt=2.0 ** -k)
    for l in range(1, config.L + 1):
        gW, gb, s, lam = got[l]
        assert np.array_equal(gW, want.grads[-1][l - 1][0]), l
        assert np.array_equal(gb, want.grads[-1][l - 1][1]), l
        assert np.array_equal(s, want.states[-1].s[l - 1]), l
        assert np.array_equal(lam, want.states[-1].lam[l - 1]), l
    assert any(np.any(got[l][0]) for l in (1, 2))
