"""Section 1, exactness: relaxation against backprop on random networks, float64 and fixed point."""

from __future__ import annotations

import numpy as np

from firmware_py.contract.config import DyadicConfig
from firmware_py.model.arith import FixedArith
from firmware_py.model.network import Network, parse_activations
from firmware_py.model.relaxation import exact_from, max_err, relax_errors

FLOAT_ACTS = ("identity", "relu", "leaky_relu", "hardtanh", "tanh", "sigmoid")

def exactness_sweep(n: int = 200, seed: int = 0, max_width: int = 16) -> dict:
    """Relaxation at dt = 1 on ``n`` random networks of depth 1-6 (float64 and fixed point).

    float64: the read-out must equal backprop bit for bit at tick 2L and every tick
    after (checked to 2L + 2). Fixed point (hardware activations): the gradient after 2L
    ticks against float64 backprop of the same float network (so weight and input
    quantization count), and against the dequantized network within the derived bound.
    """
    from firmware_py.model import reference
    from firmware_py.model.bounds import dequantized_network, gradient_error_bound
    from firmware_py.model.dynamics import relax

    rows, fixed = [], []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        depth = 1 + k % 6
        act = FLOAT_ACTS[(k // 6) % len(FLOAT_ACTS)]
        init = ("zero", "random")[(k // 36) % 2]
        sizes = tuple(int(v) for v in rng.integers(1, max_width + 1, size=depth + 1))
        net = Network.random(sizes, parse_activations(act, depth), rng, bias_scale=0.2)
        x, y = rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
        L = depth
        _, errs = relax_errors(net, x, y, 1.0, 2 * L + 2, init, seed * 100003 + k)
        exact = exact_from(errs)
        rows.append({"net": k, "sizes": list(sizes), "activation": act, "init": init,
                     "L": L, "exact_from_tick": exact,
                     "exact_from_2L": exact is not None and exact <= 2 * L,
                     "err_at_tick_2L_minus_1": errs[2 * L - 2][1]})
        if act in ("identity", "relu", "leaky_relu", "hardtanh"):
            ar = FixedArith.for_network(net)
            P = ar.params(net)
            xq, yq = ar.encode_x(x), ar.encode_y(y)
            g = relax(ar, P, xq, yq, ticks=2 * L).grads[-1]
            gf = [(ar.grad_float(a), ar.grad_float(b)) for a, b in g]
            xf, yf = ar.state_float(xq, "s"), ar.state_float(yq, "s")
            ref_float = reference.backprop(net, x, y)
            ref_deq = reference.backprop(dequantized_network(ar, P), xf, yf)
            bound = gradient_error_bound(ar, P, xf, yf)
            _, hs = reference.forward(dequantized_network(ar, P), xf)
            kink = min((float(np.min(np.abs(h - k))) for h, a in zip(hs, net.activations)
                        for k in a.kinks), default=None)
            within = all(bool(np.all(np.abs(a - r) <= bnd)) for pair, rpair, bpair in
                         zip(gf, ref_deq, bound) for a, r, bnd in zip(pair, rpair, bpair))
            fixed.append({"net": k, "saturated": ar.counters.total,
                          "err_vs_float64": max_err(gf, ref_float),
                          "err_vs_dequantized": max_err(gf, ref_deq),
                          "bound": max(float(np.max(b)) for pair in bound for b in pair),
                          "within_bound": within, "nearest_kink": kink,
                          "grad_scale": max(float(np.max(np.abs(r)))
                                            for pair in ref_float for r in pair)})
    ok = [r for r in rows if r["exact_from_2L"]]
    clean = [f for f in fixed if f["saturated"] == 0]
    errs_f = [f["err_vs_float64"] for f in clean]
    worst = max(clean, key=lambda f: f["err_vs_float64"], default=None)
    out = {
        "networks": n, "depths": sorted({r["L"] for r in rows}),
        "activations": list(FLOAT_ACTS), "max_width": max_width, "inits": ["zero", "random"],
        "exact_from_2L": len(ok),
        "exact_exactly_at_2L": sum(r["exact_from_tick"] == 2 * r["L"] for r in rows),
        "not_exact": [r["net"] for r in rows if not r["exact_from_2L"]],
        "exact_before_2L_activations": sorted({r["activation"] for r in rows
                                               if r["exact_from_tick"] is not None
                                               and r["exact_from_tick"] < 2 * r["L"]}),
        "fixed_point": {
            "networks": len(fixed), "saturated": len(fixed) - len(clean),
            "max_err_vs_float64": max(errs_f) if errs_f else None,
            "median_err_vs_float64": float(np.median(errs_f)) if errs_f else None,
            "p95_err_vs_float64": float(np.percentile(errs_f, 95)) if errs_f else None,
            "networks_err_above_1e-2": sum(e > 1e-2 for e in errs_f),
            "max_err_vs_dequantized": max((f["err_vs_dequantized"] for f in clean),
                                          default=None),
            "within_derived_bound": sum(f["within_bound"] for f in clean),
            "max_bound": max((f["bound"] for f in clean), default=None),
            "max_grad_magnitude": max((f["grad_scale"] for f in clean), default=None),
            "worst_network": worst and {"net": worst["net"], "err": worst["err_vs_float64"],
                                        "nearest_kink": worst["nearest_kink"]},
            "half_lsb_act": DyadicConfig((1, 1), ("identity",)).act.lsb / 2,
        },
    }
    return out

def _relaxation_curves(path):
    """The error-against-tick plot of `dyadic relax --plot` (4-8-8-3, seed 0)."""
    from firmware_py.ui.plots import plot_relaxation

    rng = np.random.default_rng(0)
    sizes = (4, 8, 8, 3)
    net = Network.random(sizes, parse_activations("relu", 3), rng, bias_scale=0.1)
    x, y = rng.uniform(-1, 1, sizes[0]), rng.uniform(-1, 1, sizes[-1])
    curves = {f"dt = {label}": relax_errors(net, x, y, dt, 18, "zero", 0)[1]
              for label, dt in (("1", 1.0), ("1/2", 0.5), ("1/4", 0.25), ("1/8", 0.125))}
    plot_relaxation(path, 3, curves)
    return curves["dt = 1"]


def relax_example() -> dict:
    """`dyadic relax` as it runs with no arguments: the read-out's largest error against
    backprop at each tick, and the tick from which it is exactly 0."""
    from firmware_py.model.relaxation import EXAMPLE_SIZES, example_network
    net, x, y = example_network()
    L = len(EXAMPLE_SIZES) - 1
    _, errs = relax_errors(net, x, y, 1.0, 2 * L + 2, "zero", 0)
    return {"sizes": list(EXAMPLE_SIZES), "L": L, "errors": [e for _, e in errs],
            "exact_from_tick": exact_from(errs)}
