"""One ``LayerCell`` driven through its own ports against the fixed-point golden model.

Parameters and state go in and out through the host port; a tick starts at a
``ctl.commit`` and may end (the next commit) once ``ctl.ready`` is set. Checked bit for
bit: the forward state (with and without an Euler blend), the adjoint targets strobed
on ``lam_out``, the gradients and the fused SGD step, the saturation and busy counts,
and the tick length against ``firmware_py.contract.cycles.cell_work``.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import ConfigError, DyadicConfig
from firmware_py.contract.cycles import cell_work
from firmware_py.contract.fixedpoint import SaturationCounters
from firmware_py.model.arith import FixedArith
from hdl.cell import LayerCell
from hdl.cell_links import HostTarget
from sim.amaranth_tb import stream_get, stream_put

SIZES = (3, 4, 2)
ACTS = ("leaky_relu:3", "identity")
# tiled, one multiplier, fully parallel; each also with the products registered; and with
# the serial weight update; and with the multiplier operands registered (pipeline 2):
# (multipliers, pipeline[, serial_update])
MULTIPLIERS = [(2, 3), (1, 1), (12, 8), ((2, 3), 1), ((1, 1), 1), ((12, 8), 1),
               ((2, 3), 0, True), ((1, 1), 1, True), ((12, 8), 1, True),
               ((2, 3), 2), ((1, 1), 2), ((12, 8), 2, True)]   # operands registered too
FLAGS = ("fwd", "bwd", "grad", "first", "update", "relax", "readout")
WATCHDOG = 2000  # cycles; a test that hangs on a handshake fails instead


def _cfg(multipliers, acts=ACTS):
    """``multipliers`` per cell, or (multipliers, pipeline[, serial_update])."""
    pipeline, serial = 0, False
    if isinstance(multipliers[0], tuple):
        multipliers, pipeline, *serial = multipliers
        serial = bool(serial and serial[0])
    return DyadicConfig(SIZES, acts, multipliers=multipliers, max_batch=4, pipeline=pipeline,
                        serial_update=serial)


def _seed(multipliers):
    """The pipelined variant of a case draws the same numbers."""
    return sum(multipliers[0] if isinstance(multipliers[0], tuple) else multipliers)


def _draw(rng, scale, shape):
    """Uniform in +-scale; for a large scale, magnitudes in [scale/2, scale] so that the
    sums overflow their formats and the saturation logic is exercised."""
    if scale < 2:
        return rng.uniform(-scale, scale, shape)
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(scale / 2, scale, shape)


def _params(cfg, l, rng, scale):
    """Random master codes for W_l (n_out x n_in) and b_l."""
    n_out, n_in = cfg.sizes[l], cfg.sizes[l - 1]
    W = cfg.master.quantize(_draw(rng, scale, (n_out, n_in)), saturate=True)
    b = cfg.master.quantize(_draw(rng, scale, n_out), saturate=True)
    return W, b


def _input(ar, n, rng, scale):
    """A quantized input vector, large (|x| in [2, 4]) with large weights."""
    return ar.encode_x(_draw(rng, 1.0 if scale < 2 else 4.0, n))


def _signed32(word):
    return word - (1 << 32) if word >> 31 else word


def _run(cell, bench):
    sim = Simulator(cell)
    sim.add_clock(1e-6)
    finished = []

    async def testbench(ctx):
        await bench(ctx)
        finished.append(True)

    async def watchdog(ctx):
        for _ in range(WATCHDOG):
            await ctx.tick()
        raise AssertionError(f"testbench still running after {WATCHDOG} cycles")

    async def host_watch(ctx):
        # the core's side of a host transfer: count the cell's done strobes
        async for _, _, done in ctx.tick().sample(cell.host.done):
            _DONE[id(cell)] += done

    _DONE[id(cell)] = 0
    sim.add_testbench(testbench)
    sim.add_testbench(watchdog, background=True)
    sim.add_testbench(host_watch, background=True)
    sim.run()
    assert finished


# -- host port -----------------------------------------------------------------------------

# Transfers each cell has finished (its host.done strobes), kept by _run's host_watch.
_DONE = {}


async def _host_start(ctx, cell, target, write, count, offset=0):
    ctx.set(cell.host.target, target)
    ctx.set(cell.host.write, write)
    ctx.set(cell.host.offset, offset)
    ctx.set(cell.host.count, count)
    ctx.set(cell.host.start, 1)
    await ctx.tick()
    ctx.set(cell.host.start, 0)
    return _DONE[id(cell)] + 1


async def _host_done(ctx, cell, ticket):
    while _DONE[id(cell)] < ticket:
        await ctx.tick()
    assert _DONE[id(cell)] == ticket, "one done strobe per transfer"


async def host_write(ctx, cell, target, *arrays, offset=0):
    """Write the arrays' elements from element ``offset`` of the target on."""
    ticket = await _host_start(ctx, cell, target, 1, sum(np.size(a) for a in arrays), offset)
    for a in arrays:
        for v in np.ravel(a):
            await stream_put(ctx, cell.host_i, int(v) & 0xFFFF_FFFF)
    await _host_done(ctx, cell, ticket)


