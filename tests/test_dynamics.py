"""Float64 dynamics: the finite-time theorem, dt < 1 relaxation, energy, streaming."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_py.model import reference
from firmware_py.model.arith import FloatArith
from firmware_py.model.dynamics import energy, flows, relax, stash_depth, stream_batch
from tests.conftest import max_err, random_net

ACTS = ["identity", "relu", "leaky_relu", "hardtanh", "tanh", "sigmoid"]


def _setup(seed, depth, activation, init="random"):
    rng = np.random.default_rng(seed)
    sizes = tuple(int(n) for n in rng.integers(1, 9, size=depth + 1))
    net = random_net(rng, sizes, activation)
    x, y = rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
    return rng, net, x, y


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 8),
       activation=st.sampled_from(ACTS), init=st.sampled_from(["zero", "random"]))
def test_dt1_is_bit_identical_to_backprop_from_tick_2L(seed, depth, activation, init):
    rng, net, x, y = _setup(seed, depth, activation)
    L = net.L
    arith = FloatArith.for_network(net)
    trace = relax(arith, arith.params(net), x, y, ticks=2 * L + 3, init=init, rng=rng)
    ref = reference.backprop(net, x, y)
    for t in range(2 * L, 2 * L + 4):
        for (gW, gb), (rW, rb) in zip(trace.grads[t], ref):
            assert np.array_equal(gW, rW) and np.array_equal(gb, rb), f"tick {t}"


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 8),
       activation=st.sampled_from(["identity", "leaky_relu", "tanh", "sigmoid"]))
def test_dt1_is_not_exact_before_tick_2L_from_a_random_state(seed, depth, activation):
    # With f' never 0, the wrong initial sensitivities stay visible until tick 2L.
    rng, net, x, y = _setup(seed, depth, activation)
    L = net.L
    arith = FloatArith.for_network(net)
    trace = relax(arith, arith.params(net), x, y, ticks=2 * L, init="random", rng=rng)
    ref = reference.backprop(net, x, y)
    assert max_err(trace.grads[2 * L - 1], ref) > 0.0
    assert max_err(trace.grads[2 * L], ref) == 0.0


def test_readout_layers_become_exact_on_schedule():
    # s_l exact from l, lam_l from 2L + 1 - l: layer l's read-out from max(2L + 1 - l, l - 1).
    rng, net, x, y = _setup(7, 4, "tanh")
    L = net.L
    arith = FloatArith.for_network(net)
    trace = relax(arith, arith.params(net), x, y, ticks=2 * L + 1, init="random", rng=rng)
    ref = reference.backprop(net, x, y)
    for l in range(1, L + 1):
        first = max(2 * L + 1 - l, l - 1)
        assert not np.array_equal(trace.grads[first - 1][l - 1][0], ref[l - 1][0])
        assert np.array_equal(trace.grads[first][l - 1][0], ref[l - 1][0])


@pytest.mark.parametrize("dt", [0.5, 0.25, 0.125])
@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu"])
def test_dt_below_one_converges_but_is_not_exact_at_2L(dt, activation):
    rng, net, x, y = _setup(3, 3, activation)
    L = net.L
    arith = FloatArith.for_network(net)
    trace = relax(arith, arith.params(net), x, y, ticks=400, dt=dt, init="random", rng=rng)
    ref = reference.backprop(net, x, y)
    errs = [max_err(g, ref) for g in trace.grads]
    assert errs[2 * L] > 1e-6
    assert errs[-1] < 1e-9
    # decreasing towards 0: every window of 2L ticks ends below where it began
    w = 2 * L
    assert all(max(errs[i + w:i + 2 * w]) < max(errs[i:i + w]) or errs[i] < 1e-12
               for i in range(0, 200, w))


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 4),
       activation=st.sampled_from(["tanh", "sigmoid", "identity"]))
def test_flows_are_the_partial_derivatives_of_the_energy(seed, depth, activation):
    rng, net, x, y = _setup(seed, depth, activation)
    s = [rng.normal(size=n) for n in net.sizes[1:]]
    lam = [rng.normal(size=n) for n in net.sizes[1:]]
    ds, dlam = flows(net, x, y, s, lam)
    eps = 1e-6
    for vecs, flow in ((lam, ds), (s, dlam)):  # ds/dt = dE/dlam, dlam/dt = dE/ds
        for l, v in enumerate(vecs):
            for i in range(len(v)):
                old = v[i]
                v[i] = old + eps
                up = energy(net, x, y, s, lam)
                v[i] = old - eps
                down = energy(net, x, y, s, lam)
                v[i] = old
                assert (up - down) / (2 * eps) == pytest.approx(flow[l][i], rel=1e-5, abs=1e-6)


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 5), batch=st.integers(1, 9),
       activation=st.sampled_from(ACTS))
def test_streaming_gradients_equal_relaxation_and_sum(seed, depth, batch, activation):
    rng, net, _, _ = _setup(seed, depth, activation)
    L = net.L
    X = rng.uniform(-1, 1, (batch, net.sizes[0]))
    Y = rng.uniform(-1, 1, (batch, net.sizes[-1]))
    arith = FloatArith.for_network(net)
    res = stream_batch(arith, arith.params(net), X, Y, keep_samples=True)
    assert res.ticks == batch + 2 * L
    total = [(np.zeros_like(W), np.zeros_like(b)) for W, b in zip(net.weights, net.biases)]
    for n in range(batch):
        trace = relax(arith, arith.params(net), X[n], Y[n], ticks=2 * L)
        for l in range(L):
            for k in range(2):
                assert np.array_equal(res.per_sample[n][l][k], trace.grads[2 * L][l][k])
                total[l][k][...] += res.per_sample[n][l][k]
    for l in range(L):
        for k in range(2):
            np.testing.assert_array_equal(res.G[l][k], total[l][k])


def test_streaming_timeline_one_sample_per_tick():
    rng, net, _, _ = _setup(5, 3, "relu")
    L, B = net.L, 6
    arith = FloatArith.for_network(net)
    X, Y = rng.uniform(-1, 1, (B, net.sizes[0])), rng.uniform(-1, 1, (B, net.sizes[-1]))
    res = stream_batch(arith, arith.params(net), X, Y)
    assert len(res.active) == B + 2 * L
    for t, tick in enumerate(res.active):
        for l, (fwd, bwd) in enumerate(tick, 1):
            assert fwd == (0 <= t - l + 1 < B)             # sample t - l + 1 moves up
            assert bwd == (0 <= t - (2 * L + 1 - l) < B)   # sample t - (2L+1-l) moves down
    assert [stash_depth(L, l) for l in range(1, L + 1)] == [5, 3, 1]


def test_streaming_update_is_sgd_on_the_batch_sum():
    rng, net, _, _ = _setup(9, 2, "relu")
    arith = FloatArith.for_network(net)
    X, Y = rng.uniform(-1, 1, (4, net.sizes[0])), rng.uniform(-1, 1, (4, net.sizes[-1]))
    lr = 0.05
    res = stream_batch(arith, arith.params(net), X, Y, lr=lr)
    grads = [reference.backprop(net, x, y) for x, y in zip(X, Y)]
    for l in range(net.L):
        G = sum(g[l][0] for g in grads)
        np.testing.assert_allclose(res.params[0][l], net.weights[l] - lr * G, atol=1e-12)
