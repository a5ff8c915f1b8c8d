"""Fixed-point golden model: exactness against itself, a derived bound against float64,
saturation that is counted, and the streaming schedule."""

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from firmware_py.contract.config import ConfigError, DyadicConfig
from firmware_py.contract.fixedpoint import FormatError, QFormat, SaturationCounters, rshift_round
from firmware_py.model import reference
from firmware_py.model.arith import FixedArith
from firmware_py.model.bounds import dequantized_network, gradient_error_bound
from firmware_py.model.dynamics import relax, stream_batch
from firmware_py.model.network import Network, parse_activations
from tests.conftest import random_net

HW_ACTS = ["identity", "relu", "leaky_relu", "hardtanh"]


def test_rshift_round_is_round_half_up():
    x = np.arange(-40, 41)
    for k in range(0, 5):
        np.testing.assert_array_equal(rshift_round(x, k), np.floor(x / 2**k + 0.5))


def test_quantize_rounds_and_rejects_or_saturates():
    q = QFormat(16, 12)
    assert q.quantize(1.0) == 4096 and q.quantize(-8.0) == -32768
    assert q.quantize(2**-13) == 1 and q.quantize(-(2**-13)) == 0  # ties go up
    with pytest.raises(FormatError, match="does not fit Q4.12"):
        q.quantize([0.0, 8.0])
    assert list(q.quantize([9.0, -9.0], saturate=True)) == [32767, -32768]
    with pytest.raises(FormatError, match="NaN"):
        q.quantize([np.nan])


def test_config_rejects_float_only_activation_and_bad_widths():
    with pytest.raises(ConfigError, match="tanh has no fixed-point form"):
        DyadicConfig((2, 2), ("tanh",))
    with pytest.raises(ConfigError, match="2 activations for 1 layers"):
        DyadicConfig((2, 2), ("relu", "relu"))
    with pytest.raises(ConfigError, match="multipliers"):
        DyadicConfig((2, 3, 1), ("relu", "identity"), multipliers=(1,))


def test_config_rejects_sample_sets_the_device_cannot_count_or_hold():
    digits = dict(sizes=(64, 32, 10), activations=("relu", "identity"), targets="label",
                  act=QFormat(8, 5), weight=QFormat(8, 6), sens=QFormat(8, 7), weight_guard=6)
    DyadicConfig(**digits, max_samples=4032)                       # 4032 x 65 bytes < 2^18
    with pytest.raises(ConfigError, match="256 KiB"):
        DyadicConfig(**digits, max_samples=4033)
    with pytest.raises(ConfigError, match="need 1.0"):           # Q1.7 has no code for 1.0
        DyadicConfig(**{**digits, "act": QFormat(8, 7)})
    with pytest.raises(ConfigError, match="class labels"):
        DyadicConfig((2, 300), ("identity",), act=QFormat(8, 5), weight=QFormat(8, 6),
                     sens=QFormat(8, 7), weight_guard=6, targets="label")


def test_config_roundtrips_json_and_id_tracks_the_bits():
    c = DyadicConfig((64, 32, 10), parse_activations("leaky_relu:4", 2), multipliers=(4, 4))
    assert DyadicConfig.from_json(c.to_json()) == c
    assert DyadicConfig.from_json(c.to_json()).config_id == c.config_id
    other = DyadicConfig((64, 32, 10), parse_activations("leaky_relu:4", 2),
                         sens=QFormat(16, 13), multipliers=(4, 4))
    assert other.config_id != c.config_id
    # a field added after the first builds is in the JSON, and so the ID, only when it is
    # not its default: the configurations built before it keep their IDs and bitstreams
    assert "state_access" not in c.to_json() and "saturation_counters" not in c.to_json()
    for field in ("state_access", "saturation_counters"):
        small = dataclasses.replace(c, **{field: False})
        assert f'"{field}":false' in small.to_json() and small.config_id != c.config_id
        assert DyadicConfig.from_json(small.to_json()) == small
    with pytest.raises(ConfigError, match="state_access must be true or false"):
        dataclasses.replace(c, state_access="no")


