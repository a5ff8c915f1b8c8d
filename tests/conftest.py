import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from firmware_py.model.network import Network, parse_activations

settings.register_profile("default", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


def random_net(rng, sizes, activation="relu", bias_scale=0.2, scale=1.0):
    return Network.random(sizes, parse_activations(activation, len(sizes) - 1), rng,
                          scale=scale, bias_scale=bias_scale)


def max_err(grads, ref):
    return max(float(np.max(np.abs(g - r)))
               for pair, rpair in zip(grads, ref) for g, r in zip(pair, rpair))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
