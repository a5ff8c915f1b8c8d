"""Checks of the core against the fixed-point golden model, over any word transport.

Each scenario takes ``call``, a coroutine that runs one ``Command`` on a core and
returns its decoded response, so the same checks run in the Amaranth simulator
and in cocotb (Icarus, Verilator).
"""

import numpy as np

from firmware_py.arith import FixedArith
from firmware_py.commands import CoreCommands
from firmware_py.config import DyadicConfig
from firmware_py.cycles import relax_cycles, stream_cycles
from firmware_py.dynamics import State, relax, stream_batch
from firmware_py.network import Network

__all__ = ["random_params", "relaxation", "streaming"]


def random_params(cfg: DyadicConfig, rng, scale=1.0):
    net = Network.random(cfg.sizes, cfg.activations, rng, bias_scale=0.3, scale=scale)
    ar = FixedArith(cfg)
    return ar, ar.params(net, saturate=True)


async def _load(call, cmds, params):
    for l in range(1, len(params[0]) + 1):
        await call(cmds.write_params(l, params[0][l - 1], params[1][l - 1]))


def _reset_counts(ar):
    ar.counters.counts = dict.fromkeys(ar.counters.counts, 0)


def _check_counters(cnt, ar, model, what):
    wrap = (1 << ar.config.counter_bits) - 1     # the counters wrap at 2^counter_bits
    got = (cnt["ticks"], cnt["cycles"], cnt["busy"])
    want = (model.ticks & wrap, model.cycles & wrap, model.busy & wrap)
    assert got == want, f"{what}: counters {got} != model {want}"
    for kind in ar.counters.KINDS:
        assert cnt[f"sat_{kind}"] == ar.counters.counts[kind] & wrap, \
            f"{what}: sat_{kind} {cnt[f'sat_{kind}']} != golden {ar.counters.counts[kind]}"


async def relaxation(call, cfg: DyadicConfig, rng, *, dt: float, ticks: int, scale=1.0):
    """Random state, then tick by tick: every s, lam and read-out gradient must match."""
    cmds = CoreCommands(cfg)
    ar, P = random_params(cfg, rng, scale)
    x = ar.encode_x(rng.uniform(-1, 1, (1, cfg.sizes[0])))
    y = ar.encode_y(rng.uniform(-1, 1, (1, cfg.sizes[-1])))
    st = State([ar.random_state(n, rng) for n in cfg.sizes[1:]],
               [ar.random_state(n, rng) for n in cfg.sizes[1:]])
    await _load(call, cmds, P)
    await call(cmds.write_samples(x, y))
    for l in range(1, cfg.L + 1):
        await call(cmds.write_state(l, st.s[l - 1], st.lam[l - 1]))
    k = int(-np.log2(dt))
    for tick in range(1, ticks + 1):
        await call(cmds.clear_counters())
        _reset_counts(ar)
        tr = relax(ar, P, x[0], y[0], ticks=1, dt=dt, state=st)
        await call(cmds.relax(1, k))
        st = tr.states[-1]
        for l in range(1, cfg.L + 1):
            s, lam = await call(cmds.read_state(l))
            assert np.array_equal(s, st.s[l - 1]), f"tick {tick} s{l}: {s} != {st.s[l - 1]}"
            assert np.array_equal(lam, st.lam[l - 1]), \
                f"tick {tick} lam{l}: {lam} != {st.lam[l - 1]}"
            G, Gb = await call(cmds.read_grads(l))
            assert np.array_equal(G, tr.grads[-1][l - 1][0]), f"tick {tick} read-out G{l}"
            assert np.array_equal(Gb, tr.grads[-1][l - 1][1]), f"tick {tick} read-out Gb{l}"
        _check_counters(await call(cmds.read_counters()), ar, relax_cycles(cfg, 1),
                        f"tick {tick}")


async def streaming(call, cfg: DyadicConfig, rng, *, batch: int, update: bool, lr_shift=3,
                    batches=1, scale=1.0):
    """Streaming batches: every gradient, every updated weight, counters and cycles."""
    cmds = CoreCommands(cfg)
    ar, P = random_params(cfg, rng, scale)
    await _load(call, cmds, P)
    for n in range(batches):
        X = ar.encode_x(rng.uniform(-1, 1, (batch, cfg.sizes[0])))
        Y = ar.encode_y(rng.uniform(-1, 1, (batch, cfg.sizes[-1])))
        await call(cmds.write_samples(X, Y))
        await call(cmds.clear_counters())
        _reset_counts(ar)
        res = stream_batch(ar, P, X, Y, lr=2.0 ** -lr_shift if update else None)
        await call(cmds.stream(batch, update, lr_shift))
        P = res.params
        for l in range(1, cfg.L + 1):
            G, Gb = await call(cmds.read_grads(l))
            assert np.array_equal(G, res.G[l - 1][0]), f"batch {n} G{l}"
            assert np.array_equal(Gb, res.G[l - 1][1]), f"batch {n} Gb{l}"
            W, b = await call(cmds.read_params(l))
            assert np.array_equal(W, P[0][l - 1]), f"batch {n} W{l}"
            assert np.array_equal(b, P[1][l - 1]), f"batch {n} b{l}"
        _check_counters(await call(cmds.read_counters()), ar, stream_cycles(cfg, batch, update),
                        f"batch {n}")
