import numpy as np
import pytest

from firmware_py.model.network import Network, NetworkError, parse_activations, parse_sizes
from tests.conftest import random_net


def test_npz_roundtrip_keeps_everything(tmp_path, rng):
    net = random_net(rng, (3, 4, 2), "leaky_relu:2")
    net.x, net.y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    net.save(tmp_path / "n.npz")
    back = Network.load(tmp_path / "n.npz")
    assert back.sizes == (3, 4, 2)
    assert [str(a) for a in back.activations] == ["leaky_relu:2", "identity"]
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)
    assert np.array_equal(back.x, net.x) and np.array_equal(back.y, net.y)


def test_npz_without_activations_takes_the_default(tmp_path):
    np.savez(tmp_path / "n.npz", W1=np.ones((2, 3)), b1=np.zeros(2), W2=np.ones((1, 2)),
             b2=np.zeros(1))
    net = Network.load(tmp_path / "n.npz", default_activation="hardtanh")
    assert [a.name for a in net.activations] == ["hardtanh", "identity"]


@pytest.mark.parametrize("arrays, message", [
    ({}, "no W1"),
    ({"W1": np.ones((2, 3))}, "b1 missing"),
    ({"W1": np.ones((2, 3)), "b1": np.zeros(3)}, "b1 has shape"),
    ({"W1": np.ones((2, 3)), "b1": np.zeros(2), "W2": np.ones((1, 3)), "b2": np.zeros(1)},
     "W2 has shape (1, 3) but layer 1 has width 2"),
    ({"W1": np.ones(3), "b1": np.zeros(1)}, "W1 must be a non-empty 2-D array"),
    ({"W1": np.array([[np.nan]]), "b1": np.zeros(1)}, "W1 contains NaN or inf"),
    ({"W1": np.ones((1, 1)), "b1": np.array([np.inf])}, "b1 contains NaN or inf"),
    ({"W1": np.ones((1, 1)), "b1": np.zeros(1), "x": np.ones((2, 2)), "y": np.ones((2, 1))},
     "x has shape (2, 2), expected (B, 1)"),
    ({"W1": np.ones((1, 1)), "b1": np.zeros(1), "x": np.ones((2, 1))},
     "x and y must be given together"),
    ({"W1": np.ones((1, 1)), "b1": np.zeros(1), "W3": np.ones((1, 1))}, "W3 present"),
    ({"W1": np.array([["a"]]), "b1": np.zeros(1)}, "W1 is not numeric"),
    ({"W1": np.ones((1, 1)), "b1": np.zeros(1), "activations": np.array(["swish"])},
     "unknown activation 'swish'"),
])
def test_malformed_npz_names_the_problem(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(NetworkError) as e:
        Network.load(tmp_path / "bad.npz")
    assert message in str(e.value)


def test_unreadable_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(NetworkError, match="not a readable .npz"):
        Network.load(tmp_path / "junk.npz")
    with pytest.raises(NetworkError, match="no such file"):
        Network.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("text", ["", "4", "4,,3", "4,x,3", "4,0,3", "4,-1", "4,99999"])
def test_malformed_sizes(text):
    with pytest.raises(NetworkError):
        parse_sizes(text)


def test_sizes_and_activations_parse():
    assert parse_sizes(" 4, 8,3 ") == (4, 8, 3)
    assert [str(a) for a in parse_activations("relu", 3)] == ["relu", "relu", "identity"]
    assert [str(a) for a in parse_activations("tanh,sigmoid", 2)] == ["tanh", "sigmoid"]
    with pytest.raises(NetworkError, match="3 activations given for 2 layers"):
        parse_activations("relu,relu,relu", 2)
    with pytest.raises(NetworkError, match="leaky_relu:K needs"):
        parse_activations("leaky_relu:0", 2)
