"""The relaxation's read-out against backpropagation, tick by tick (float64)."""

from __future__ import annotations

import numpy as np

from .arith import FloatArith
from .dynamics import relax
from .network import Network, parse_activations
from .reference import backprop

__all__ = ["max_err", "exact_from", "relax_errors", "example_network", "EXAMPLE_SIZES"]

EXAMPLE_SIZES = (4, 8, 8, 3)      # `dyadic relax`'s network when none is given


def max_err(grads, ref) -> float:
    """The largest |difference| over every layer's weight and bias gradients."""
    return max(float(np.max(np.abs(g - r)))
               for pair, rpair in zip(grads, ref) for g, r in zip(pair, rpair))


def exact_from(errs) -> int | None:
    """First tick from which every later error is exactly 0.0 (None if the last isn't)."""
    first = None
    for t, e in errs:
        first = (first if first is not None else t) if e == 0.0 else None
    return first


def relax_errors(net, x, y, dt, ticks, init, seed):
    """(trace, [(tick, largest error of the read-out against backprop)]) of a relaxation
    from an ``init`` state (the random one drawn with ``seed + 1``)."""
    arith = FloatArith.for_network(net)
    trace = relax(arith, arith.params(net), x, y, ticks=ticks, dt=dt, init=init,
                  rng=np.random.default_rng(seed + 1))
    ref = backprop(net, x, y)
    return trace, [(t, max_err(trace.grads[t], ref)) for t in range(1, ticks + 1)]


def example_network(sizes=EXAMPLE_SIZES, activation: str = "relu", seed: int = 0):
    """(net, x, y): a random network (biases on a tenth of the weights' scale) with one
    random sample, as ``dyadic relax`` draws them from ``seed``."""
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, parse_activations(activation, len(sizes) - 1), rng,
                         bias_scale=0.1)
    return net, rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
