"""A worst-case bound on |fixed-point gradient - float64 gradient|, derived from the formats.

Both sides use the same network: the fixed-point operands (weights with the guard
bits dropped) and the quantized x, y, read as exact reals. The only differences are
then the hardware's roundings, each at most half an LSB of its format:

    e_s0 = 0
    e_h[l]  = |W_l| e_s[l-1] + q_act/2                 (round h to the act format)
    e_s[l]  = Lip(f) e_h[l] (+ q_act/2 for leaky ReLU's rounded slope)
    e_lam[L] = e_s[L] (+ q_sens/2 if sens has fewer fraction bits than act)
    e_d[l]  = f'(h) e_lam[l] (+ q_sens/2 for leaky ReLU)
              + (1 - min slope) (|lam| + e_lam) where |h - kink| <= e_h (f' may flip)
    e_lam[l-1] = |W_l|^T e_d[l] + q_sens/2            (round W^T d to the sens format)
    e_gW[l] = |d| e_s[l-1]^T + e_d |s[l-1]|^T + e_d e_s[l-1]^T,  e_gb[l] = e_d[l]

valid while no value saturates (the counters say so). Float64's own rounding is
~1e-16 relative, far below q/2 = 1.2e-4 for Q4.12, and is covered by a 1e-9 slack.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .arith import FixedArith
from .network import Network

__all__ = ["dequantized_network", "gradient_error_bound"]

SLACK = 1e-9


def dequantized_network(arith: FixedArith, params) -> Network:
    """The float64 network the fixed-point hardware actually computes with."""
    Ws, bs = params
    return Network([arith.param_float(W) for W in Ws], [arith.param_float(b) for b in bs],
                   arith.activations)


def gradient_error_bound(arith: FixedArith, params, x, y):
    """Per-element bounds [(bound_gW, bound_gb)] for one sample (x, y given as floats)."""
    c = arith.config
    net = dequantized_network(arith, params)
    s, hs = reference.forward(net, x)
    qa, ql = c.act.lsb / 2, c.sens.lsb / 2
    e_s = [np.zeros_like(s[0])]
    for l, (W, act) in enumerate(zip(net.weights, net.activations)):
        e_h = np.abs(W) @ e_s[-1] + qa
        e_s.append(act.lipschitz * e_h + (qa if act.name == "leaky_relu" else 0.0))
        hs[l] = (hs[l], e_h)
    # backward, output layer first
    lam = s[-1] - y
    e_lam = e_s[-1] + (ql if c.sens.frac < c.act.frac else 0.0)
    out = [None] * net.L
    for l in reversed(range(net.L)):
        act = net.activations[l]
        h, e_h = hs[l]
        fp = act.df(h)
        e_d = fp * e_lam + (ql if act.name == "leaky_relu" else 0.0)
        near = np.zeros(h.shape, dtype=bool)
        for k in act.kinks:
            near |= np.abs(h - k) <= e_h
        e_d = e_d + np.where(near, (1.0 - act.min_slope) * (np.abs(lam) + e_lam), 0.0)
        d = fp * lam
        e_gW = (np.outer(np.abs(d), e_s[l]) + np.outer(e_d, np.abs(s[l]))
                + np.outer(e_d, e_s[l]) + SLACK)
        out[l] = (e_gW, e_d + SLACK)
        lam = net.weights[l].T @ d
        e_lam = np.abs(net.weights[l]).T @ e_d + ql
    return out
