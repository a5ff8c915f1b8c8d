import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from firmware_py.model import reference
from tests.conftest import random_net


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 4),
       activation=st.sampled_from(["tanh", "sigmoid", "identity", "leaky_relu", "relu",
                                   "hardtanh"]))
def test_backprop_matches_central_differences(seed, depth, activation):
    rng = np.random.default_rng(seed)
    sizes = tuple(rng.integers(1, 6, size=depth + 1))
    net = random_net(rng, sizes, activation)
    x, y = rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
    # Piecewise-linear activations have kinks; finite differences are only valid away from them.
    _, hs = reference.forward(net, x)
    eps = 1e-6
    for act, h in zip(net.activations, hs):
        for k in act.kinks:
            if np.any(np.abs(h - k) < 1e-4):
                return
    num = reference.numerical_gradient(net, x, y, eps)
    ana = reference.backprop(net, x, y)
    for (gW, gb), (nW, nb) in zip(ana, num):
        np.testing.assert_allclose(gW, nW, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gb, nb, rtol=1e-5, atol=1e-7)


def test_loss_is_half_squared_error():
    rng = np.random.default_rng(0)
    net = random_net(rng, (3, 2))
    x, y = rng.normal(size=3), rng.normal(size=2)
    s, _ = reference.forward(net, x)
    assert reference.loss(net, x, y) == 0.5 * np.sum((s[-1] - y) ** 2)