async def host_read(ctx, cell, target, *counts, offset=0):
    ticket = await _host_start(ctx, cell, target, 0, sum(counts), offset)
    out = []
    for n in counts:
        out.append(np.array([_signed32(await stream_get(ctx, cell.host_o)) for _ in range(n)],
                            dtype=np.int64))
    await _host_done(ctx, cell, ticket)
    return out


async def load_params(ctx, cell, W, b):
    await host_write(ctx, cell, HostTarget.PARAMS, W, b)


async def read_state(ctx, cell):
    return await host_read(ctx, cell, HostTarget.STATE, cell.n_out, cell.n_out)


# -- ticks ---------------------------------------------------------------------------------

async def commit(ctx, cell, dt_shift=0, lr_shift=0, **flags):
    """One-cycle commit: ends the running tick and starts the next with these flags."""
    assert set(flags) <= set(FLAGS)
    for name in FLAGS:
        ctx.set(getattr(cell.ctl, name), flags.get(name, 0))
    ctx.set(cell.ctl.dt_shift, dt_shift)
    ctx.set(cell.ctl.lr_shift, lr_shift)
    for k in (cell.ctl.commit, *cell.ctl.commit_state):
        ctx.set(k, 1)
    await ctx.tick()
    for k in (cell.ctl.commit, *cell.ctl.commit_state):
        ctx.set(k, 0)
    for name in FLAGS:
        ctx.set(getattr(cell.ctl, name), 0)


async def run_tick(ctx, cell, **flags):
    """Start a tick, watch it until ``ready``, then end it with an idle commit.

    Returns (cycles from commit to ready, lam_out strobes as [(j, value)], stat sums).
    """
    await commit(ctx, cell, **flags)
    cycles, strobes, predicted = 1, [], None
    stats = dict.fromkeys(("busy", "sat_h", "sat_lam", "sat_grad", "sat_weight"), 0)
    while True:
        we, value = ctx.get(cell.lam_out.we), ctx.get(cell.lam_out.value)
        strobes += [(j, value[j]) for j in range(cell.n_in) if we >> j & 1]
        for k in stats:
            stats[k] += ctx.get(getattr(cell.stats, k))
        # the core registers ready_next as the next cycle's ready (no commit in between)
        assert predicted in (None, ctx.get(cell.ctl.ready)), f"ready_next at cycle {cycles}"
        if ctx.get(cell.ctl.ready):
            assert ctx.get(cell.ctl.ready_next), "ready holds until commit"
            break
        predicted = ctx.get(cell.ctl.ready_next)
        await ctx.tick()
        cycles += 1
    await commit(ctx, cell)   # all pass flags 0: the datapath goes idle
    for k in stats:           # counts registered in the ready cycle (pipeline 1) arrive now
        stats[k] += ctx.get(getattr(cell.stats, k))
    return cycles, strobes, stats


def _need(cell, fwd=0, bwd=0, grad=0, relax=0, update=0, **_):
    return cell_work(cell.tiling, bool(fwd), bool(bwd) and cell.l > 1, bool(grad), bool(relax),
                     bool(update), cell.config.pipeline, cell.config.update_steps(cell.l))[1]


def _strobed(cell, strobes):
    """lam_out values by index; every element must be strobed exactly once."""
    idx = [j for j, _ in strobes]
    assert sorted(idx) == list(range(cell.n_in)), f"lam_out strobes {idx}"
    return np.array([v for _, v in sorted(strobes)], dtype=np.int64)


# -- tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("multipliers", [(2, 3), ((2, 3), 2), ((12, 8), 2, True)])
def test_host_windows_skip_to_the_offset(multipliers):
    # the cell counts the window: a write of a few elements from an offset (across the
    # matrix/vector boundary) changes only those; reads of windows see them
    cfg = _cfg(multipliers)
    rng = np.random.default_rng(7)
    W, b = _params(cfg, 2, rng, 1.5)
    flat = np.concatenate([W.ravel(), b])
    patch = cfg.master.quantize(_draw(rng, 1.5, 3), saturate=True)
    off = W.size - 2                  # the last two of W, then b[0]
    expect = flat.copy()
    expect[off:off + 3] = patch
    cell = LayerCell(cfg, 2)

    async def bench(ctx):
        await load_params(ctx, cell, W, b)
        await host_write(ctx, cell, HostTarget.PARAMS, patch, offset=off)
        for o, n in [(0, flat.size), (off, 3), (flat.size - 1, 1), (1, 4)]:
            got, = await host_read(ctx, cell, HostTarget.PARAMS, n, offset=o)
            np.testing.assert_array_equal(got, expect[o:o + n])

    _run(cell, bench)


