"""Checks of the core against the fixed-point golden model, over any word transport.

Each scenario takes ``call``, a coroutine that runs one ``Command`` on a core and
returns its decoded response, so the same checks run in the Amaranth simulator
and in cocotb (Icarus, Verilator).
"""

import dataclasses

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.cycles import (
    RunCycles,
    epoch_run,
    eval_cycles,
    relax_cycles,
    stream_cycles,
)
from firmware_py.contract.protocol import COUNTERS, Opcode, Status, carried_opcodes
from firmware_py.device.commands import CoreCommands, DeviceError, NotCarried
from firmware_py.model.arith import FixedArith
from firmware_py.model.dynamics import State, relax, stream_batch
from firmware_py.model.network import Network
from firmware_py.model.training import epoch_indices, epoch_order, eval_counts

__all__ = ["random_params", "random_samples", "relaxation", "streaming", "evaluation",
           "epochs", "refused_commands", "every_command"]


def random_params(cfg: DyadicConfig, rng, scale=1.0):
    net = Network.random(cfg.sizes, cfg.activations, rng, bias_scale=0.3, scale=scale)
    ar = FixedArith(cfg)
    return ar, ar.params(net, saturate=True)


async def _load(call, cmds, params):
    for l in range(1, len(params[0]) + 1):
        await call(cmds.write_params(l, params[0][l - 1], params[1][l - 1]))


def _reset_counts(ar):
    ar.counters.counts = dict.fromkeys(ar.counters.counts, 0)


def every_command(cfg: DyadicConfig) -> CoreCommands:
    """Commands for ``cfg`` from a host that believes the device carries every one: what
    reaches a device whose host did not refuse first."""
    return CoreCommands(dataclasses.replace(cfg, trainer=True, state_access=True,
                                            saturation_counters=True))


def _check_counters(cnt, ar, model, what):
    wrap = (1 << ar.config.counter_bits) - 1     # the counters wrap at 2^counter_bits
    got = (cnt["ticks"], cnt["cycles"], cnt["busy"])
    want = (model.ticks & wrap, model.cycles & wrap, model.busy & wrap)
    assert got == want, f"{what}: counters {got} != model {want}"
    for kind in ar.counters.KINDS:
        if f"sat_{kind}" not in cnt:        # (a device without saturation counters)
            continue
        assert cnt[f"sat_{kind}"] == ar.counters.counts[kind] & wrap, \
            f"{what}: sat_{kind} {cnt[f'sat_{kind}']} != golden {ar.counters.counts[kind]}"


async def relaxation(call, cfg: DyadicConfig, rng, *, dt: float, ticks: int, scale=1.0):
    """Random state, then tick by tick: every s, lam and read-out gradient must match."""
    cmds = CoreCommands(cfg)
    ar, P = random_params(cfg, rng, scale)
    x, y = random_samples(cfg, ar, rng, 1)
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
        X, Y = random_samples(cfg, ar, rng, batch)
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


def random_samples(cfg: DyadicConfig, ar, rng, n: int):
    """Input codes and target codes of n random samples; with label targets the targets
    are one-hot (one output: 0 or 1), as the device makes them from the label."""
    X = ar.encode_x(rng.uniform(-1, 1, (n, cfg.sizes[0])))
    nL = cfg.sizes[-1]
    if cfg.targets == "label":
        labels = rng.integers(0, max(nL, 2), n)
        return X, ar.encode_y(labels[:, None] if nL == 1 else np.eye(nL)[labels])
    return X, ar.encode_y(rng.uniform(-1, 1, (n, nL)))


async def evaluation(call, cfg: DyadicConfig, rng, *, count: int, first=0, scale=1.0):
    """EVALUATE over resident samples: the counts, the loss sum and the cycles."""
    cmds = CoreCommands(cfg)
    ar, P = random_params(cfg, rng, scale)
    await _load(call, cmds, P)
    X, Y = random_samples(cfg, ar, rng, first + count)
    await call(cmds.write_samples(X, Y))
    await call(cmds.clear_counters())
    got = await call(cmds.evaluate(first, count))
    want = eval_counts(ar, P, X[first:], Y[first:])
    assert got == want, f"evaluate {first}+{count}: device {got} != golden {want}"
    cnt = await call(cmds.read_counters())
    model = eval_cycles(cfg, count)
    wrap = (1 << cfg.counter_bits) - 1
    assert (cnt["ticks"], cnt["cycles"], cnt["busy"]) == \
        (model.ticks & wrap, model.cycles & wrap, model.busy & wrap)