def test_multipliers_as_rows_and_cols_fix_the_tiling():
    c = DyadicConfig((64, 32, 10), parse_activations("relu", 2), multipliers=([32, 3], 20))
    assert c.tiling(1) == (32, 3, 1, 22)            # rows, cols, row tiles, column tiles
    assert c.tiling(2).multipliers <= 20
    back = DyadicConfig.from_json(c.to_json())
    assert back == c and back.config_id == c.config_id and back.multipliers[0] == (32, 3)
    assert c.config_id != DyadicConfig((64, 32, 10), parse_activations("relu", 2),
                                       multipliers=(96, 20)).config_id
    with pytest.raises(ConfigError, match=r"\[rows, cols\] with rows 1..32 and cols 1..64"):
        DyadicConfig((64, 32, 10), parse_activations("relu", 2), multipliers=([33, 1], 2))
    with pytest.raises(ConfigError, match="rows, cols"):
        DyadicConfig((64, 32, 10), parse_activations("relu", 2), multipliers=([4, 2, 1], 2))


def _fixed_case(seed, depth, activation, max_width=8):
    rng = np.random.default_rng(seed)
    sizes = tuple(int(n) for n in rng.integers(1, max_width + 1, size=depth + 1))
    net = random_net(rng, sizes, activation, scale=0.8)
    arith = FixedArith.for_network(net)
    params = arith.params(net)
    x = arith.encode_x(rng.uniform(-1, 1, sizes[0]))
    y = arith.encode_y(rng.uniform(-1, 1, sizes[-1]))
    return rng, net, arith, params, x, y


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 8),
       activation=st.sampled_from(HW_ACTS), init=st.sampled_from(["zero", "random"]))
def test_fixed_dt1_is_exact_from_tick_2L_and_stays(seed, depth, activation, init):
    # Fixed point has its own finite-time theorem: from 2L on, the read-out no longer changes
    # and equals the same arithmetic run as ordinary backprop (zero state, 2L ticks).
    rng, net, arith, params, x, y = _fixed_case(seed, depth, activation)
    L = net.L
    trace = relax(arith, params, x, y, ticks=2 * L + 3, init=init, rng=rng)
    ref = relax(arith, params, x, y, ticks=2 * L).grads[-1]
    for t in range(2 * L, 2 * L + 4):
        for (gW, gb), (rW, rb) in zip(trace.grads[t], ref):
            assert np.array_equal(gW, rW) and np.array_equal(gb, rb)


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 6),
       activation=st.sampled_from(HW_ACTS))
def test_fixed_gradient_within_derived_bound_of_float64(seed, depth, activation):
    rng, net, arith, params, x, y = _fixed_case(seed, depth, activation)
    L = net.L
    g = relax(arith, params, x, y, ticks=2 * L).grads[-1]
    assume(arith.counters.total == 0)  # the bound holds while nothing saturates
    xf, yf = arith.state_float(x, "s"), arith.state_float(y, "s")
    exact = reference.backprop(dequantized_network(arith, params), xf, yf)
    bound = gradient_error_bound(arith, params, xf, yf)
    for (gW, gb), (rW, rb), (bW, bb) in zip(g, exact, bound):
        assert np.all(np.abs(arith.grad_float(gW) - rW) <= bW)
        assert np.all(np.abs(arith.grad_float(gb) - rb) <= bb)


def test_bound_is_tight_enough_to_mean_something():
    # On a digits-sized layer the bound must stay within a few hundred LSBs of the gradient.
    rng, net, arith, params, x, y = _fixed_case(11, 2, "relu", max_width=32)
    xf, yf = arith.state_float(x, "s"), arith.state_float(y, "s")
    bound = gradient_error_bound(arith, params, xf, yf)
    assert max(float(np.max(b)) for pair in bound for b in pair) < 0.05


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 4), batch=st.integers(1, 7),
       activation=st.sampled_from(HW_ACTS))
def test_fixed_streaming_equals_relaxation_per_sample(seed, depth, batch, activation):
    rng, net, arith, params, _, _ = _fixed_case(seed, depth, activation)
    L = net.L
    X = arith.encode_x(rng.uniform(-1, 1, (batch, net.sizes[0])))
    Y = arith.encode_y(rng.uniform(-1, 1, (batch, net.sizes[-1])))
    res = stream_batch(arith, params, X, Y, keep_samples=True, lr=2**-4)
    assert res.ticks == batch + 2 * L
    G = [[np.zeros_like(W), np.zeros_like(b)] for W, b in zip(*params)]
    for n in range(batch):
        g = relax(arith, params, X[n], Y[n], ticks=2 * L).grads[-1]
        for l in range(L):
            for k in range(2):
                assert np.array_equal(res.per_sample[n][l][k], g[l][k])
                G[l][k] = arith.accumulate(G[l][k], g[l][k])
    for l in range(L):
        for k in range(2):
            assert np.array_equal(res.G[l][k], G[l][k])
        assert np.array_equal(res.params[0][l], arith.update(params[0][l], G[l][0], 4))


