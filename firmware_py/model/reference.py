"""Ordinary backpropagation in float64, written plainly and independently of the dynamics."""

from __future__ import annotations

import numpy as np

from .network import Network

__all__ = ["forward", "backprop", "loss", "numerical_gradient"]


def forward(net: Network, x):
    """Activations [x, s_1, ..., s_L] and pre-activations [h_1, ..., h_L] for one sample."""
    s, hs = [np.asarray(x, dtype=np.float64)], []
    for W, b, act in zip(net.weights, net.biases, net.activations):
        h = W @ s[-1] + b
        hs.append(h)
        s.append(act.f(h))
    return s, hs


def loss(net: Network, x, y) -> float:
    """C = 1/2 |s_L - y|^2, so that dC/ds_L = s_L - y."""
    s, _ = forward(net, x)
    return 0.5 * float(np.sum((s[-1] - y) ** 2))


def backprop(net: Network, x, y):
    """[(dC/dW_l, dC/db_l)] for one sample by the chain rule, output layer first."""
    s, hs = forward(net, x)
    grads = [None] * net.L
    lam = s[-1] - y
    for l in reversed(range(net.L)):
        d = net.activations[l].df(hs[l]) * lam
        grads[l] = (np.outer(d, s[l]), d.copy())
        lam = net.weights[l].T @ d
    return grads


def numerical_gradient(net: Network, x, y, eps: float = 1e-6):
    """Central finite differences of ``loss`` over every weight and bias."""
    out = []
    for l in range(net.L):
        pair = []
        for P in (net.weights[l], net.biases[l]):
            g = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + eps
                up = loss(net, x, y)
                P[idx] = old - eps
                down = loss(net, x, y)
                P[idx] = old
                g[idx] = (up - down) / (2 * eps)
            pair.append(g)
        out.append(tuple(pair))
    return out
