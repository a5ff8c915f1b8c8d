"""Dyadic Backpropagation: the two ways to run the lockstep Euler dynamics.

Both schedules are written once against an arithmetic (``FloatArith`` or
``FixedArith``). Every layer updates at the same time from the state before the
tick (Jacobi), as the hardware's layer cells do:

    s_l   <- s_l   + dt * (-s_l   + f(W_l s_{l-1} + b_l))
    lam_L <- lam_L + dt * (-lam_L + (s_L - y))
    lam_l <- lam_l + dt * (-lam_l + W_{l+1}^T (f'(h_{l+1}) * lam_{l+1}))

and the gradient read-out is dC/dW_l = d_l s_{l-1}^T, dC/db_l = d_l with
d_l = f'(h_l) * lam_l.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .network import Network

__all__ = ["State", "RelaxTrace", "relax", "readout", "StreamResult", "stream_batch",
           "stash_depth", "energy", "flows"]


@dataclass
class State:
    """Activations s_1..s_L and sensitivities lam_1..lam_L (s_0 = x is clamped)."""

    s: list
    lam: list

    def copy(self) -> State:
        return State([v.copy() for v in self.s], [v.copy() for v in self.lam])


def initial_state(arith, sizes, init: str = "zero", rng=None) -> State:
    if init == "zero":
        return State([arith.zeros(n) for n in sizes[1:]], [arith.zeros(n) for n in sizes[1:]])
    if init == "random":
        rng = rng if rng is not None else np.random.default_rng(0)
        return State([arith.random_state(n, rng) for n in sizes[1:]],
                     [arith.random_state(n, rng) for n in sizes[1:]])
    raise ValueError(f"init must be 'zero' or 'random', not {init!r}")


def _tick(arith, Ws, bs, x, y, st: State, step) -> State:
    """One lockstep Euler tick of every layer from the state before the tick."""
    L = len(Ws)
    below = [x] + st.s[:-1]
    fwd = [arith.forward(l, Ws[l], bs[l], below[l]) for l in range(L)]
    d = [arith.local_error(l, fwd[l][1], st.lam[l]) for l in range(L)]
    target = [arith.backward(Ws[l + 1], d[l + 1]) for l in range(L - 1)]
    target.append(arith.top_error(st.s[-1], y))
    return State([arith.euler(st.s[l], fwd[l][0], step) for l in range(L)],
                 [arith.euler(st.lam[l], target[l], step) for l in range(L)])


def readout(arith, Ws, bs, x, st: State):
    """Gradient read-out [(dC/dW_l, dC/db_l)] from the current state."""
    below = [x] + st.s[:-1]
    out = []
    for l in range(len(Ws)):
        _, fprime = arith.forward(l, Ws[l], bs[l], below[l])
        gW, gb = arith.grad(arith.local_error(l, fprime, st.lam[l]), below[l])
        # into freshly cleared accumulators, as the hardware reads out
        out.append((arith.accumulate(np.zeros_like(gW), gW),
                    arith.accumulate(np.zeros_like(gb), gb)))
    return out


@dataclass
class RelaxTrace:
    """States and read-outs after each tick; index 0 is the initial state."""

    states: list[State]
    grads: list[list]


def relax(arith, params, x, y, *, ticks: int, dt: float = 1.0, init: str = "zero",
          rng=None, state: State | None = None) -> RelaxTrace:
    """Relaxation mode: clamp one sample and run ``ticks`` lockstep Euler ticks.

    With dt = 1 the read-out equals backpropagation from tick 2L on. Saturation is
    counted in the ticks and in the final read-out, as the hardware does.
    """
    Ws, bs = params
    sizes = (len(x),) + tuple(W.shape[0] for W in Ws)
    step = arith.dt_step(dt)
    st = state.copy() if state is not None else initial_state(arith, sizes, init, rng)
    trace = RelaxTrace([st], [])
    for _ in range(ticks):
        with arith.uncounted():  # the hardware reads out only once, after the last tick
            trace.grads.append(readout(arith, Ws, bs, x, st))
        st = _tick(arith, Ws, bs, x, y, st, step)
        trace.states.append(st)
    trace.grads.append(readout(arith, Ws, bs, x, st))
    return trace


def stash_depth(L: int, l: int) -> int:
    """Delay-line entries layer l (1-based) needs in streaming mode: 2(L - l) + 1."""
    return 2 * (L - l) + 1


@dataclass
class StreamResult:
    """Outcome of one streaming batch."""

    G: list                      # batch gradient [(G_W, G_b)] per layer (sum over samples)
    params: tuple                # weights after the optional update
    ticks: int                   # B + 2L
    per_sample: list | None = None   # [sample][layer] -> (gW, gb), when asked for
    active: list = field(default_factory=list)  # per tick, per layer: (fwd_valid, bwd_valid)


def stream_batch(arith, params, X, Y, *, lr: float | None = None,
                 keep_samples: bool = False) -> StreamResult:
    """Streaming mode: one new sample enters every tick, weights frozen for the batch.

    At tick t, layer l's forward input belongs to sample t - l + 1 and its
    sensitivity to sample t - (2L + 1 - l). Each layer keeps the (s_{l-1}, f'(h_l))
    pair of its forward pass in a delay line of ``stash_depth`` entries until that
    sample's sensitivity arrives. After B + 2L ticks every sample's gradient has
    been accumulated; then, if ``lr`` is given, W <- W - lr * G (the SGD step).
    """
    Ws, bs = params
    L, B = len(Ws), len(X)
    sizes = (len(X[0]),) + tuple(W.shape[0] for W in Ws)
    x_bubble = arith.zeros(sizes[0])
    st = initial_state(arith, sizes)
    # reg[l]: the (s_{l-1}, f' code) pair of the sample whose s_l is now in the state.
    reg = [(arith.zeros(sizes[l]), arith.zeros(sizes[l + 1])) for l in range(L)]
    stash = [deque(maxlen=stash_depth(L, l + 1)) for l in range(L)]
    G = [(np.zeros_like(W), np.zeros_like(b)) for W, b in zip(Ws, bs)]
    per_sample = [[None] * L for _ in range(B)] if keep_samples else None
    active = []
    for t in range(B + 2 * L):
        # Work on a bubble (no sample) is skipped, as the hardware skips it: no cycles,
        # no saturation counts, and the state it would have written keeps its old value.
        below = [X[t] if t < B else x_bubble] + st.s[:-1]
        fwd_valid = [0 <= t - l < B for l in range(L)]
        fwd = [arith.forward(l, Ws[l], bs[l], below[l]) if fwd_valid[l] else None
               for l in range(L)]
        d, tick_active = [], []
        for l in range(L):
            # The stash's oldest entry is the pair of sample t - (2L + 1 - l) (1-based l).
            depth = stash_depth(L, l + 1)
            old = stash[l][0] if len(stash[l]) == depth else None
            stash[l].append(reg[l])
            n = t - (2 * L + 1 - (l + 1))
            valid = 0 <= n < B
            tick_active.append((fwd_valid[l], valid))
            dl = None
            if valid:
                s_prev, code = old
                dl = arith.local_error(l, code, st.lam[l])
                g = arith.grad(dl, s_prev)
                G[l] = (arith.accumulate(G[l][0], g[0]), arith.accumulate(G[l][1], g[1]))
                if keep_samples:
                    per_sample[n][l] = g
            d.append(dl)
        active.append(tick_active)
        n_top = t - L
        targets = [arith.backward(Ws[l + 1], d[l + 1]) if d[l + 1] is not None else None
                   for l in range(L - 1)]
        targets.append(arith.top_error(st.s[-1], Y[n_top]) if 0 <= n_top < B else None)
        reg = [(below[l], fwd[l][1] if fwd_valid[l] else reg[l][1]) for l in range(L)]
        st = State([fwd[l][0] if fwd_valid[l] else st.s[l] for l in range(L)],
                   [targets[l] if targets[l] is not None else st.lam[l] for l in range(L)])
    if lr is not None:
        step = arith.lr_step(lr)
        Ws = [arith.update(W, g[0], step) for W, g in zip(Ws, G)]
        bs = [arith.update(b, g[1], step) for b, g in zip(bs, G)]
    return StreamResult(G, (Ws, bs), B + 2 * L, per_sample, active)


# -- the energy whose saddle-point flow the dynamics are (float64 only) -----------------
def energy(net: Network, x, y, s, lam) -> float:
    """E(s, lam) = C(s_L, y) + sum_l lam_l . (f(W_l s_{l-1} + b_l) - s_l), C = MSE/2."""
    below = [x] + list(s[:-1])
    E = 0.5 * float(np.sum((s[-1] - y) ** 2))
    for l, (W, b, act) in enumerate(zip(net.weights, net.biases, net.activations)):
        E += float(lam[l] @ (act.f(W @ below[l] + b) - s[l]))
    return E


def flows(net: Network, x, y, s, lam):
    """(ds/dt, dlam/dt) of the continuous-time dynamics."""
    below = [x] + list(s[:-1])
    h = [W @ below[l] + b for l, (W, b) in enumerate(zip(net.weights, net.biases))]
    ds = [act.f(h[l]) - s[l] for l, act in enumerate(net.activations)]
    L = net.L
    dlam = []
    for l in range(L):
        if l == L - 1:
            target = s[-1] - y
        else:
            act = net.activations[l + 1]
            target = net.weights[l + 1].T @ (act.df(h[l + 1]) * lam[l + 1])
        dlam.append(target - lam[l])
    return ds, dlam