@pytest.mark.parametrize("multipliers", MULTIPLIERS)
@pytest.mark.parametrize("l", [1, 2])
def test_forward_tick_matches_golden(multipliers, l):
    # several cases in one simulation: each reloads W, b and the state
    cfg = _cfg(multipliers)
    ar, n_out = FixedArith(cfg), cfg.sizes[l]
    rng = np.random.default_rng(10 * l + _seed(multipliers))
    cases = []
    for scale, dt_shift in [(1.5, 0), (8.0, 0), (1.5, 2), (1.5, 15)]:
        W, b = _params(cfg, l, rng, scale)
        x = _input(ar, cfg.sizes[l - 1], rng, scale)
        s0 = ar.random_state(n_out, rng)
        lam0 = cfg.sens.quantize(_draw(rng, 2.0, n_out))
        ar.counters.counts["h"] = 0
        f, _ = ar.forward(l - 1, W, b, x)
        cases.append((W, b, x, s0, lam0, dt_shift, ar.euler(s0, f, dt_shift),
                      ar.counters.counts["h"]))
    assert cases[1][-1] > 0   # the large case does exercise saturation
    cell, flags = LayerCell(cfg, l), dict(fwd=1, relax=1)

    async def bench(ctx):
        for W, b, x, s0, lam0, dt_shift, expect, n_sat in cases:
            await load_params(ctx, cell, W, b)
            pW, pb = await host_read(ctx, cell, HostTarget.PARAMS, W.size, b.size)
            assert np.array_equal(pW, W.ravel()) and np.array_equal(pb, b)
            await host_write(ctx, cell, HostTarget.STATE, s0, lam0)
            ctx.set(cell.below.s, [int(v) for v in x])
            cycles, strobes, stats = await run_tick(ctx, cell, dt_shift=dt_shift, **flags)
            assert cycles == _need(cell, **flags)
            assert strobes == []
            s, lam = await read_state(ctx, cell)
            np.testing.assert_array_equal(s, expect)
            np.testing.assert_array_equal(lam, lam0)
            assert list(ctx.get(cell.above.s)) == list(expect)
            assert stats["sat_h"] == n_sat
            assert stats["busy"] == cell.n_out * cell.n_in
            assert stats["sat_lam"] == stats["sat_grad"] == stats["sat_weight"] == 0

    _run(cell, bench)


@pytest.mark.parametrize("multipliers", MULTIPLIERS)
@pytest.mark.parametrize("acts", [ACTS, ("relu", "leaky_relu:3"), ("identity", "hardtanh")])
def test_backward_tick_strobes_golden_targets(multipliers, acts):
    cfg = _cfg(multipliers, acts)
    l, ar, n_out = 2, FixedArith(cfg), cfg.sizes[2]
    rng = np.random.default_rng(_seed(multipliers) + len(acts[1]))
    cases, codes = [], set()
    for scale in (1.5, 1.5, 1.5, 8.0):
        W, b = _params(cfg, l, rng, scale)
        x = _input(ar, cfg.sizes[l - 1], rng, scale)
        s0 = ar.random_state(n_out, rng)
        lam0 = cfg.sens.quantize(_draw(rng, scale, n_out), saturate=True)
        ar.counters = SaturationCounters()
        f, code = ar.forward(l - 1, W, b, x)
        target = ar.backward(W, ar.local_error(l - 1, code, lam0))
        cases.append((W, b, x, s0, lam0, f, target, ar.counters.as_dict()))
        codes |= set(code.tolist())
    # the cases reach every derivative code of the activation, and lam saturation
    assert len(codes) == (1 if acts[1] == "identity" else 2)
    assert acts[1] == "hardtanh" or cases[-1][-1]["lam"] > 0
    cell, flags = LayerCell(cfg, l), dict(fwd=1, bwd=1, relax=1)

    async def bench(ctx):
        for W, b, x, s0, lam0, f, target, counts in cases:
            await load_params(ctx, cell, W, b)
            await host_write(ctx, cell, HostTarget.STATE, s0, lam0)
            ctx.set(cell.below.s, [int(v) for v in x])
            cycles, strobes, stats = await run_tick(ctx, cell, **flags)
            assert cycles == _need(cell, **flags)
            np.testing.assert_array_equal(_strobed(cell, strobes), target)
            s, lam = await read_state(ctx, cell)
            np.testing.assert_array_equal(s, f)
            np.testing.assert_array_equal(lam, lam0)   # no targets came from above
            assert stats["sat_h"] == counts["h"]
            assert stats["sat_lam"] == counts["lam"]
            assert stats["busy"] == 2 * cell.n_out * cell.n_in

    _run(cell, bench)


