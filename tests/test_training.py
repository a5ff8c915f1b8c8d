"""The accuracy targets of the default digits network (64-32-10), and the small boolean
data sets the boards carry."""

import numpy as np
import pytest

from firmware_py.model.arith import FixedArith, FloatArith
from firmware_py.model.datasets import load_dataset
from firmware_py.model.network import Network, parse_activations
from firmware_py.model.recipes import TRAIN_DEFAULTS
from firmware_py.model.training import train


@pytest.fixture(scope="module")
def digits_runs():
    data = load_dataset("digits")
    sizes, act, epochs, batch, lr = TRAIN_DEFAULTS["digits"]
    out = {}
    for kind in ("float", "fixed"):
        net = Network.random(sizes, parse_activations(act, len(sizes) - 1),
                             np.random.default_rng(0))
        arith = FloatArith.for_network(net) if kind == "float" else FixedArith.for_network(net)
        out[kind] = train(arith, net, data, epochs=epochs, batch=batch, lr=lr, seed=0)
    return out


def test_digits_float_reaches_95_percent(digits_runs):
    assert digits_runs["float"].final["test_accuracy"] >= 0.95


def test_digits_fixed_point_within_1_5_points_of_float(digits_runs):
    f = digits_runs["float"].final["test_accuracy"]
    q = digits_runs["fixed"].final["test_accuracy"]
    assert abs(f - q) <= 0.015
    assert sum(digits_runs["fixed"].saturation.values()) == 0


def test_digits_split_is_fixed_80_20():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert len(a.x_train) == 1438 and len(a.x_test) == 359
    assert np.array_equal(a.x_test, b.x_test)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1


def test_nae3_is_not_all_equal_and_trains_in_the_icebreaker_formats():
    """The iCEBreaker's 3-2-1 network (configs/nae3-ice40.json, 8-bit operands) learns
    not-all-equal in the golden model with the data set's defaults."""
    from firmware_py.contract.config import DyadicConfig
    data = load_dataset("nae3")
    assert data.x_train.shape == (8, 3) and len({tuple(r) for r in data.x_train}) == 8
    assert np.array_equal(data.y_train[:, 0], [float(0 < r.sum() < 3) for r in data.x_train])
    sizes, act, epochs, batch, lr = TRAIN_DEFAULTS["nae3"]
    cfg = DyadicConfig.load("configs/nae3-ice40.json")
    assert cfg.sizes == sizes == data.default_sizes and cfg.max_batch >= batch
    net = Network.random(sizes, cfg.activations, np.random.default_rng(2))
    run = train(FixedArith(cfg), net, data, epochs=epochs, batch=batch, lr=lr, seed=2)
    assert run.final["test_accuracy"] == 1.0


def test_digits_trains_in_the_icebreaker_lean_formats():
    """The formats planned for the iCEBreaker's digits network (docs/design/ice40-cells.md):
    W|G words of 26 bits, so that a cell's lanes share one EBR memory, still reach the
    issue's 95 % in the golden model."""
    from firmware_py.contract.config import DyadicConfig
    cfg = DyadicConfig.load("configs/digits-lean-ice40.json")
    sizes, _, epochs, batch, lr = TRAIN_DEFAULTS["digits"]
    assert cfg.sizes == sizes and cfg.master.bits + cfg.grad.bits <= 26
    net = Network.random(sizes, cfg.activations, np.random.default_rng(0))
    run = train(FixedArith(cfg), net, load_dataset("digits"), epochs=epochs, batch=batch,
                lr=lr, seed=0)
    assert run.final["test_accuracy"] >= 0.95