async def epochs(call, cfg: DyadicConfig, rng, *, count: int, batch: int, epochs: int,
                 lr_shift=3, scale=1.0):
    """TRAIN: one epoch a command (the weights after each), then several in one command;
    every weight, the saturation counters and the cycles."""
    cmds = CoreCommands(cfg)
    ar, P = random_params(cfg, rng, scale)
    await _load(call, cmds, P)
    X, Y = random_samples(cfg, ar, rng, count)
    await call(cmds.write_samples(X, Y))
    orders = [epoch_order(rng, count) for _ in range(epochs)]

    def golden(P, order):
        idx = epoch_indices(count, *order)
        for i in range(0, count, batch):
            P = stream_batch(ar, P, X[idx[i:i + batch]], Y[idx[i:i + batch]],
                             lr=2.0 ** -lr_shift).params
        return P

    for n, group in enumerate([orders[:1], orders[1:]]):
        if not group:
            continue
        await call(cmds.clear_counters())
        _reset_counts(ar)
        await call(cmds.train(0, count, batch, lr_shift, group))
        for order in group:
            P = golden(P, order)
        for l in range(1, cfg.L + 1):
            W, b = await call(cmds.read_params(l))
            assert np.array_equal(W, P[0][l - 1]), f"command {n} W{l}"
            assert np.array_equal(b, P[1][l - 1]), f"command {n} b{l}"
        run = epoch_run(cfg, count, batch)
        model = RunCycles(run.ticks * len(group), run.cycles * len(group),
                          run.busy * len(group), run.multipliers, [])
        _check_counters(await call(cmds.read_counters()), ar, model, f"command {n}")


async def refused_commands(call, cfg: DyadicConfig):
    """A device built without some commands (``carried_opcodes``: the trainer's, or the
    host's access to s and lam) refuses each as BAD_OPCODE, with its weights and resident
    set as they were; the host refuses them before sending. Counters it does not keep read
    0, after a batch that saturates."""
    cmds, raw = CoreCommands(cfg), every_command(cfg)
    rng = np.random.default_rng(0)
    ar, P = random_params(cfg, rng, scale=6.0)
    await _load(call, cmds, P)
    X, Y = random_samples(cfg, ar, rng, 2)
    await call(cmds.write_samples(X, Y))
    await call(cmds.clear_counters())
    await call(cmds.stream(2, update=False))
    N = cfg.sizes[1]
    every = {Opcode.TRAIN: lambda c: c.train(0, 2, 1, 3, [(1, 0)]),
             Opcode.EVALUATE: lambda c: c.evaluate(0, 2),
             Opcode.WRITE_STATE: lambda c: c.write_state(1, np.zeros(N), np.zeros(N)),
             Opcode.READ_STATE: lambda c: c.read_state(1), Opcode.RELAX: lambda c: c.relax(1, 0)}
    missing = [op for op in every if op not in carried_opcodes(cfg)]
    assert missing, "the configuration carries every command"
    for op in missing:
        try:
            every[op](cmds)
        except NotCarried as e:
            assert str(e).startswith(f"{op.name}: the device cannot run it"), e
        else:
            raise AssertionError(f"the host sent {op.name}")
        try:
            await call(every[op](raw))
        except DeviceError as e:
            assert e.status == Status.BAD_OPCODE, e
        else:
            raise AssertionError(f"{op.name} was not refused")
    for l in range(1, cfg.L + 1):
        W, b = await call(cmds.read_params(l))
        assert np.array_equal(W, P[0][l - 1]) and np.array_equal(b, P[1][l - 1])
    Xr, _ = await call(cmds.read_samples(0, 2))
    assert np.array_equal(Xr, X)
    kept = await call(cmds.read_counters())
    allwords = await call(raw.read_counters())
    for name in COUNTERS:
        if name not in kept:
            assert allwords[name] == 0, f"{name} is not kept, yet reads {allwords[name]}"
    if len(kept) < len(COUNTERS):
        _reset_counts(ar)
        stream_batch(ar, P, X, Y, lr=None)
        assert any(ar.counters.counts.values()), "the batch saturated nothing"