@pytest.mark.parametrize("multipliers", MULTIPLIERS)
def test_bottom_cell_has_no_adjoint_pass(multipliers):
    cfg = _cfg(multipliers)
    ar, rng = FixedArith(cfg), np.random.default_rng(5)
    W, b = _params(cfg, 1, rng, 1.5)
    x = _input(ar, cfg.sizes[0], rng, 1.5)
    f, _ = ar.forward(0, W, b, x)
    cell, flags = LayerCell(cfg, 1), dict(fwd=1, bwd=1, relax=1)

    async def bench(ctx):
        await load_params(ctx, cell, W, b)
        ctx.set(cell.below.s, [int(v) for v in x])
        cycles, strobes, stats = await run_tick(ctx, cell, **flags)
        assert cycles == _need(cell, **flags) == _need(cell, fwd=1, relax=1)
        assert strobes == [] and stats["busy"] == cell.n_out * cell.n_in
        s, _ = await read_state(ctx, cell)
        np.testing.assert_array_equal(s, f)

    _run(cell, bench)


def _gradient_ticks(cfg, l, lr, seed):
    """Stale accumulators (from an earlier sample's tick); tick 1 clears them and
    accumulates, tick 2 (new lam) accumulates and applies W -= lr * G. Checks G and the
    updated W, b against the golden model."""
    ar, rng = FixedArith(cfg), np.random.default_rng(seed)
    W, b = _params(cfg, l, rng, 1.5)
    x = _input(ar, cfg.sizes[l - 1], rng, 1.5)
    lams = [cfg.sens.quantize(_draw(rng, 2.0, cfg.sizes[l])) for _ in range(2)]
    f, code = ar.forward(l - 1, W, b, x)
    G = [np.zeros_like(W), np.zeros_like(b)]
    for lam in lams:
        g = ar.grad(ar.local_error(l - 1, code, lam), x)
        G = [ar.accumulate(a, d) for a, d in zip(G, g)]
    W1, b1 = ar.update(W, G[0], lr), ar.update(b, G[1], lr)
    assert not np.array_equal(W1, W)
    lam_stale = cfg.sens.quantize(_draw(rng, 2.0, cfg.sizes[l]))
    stale = [ar.accumulate(np.zeros_like(a), a)
             for a in ar.grad(ar.local_error(l - 1, code, lam_stale), x)]
    assert np.any(stale[0]) and np.any(stale[1])
    cell = LayerCell(cfg, l)
    flags = [dict(fwd=1, bwd=1, grad=1, relax=1, first=1),
             dict(fwd=1, bwd=1, grad=1, relax=1, first=1),
             dict(fwd=1, bwd=1, grad=1, relax=1, update=1)]

    async def bench(ctx):
        await load_params(ctx, cell, W, b)
        ctx.set(cell.below.s, [int(v) for v in x])
        for k, (lam, fl) in enumerate(zip([lam_stale, *lams], flags)):
            if k == 1:   # the stale gradients are in place (and no update was made)
                gW, gb = await host_read(ctx, cell, HostTarget.GRADS, W.size, b.size)
                assert np.array_equal(gW, stale[0].ravel()) and np.array_equal(gb, stale[1])
            await host_write(ctx, cell, HostTarget.STATE, np.zeros(cell.n_out, np.int64), lam)
            cycles, _, stats = await run_tick(ctx, cell, lr_shift=lr, **fl)
            assert cycles == _need(cell, **fl)
            passes = 2 + (l > 1)
            assert stats["busy"] == passes * cell.n_out * cell.n_in
        gW, gb = await host_read(ctx, cell, HostTarget.GRADS, W.size, b.size)
        np.testing.assert_array_equal(gW.reshape(W.shape), G[0])
        np.testing.assert_array_equal(gb, G[1])
        pW, pb = await host_read(ctx, cell, HostTarget.PARAMS, W.size, b.size)
        np.testing.assert_array_equal(pW.reshape(W.shape), W1)
        np.testing.assert_array_equal(pb, b1)

    _run(cell, bench)


@pytest.mark.parametrize("multipliers", MULTIPLIERS)
@pytest.mark.parametrize("l", [1, 2])
def test_gradient_ticks_accumulate_and_update(multipliers, l):
    _gradient_ticks(_cfg(multipliers), l, lr=3, seed=10 * l + _seed(multipliers))


def test_guard_bits_beyond_the_gradient_fraction_are_rejected():
    # master.frac = 12 + 16 = 28 > grad.frac = 24 would need a left shift in the SGD step
    with pytest.raises(ConfigError, match="must not exceed"):
        DyadicConfig(SIZES, ACTS, multipliers=(2, 3), max_batch=4, weight_guard=16)