def test_dt_below_one_is_a_shift_and_converges():
    rng, net, arith, params, x, y = _fixed_case(2, 3, "leaky_relu")
    L = net.L
    exact = relax(arith, params, x, y, ticks=2 * L).grads[-1]
    trace = relax(arith, params, x, y, ticks=300, dt=0.25, init="random", rng=rng)

    def err(g):
        return max(int(np.max(np.abs(a - b))) for p, q in zip(g, exact) for a, b in zip(p, q))

    assert err(trace.grads[2 * L]) > 0
    assert err(trace.grads[-1]) < err(trace.grads[2 * L])
    with pytest.raises(ValueError, match="2\\^-k"):
        relax(arith, params, x, y, ticks=1, dt=0.3)


def _tiny(W, b, acts, **fmt):
    net = Network([np.array(W, float)], [np.array(b, float)], parse_activations(acts, 1))
    arith = FixedArith.for_network(net, **fmt)
    return net, arith, arith.params(net)


def test_forward_overflow_saturates_and_is_counted():
    net, arith, params = _tiny([[7.9, 7.9, 7.9]], [0.0], "identity")
    x = arith.encode_x([7.0, 7.0, 7.0])
    f, _ = arith.forward(0, params[0][0], params[1][0], x)
    assert f[0] == arith.config.act.max
    assert arith.counters.counts["h"] == 1
    f, _ = arith.forward(0, params[0][0], params[1][0], -x)
    assert f[0] == arith.config.act.min and arith.counters.counts["h"] == 2


def test_error_and_backward_overflow_saturate_and_are_counted():
    rng = np.random.default_rng(0)
    net = Network([np.full((2, 2), 7.5), np.full((2, 2), 7.5)], [np.zeros(2)] * 2,
                  parse_activations("identity", 2))
    arith = FixedArith.for_network(net)
    params = arith.params(net)
    x = arith.encode_x([7.9, 7.9])
    y = arith.encode_y([-7.9, -7.9])
    relax(arith, params, x, y, ticks=4, rng=rng)
    c = arith.counters.counts
    assert c["h"] > 0 and c["err"] > 0 and c["lam"] > 0


def test_gradient_accumulator_and_weight_update_saturate_and_are_counted():
    from firmware_py.contract.fixedpoint import QFormat
    net, arith, params = _tiny([[1.0]], [0.0], "identity")
    cfg = arith.config
    G = np.array([cfg.grad.max - 5], dtype=np.int64)
    assert arith.accumulate(G, np.array([100]))[0] == cfg.grad.max
    assert arith.counters.counts["grad"] == 1
    W = np.array([cfg.master.max - 1], dtype=np.int64)
    assert arith.update(W, np.array([-(1 << 40)]), 0)[0] == cfg.master.max
    assert arith.counters.counts["weight"] == 1
    assert isinstance(cfg.master, QFormat) and cfg.master.bits == 24


def test_streaming_batch_counts_grad_saturation_with_narrow_accumulators():
    net = Network([np.full((1, 1), 4.0)], [np.zeros(1)], parse_activations("identity", 1))
    arith = FixedArith.for_network(net, grad_bits=26)
    params = arith.params(net)
    X = arith.encode_x(np.full((8, 1), 1.9))
    Y = arith.encode_y(np.full((8, 1), -7.0))
    res = stream_batch(arith, params, X, Y)
    assert arith.counters.counts["grad"] > 0
    assert res.G[0][0][0, 0] == arith.config.grad.max  # (s - y) x > 0 every sample


def test_weights_outside_the_format_are_an_error_unless_saturating():
    net = Network([np.array([[9.0]])], [np.zeros(1)], parse_activations("identity", 1))
    arith = FixedArith.for_network(net)
    with pytest.raises(FormatError, match="W1 9 does not fit"):
        arith.params(net)
    W, _ = arith.params(net, saturate=True)
    assert W[0][0, 0] == arith.config.master.max


def test_saturation_counter_kinds_are_the_documented_ones():
    assert SaturationCounters().as_dict() == {"h": 0, "err": 0, "lam": 0, "grad": 0, "weight": 0}
