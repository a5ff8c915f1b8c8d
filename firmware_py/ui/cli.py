"""The ``dyadic`` command line.

Its output formats are contracts that users and scripts rely on: ``--json``
prints exactly one JSON object on stdout; human-readable progress goes to stderr.
Bad input prints one line ``dyadic <command>: error: ...`` and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from firmware_py.contract.fixedpoint import FormatError
from firmware_py.contract.protocol import DEFAULT_BAUD, Opcode
from firmware_py.model.arith import FixedArith, FloatArith
from firmware_py.model.datasets import DATASETS, class_labels, load_dataset
from firmware_py.model.dynamics import relax
from firmware_py.model.network import Network, parse_activations, parse_sizes
from firmware_py.model.recipes import TRAIN_DEFAULTS
from firmware_py.model.reference import backprop
from firmware_py.model.relaxation import (
    EXAMPLE_SIZES,
    exact_from,
    example_network,
    max_err,
    relax_errors,
)

__all__ = ["main"]

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return v


def _number(text):
    """A float or a fraction like 1/8."""
    try:
        num, _, den = text.partition("/")
        v = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number like 0.125 or 1/8, not {text!r}") \
            from None
    if not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
    return v


def _emit_json(obj):
    sys.stdout.write(json.dumps(obj) + "\n")


def _err(*args):
    print(*args, file=sys.stderr)


# -- dyadic relax ---------------------------------------------------------------------
def _relax_network(args) -> tuple[Network, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(args.seed)
    if args.net:
        if args.sizes:
            raise UsageError("give either --sizes or --net, not both")
        net = Network.load(args.net, default_activation=args.activation or "relu")
        if net.x is not None:
            return net, net.x[0], net.y[0]
        return net, rng.uniform(-1, 1, net.sizes[0]), rng.uniform(-1, 1, net.sizes[-1])
    sizes = parse_sizes(args.sizes or ",".join(map(str, EXAMPLE_SIZES)))
    return example_network(sizes, args.activation or "relu", args.seed)


def cmd_relax(args):
    net, x, y = _relax_network(args)
    L = net.L
    if not 0 < args.dt <= 1:
        raise UsageError(f"--dt must be in (0, 1], not {args.dt}")
    ticks = args.ticks if args.ticks is not None else 2 * L + 2
    trace, errs = relax_errors(net, x, y, args.dt, ticks, args.init, args.seed)
    exact = exact_from(errs)
    if args.out:
        arrays = {}
        for i, (gW, gb) in enumerate(trace.grads[-1], 1):
            arrays[f"gW{i}"], arrays[f"gb{i}"] = gW, gb
        np.savez(args.out, **arrays)
    if args.plot:
        from .plots import plot_relaxation

        n = max(ticks, 6 * L)
        curves = {f"dt = {label}": relax_errors(net, x, y, dt, n, args.init, args.seed)[1]
                  for label, dt in (("1", 1.0), ("1/2", 0.5), ("1/4", 0.25), ("1/8", 0.125))}
        plot_relaxation(args.plot, L, curves)
    if args.json:
        _emit_json({"L": L, "dt": args.dt,
                    "ticks": [{"t": t, "max_abs_err": e} for t, e in errs],
                    "exact_from_tick": exact})
        return
    print(f"relaxation of a {L}-layer network {'-'.join(map(str, net.sizes))} "
          f"({', '.join(map(str, net.activations))}), dt = {args.dt:g}, init = {args.init}")
    print(f"{'tick':>5}  max |gradient - backprop|")
    for t, e in errs:
        print(f"{t:>5}  {e:.3e}{'   <- 2L' if t == 2 * L else ''}")
    if exact is None:
        print(f"not exact within {ticks} ticks (2L = {2 * L})")
    else:
        print(f"exact (difference 0.0) from tick {exact} on (2L = {2 * L})")


# -- dyadic train ---------------------------------------------------------------------
def _train_setup(args):
    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r} (choose from {', '.join(DATASETS)})")
    data = load_dataset(args.dataset)
    sizes0, act0, epochs, batch, lr = TRAIN_DEFAULTS[args.dataset]
    sizes = parse_sizes(args.sizes) if args.sizes else sizes0
    n_in, n_out = data.x_train.shape[1], data.y_train.shape[1]
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise UsageError(f"--sizes {','.join(map(str, sizes))} does not fit {args.dataset}: "
                         f"it needs {n_in} inputs and {n_out} outputs")
    acts = parse_activations(args.activation or act0, len(sizes) - 1)
    net = Network.random(sizes, acts, np.random.default_rng(args.seed))
    epochs = args.epochs or epochs
    batch = args.batch or batch
    lr = args.lr if args.lr is not None else lr
    args.backend = args.backend or ("serial" if args.port else "sim")
    if args.backend == "float":
        arith = FloatArith.for_network(net)
    elif args.backend == "fixed" and (getattr(args, "config", None)
                                      or getattr(args, "board", None)):
        arith = FixedArith(_device_config(args, net, batch))   # that device's formats
    elif args.backend in ("fixed",) + DEVICE_BACKENDS:
        arith = FixedArith.for_network(net)
    else:
        raise UsageError(f"unknown backend {args.backend!r} "
                         f"(choose from float, fixed, {', '.join(DEVICE_BACKENDS)})")
    arith.lr_step(lr)  # fail early on a learning rate the backend cannot do
    return data, net, arith, epochs, batch, lr


DEVICE_BACKENDS = ("sim", "serial")


def _board(args):
    """The board named by --board, or None."""
    if not getattr(args, "board", None):
        return None
    from boards import BoardError, get_board
    try:
        return get_board(args.board)
    except BoardError as e:
        raise UsageError(str(e)) from None


def _device_config(args, net, batch, samples=1):
    """The device's configuration: --config, --board's, or one derived from the network
    (20 multipliers, room for ``samples`` resident samples with label targets). A board
    may carry another configuration than its default (``make bitstream BOARD_ARGS="--config
    C"``): --config then says which, and --board where (its clock and link rate)."""
    from firmware_py.contract.config import DyadicConfig, derived_config

    board = _board(args)
    if board is not None and not getattr(args, "config", None):
        args.config = str(board.default_config_path)
    if getattr(args, "config", None):
        cfg = DyadicConfig.load(args.config)
        if net is not None and (cfg.sizes != net.sizes or cfg.activations != net.activations):
            raise UsageError(f"{args.config} is {'-'.join(map(str, cfg.sizes))} "
                             f"({', '.join(map(str, cfg.activations))}); the network is "
                             f"{'-'.join(map(str, net.sizes))} "
                             f"({', '.join(map(str, net.activations))})")
    else:
        cfg = derived_config(net.sizes, net.activations, batch, samples)
    if batch > cfg.max_batch:
        raise UsageError(f"batch {batch} exceeds the device's max_batch {cfg.max_batch}")
    return cfg


def _open_device(args, cfg):
    from firmware_py.device.driver import Accelerator
    from firmware_py.device.transport import SerialTransport, SimTransport

    if args.backend == "sim":
        transport = SimTransport(cfg, log=_err)
    elif not args.port:
        raise UsageError("--backend serial needs --port (e.g. /dev/ttyUSB0)")
    else:
        board = _board(args)
        baud = args.baud or (board.baud if board else DEFAULT_BAUD)
        transport = SerialTransport(args.port, baud)
    return Accelerator.open(transport, cfg)


def cmd_train(args):
    from tqdm import tqdm

    from firmware_py.device.training import train_on_device
    from firmware_py.model.training import train

    data, net, arith, epochs, batch, lr = _train_setup(args)
    device = None
    if args.backend in DEVICE_BACKENDS:
        samples = len(data.x_train) + len(data.x_test)
        device = _open_device(args, _device_config(args, net, batch, samples))
        arith = FixedArith(device.config)
    t0 = time.perf_counter()
    try:
        with tqdm(total=epochs * len(data.x_train), unit="sample", file=sys.stderr,
                  desc=f"train {args.dataset} ({args.backend})",
                  mininterval=0.5 if sys.stderr.isatty() else 10,
                  dynamic_ncols=True) as bar:
            kw = dict(epochs=epochs, batch=batch, lr=lr, seed=args.seed,
                      progress=bar.update, on_epoch=lambda r: bar.set_postfix(
                          test_acc=f"{r['test_accuracy']:.3f}", refresh=False))
            result = (train(arith, net, data, **kw) if device is None
                      else train_on_device(device, arith, net, data, **kw))
        link = device.link_stats() if device is not None else None
    finally:
        if device is not None:
            device.close()
    seconds = time.perf_counter() - t0
    fin = result.final
    reference = None
    if device is not None:
        # the fixed-point golden model, same seed: the device must reproduce it exactly
        reference = train(FixedArith(device.config), net, data, epochs=epochs, batch=batch,
                          lr=lr, seed=args.seed)
        same = all(np.array_equal(a, b) for a, b in
                   zip(result.params[0] + result.params[1],
                       reference.params[0] + reference.params[1]))
    float_run = None
    if args.compare and reference is not None:
        float_run = train(FloatArith.for_network(net), net, data, epochs=epochs, batch=batch,
                          lr=lr, seed=args.seed)
    if args.plot:
        from .plots import plot_training

        runs = {args.backend: result.history}
        if reference is not None:
            runs["fixed-point golden model"] = reference.history
        plot_training(args.plot, runs,
                      f"{args.dataset} {'-'.join(map(str, net.sizes))}, batch {batch}, "
                      f"lr {lr:g}, seed {args.seed}")
    summary = {"backend": args.backend, "dataset": args.dataset, "sizes": list(net.sizes),
               "activations": [str(a) for a in net.activations], "epochs": epochs,
               "batch": batch, "lr": lr, "seed": args.seed,
               "train_accuracy": fin["train_accuracy"], "train_loss": fin["train_loss"],
               "test_accuracy": fin["test_accuracy"], "test_loss": fin["test_loss"],
               "saturation": result.saturation, "seconds": round(seconds, 3),
               "history": result.history}
    if reference is not None:
        summary["matches_fixed_golden"] = bool(same)
    board = _board(args)
    if device is not None:
        summary["link_bytes_load"] = result.link["bytes"]
        summary["link_bytes"] = link["bytes_out"] + link["bytes_in"]
        summary["round_trips"] = link["round_trips"]
        summary["device_cycles"] = sum(r["device_cycles"] for r in result.history)
        if board is not None:
            summary["predicted_board_seconds"] = round(predicted_seconds(
                board, summary["link_bytes"], summary["round_trips"],
                summary["device_cycles"], args.baud), 4)
    if args.json:
        _emit_json(summary)
        return
    print(f"{args.dataset} {'-'.join(map(str, net.sizes))} on {args.backend}: "
          f"{epochs} epochs, batch {batch}, lr {lr:g}, seed {args.seed}, {seconds:.1f} s")
    print(f"  train accuracy {100 * fin['train_accuracy']:6.2f} %   loss {fin['train_loss']:.4f}")
    print(f"  test  accuracy {100 * fin['test_accuracy']:6.2f} %   loss {fin['test_loss']:.4f}")
    if result.saturation is not None and device is None:
        print(f"  saturation events: {result.saturation}")
    if reference is not None:
        print(f"  weights bit-identical to the fixed-point golden model: "
              f"{'yes' if same else 'NO'}")
    if float_run is not None:
        print(f"  test accuracy: float64 model {100 * float_run.final['test_accuracy']:.2f} %, "
              f"fixed-point model {100 * reference.final['test_accuracy']:.2f} %, "
              f"{args.backend} {100 * fin['test_accuracy']:.2f} %")
    if device is not None:
        print(f"  link: {summary['link_bytes_load']:,} bytes to load the sets, then "
              f"{result.history[-1]['link_bytes']:,} bytes and {result.history[-1]['round_trips']}"
              f" round trips an epoch; {summary['device_cycles']:,} device cycles in all")
    if "predicted_board_seconds" in summary:
        print(f"  on a {board.title}: {summary['predicted_board_seconds']:.2f} s predicted "
              f"(link at {args.baud or board.baud:,} baud, 1 ms a round trip, "
              f"{board.clock_hz() / 1e6:g} MHz)")


def predicted_seconds(board, link_bytes, round_trips, cycles, baud=None) -> float:
    """A session's wall time on ``board``: its link traffic at the board's rate and the
    device's cycles at the clock its bitstream runs at."""
    from firmware_py.device.framing import link_seconds
    return link_seconds(link_bytes, round_trips, baud or board.baud) + cycles / board.clock_hz()


# -- dyadic gradcheck ------------------------------------------------------------------
def _multipliers(text, sizes):
    """One count for every cell (capped at its weight count) or a comma list."""
    try:
        counts = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise UsageError(f"--multipliers must be N or N1,N2,..., not {text!r}") from None
    L = len(sizes) - 1
    if len(counts) == 1:
        counts = [min(counts[0], n_out * n_in) for n_out, n_in in zip(sizes[1:], sizes)]
    if len(counts) != L or min(counts) < 1:
        raise UsageError(f"--multipliers needs one positive count or {L} of them")
    return tuple(counts)


def cmd_gradcheck(args):
    from firmware_py.contract.config import DyadicConfig
    from firmware_py.device.commands import CoreCommands
    from firmware_py.device.rtl import run_commands

    if args.backend not in ("icarus", "verilator") + DEVICE_BACKENDS:
        raise UsageError(f"unknown backend {args.backend!r} "
                         f"(choose from icarus, verilator, {', '.join(DEVICE_BACKENDS)})")
    if (args.config or args.board) and not (args.net or args.sizes or args.activation):
        # a random network of the configuration's own shape
        shape = _device_config(args, None, 1)
        args.sizes = ",".join(map(str, shape.sizes))
        args.activation = ",".join(map(str, shape.activations))
    net, x, y = _relax_network(args)
    L = net.L
    if args.config or args.board:
        config = _device_config(args, net, 1)
    else:
        config = DyadicConfig(net.sizes, net.activations,
                              multipliers=_multipliers(args.multipliers, net.sizes), max_batch=1)
    arith = FixedArith(config)
    k = arith.dt_step(args.dt)
    if config.targets == "label":     # the device holds a class: the target is one-hot
        y = np.eye(len(y))[np.argmax(y)] if len(y) > 1 else np.array([float(y[0] > 0.5)])
    try:
        params = arith.params(net, saturate=args.saturate)
        xq = arith.encode_x(x, saturate=args.saturate)
        yq = arith.encode_y(y, saturate=args.saturate)
    except FormatError as e:
        raise UsageError(f"{e} (--saturate clamps it instead)") from None
    cmds = CoreCommands(config)
    zeros = [np.zeros(n, dtype=np.int64) for n in net.sizes[1:]]
    program = [cmds.write_params(l, params[0][l - 1], params[1][l - 1]) for l in range(1, L + 1)]
    program += [cmds.write_samples(xq[None], yq[None])]
    program += [cmds.write_state(l, zeros[l - 1], zeros[l - 1]) for l in range(1, L + 1)]
    program += [cmds.clear_counters(), cmds.relax(2 * L, k)]
    program += [cmds.read_grads(l) for l in range(1, L + 1)] + [cmds.read_counters()]
    _err(f"gradcheck: {'-'.join(map(str, net.sizes))} on {args.backend} "
         f"(multipliers {config.multipliers}), simulating ...")
    t0 = time.perf_counter()
    if args.backend in DEVICE_BACKENDS:
        device = _open_device(args, config)
        try:
            out = [device.run(cmd) for cmd in program]
        finally:
            device.close()
    else:
        out = run_commands(config, program, args.backend)
    device = out[-1 - L:-1]
    counters = out[-1]
    golden = relax(arith, params, xq, yq, ticks=2 * L, dt=args.dt).grads[-1]
    bit_exact = all(np.array_equal(d[k], g[k]) for d, g in zip(device, golden) for k in (0, 1))
    ref = backprop(net, x, y)
    dev_float = [(arith.grad_float(gW), arith.grad_float(gb)) for gW, gb in device]
    err = max_err(dev_float, ref)
    if args.out:
        arrays = {}
        for i, (gW, gb) in enumerate(dev_float, 1):
            arrays[f"gW{i}"], arrays[f"gb{i}"] = gW, gb
        np.savez(args.out, **arrays)
    result = {"bit_exact": bool(bit_exact), "max_abs_err_vs_float": err, "ticks": 2 * L,
              "cycles": int(counters["cycles"])}
    if args.json:
        _emit_json(result)
    else:
        print(f"{args.backend}: {'bit-exact' if bit_exact else 'MISMATCH'} against the "
              f"fixed-point golden model after 2L = {2 * L} ticks")
        print(f"  largest |device gradient - float64 backprop| = {err:.3e}")
        print(f"  {counters['cycles']} cycles (with the read-out tick), simulated in "
              f"{time.perf_counter() - t0:.1f} s")
    return 0 if bit_exact else 1


# -- dyadic infer ------------------------------------------------------------------------
def cmd_infer(args):
    from firmware_py.device.commands import CoreCommands
    from firmware_py.model.training import predict

    args.backend = args.backend or ("serial" if args.port else "sim")
    if args.backend not in DEVICE_BACKENDS:
        raise UsageError(f"unknown backend {args.backend!r} (choose from sim, serial)")
    net = Network.load(args.net)
    if args.dataset:        # (given, it wins over the file's own x)
        if args.dataset not in DATASETS:
            raise UsageError(f"unknown dataset {args.dataset!r} "
                             f"(choose from {', '.join(DATASETS)})")
        data = load_dataset(args.dataset)
        X, Y = data.x_test, data.y_test
    elif net.x is not None:
        X, Y = net.x, net.y
    else:
        raise UsageError(f"{args.net} holds no x; give --dataset to infer on its test split")
    config = _device_config(args, net, 1, samples=len(X))
    CoreCommands(config).require(Opcode.RELAX, Opcode.READ_STATE)   # (before any device work)
    arith = FixedArith(config)
    try:
        params = arith.params(net, saturate=args.saturate)
    except FormatError as e:
        raise UsageError(f"{e} (--saturate clamps it instead)") from None
    xq = arith.encode_x(X, saturate=True)
    yq = arith.encode_y(Y if Y is not None else np.zeros((len(X), net.sizes[-1])),
                        saturate=True)
    device = _open_device(args, config)
    L = config.L
    outs = []
    try:
        device.load_network(params)
        for start in range(0, len(xq), config.samples):    # as many as the device holds
            part = slice(start, start + config.samples)
            device.write_samples(xq[part], yq[part])
            for i in range(len(xq[part])):
                device.relax(L, 0, sample=i)     # L ticks at dt = 1: s_L is the forward pass
                outs.append(device.read_state(L)[0])
    finally:
        device.close()
    outs = np.array(outs)
    ref = np.rint(predict(arith, params, X) / config.act.lsb).astype(np.int64)  # golden codes
    result = {"samples": len(X), "bit_exact": bool(np.array_equal(outs, ref)),
              "outputs": (outs * config.act.lsb).tolist()}
    if Y is not None:
        result["accuracy"] = float(np.mean(class_labels(outs) == class_labels(Y)))
    if args.json:
        _emit_json(result)
        return
    print(f"inferred {len(X)} samples on {args.backend}: outputs bit-identical to the "
          f"fixed-point golden model: {'yes' if result['bit_exact'] else 'NO'}")
    if "accuracy" in result:
        print(f"  accuracy {100 * result['accuracy']:.2f} %")


# -- dyadic bench ------------------------------------------------------------------------
def cmd_bench(args):
    from pathlib import Path

    from .bench import SECTIONS, headline_table, run_bench

    sections = tuple(x.strip() for x in args.sections.split(",")) if args.sections else SECTIONS
    bad = [x for x in sections if x not in SECTIONS]
    if bad:
        raise UsageError(f"unknown section {bad[0]!r} (choose from {', '.join(SECTIONS)})")
    out = Path(args.out)
    results = run_bench(out, quick=args.quick, boards_dir=Path(args.boards), sections=sections)
    print(headline_table(results))
    print()
    for t in results["targets"]:
        print(f"target {t['target']}: {t['goal']}; measured {t['measured']} — {t['status']}"
              + (f" ({t['why']})" if t["why"] else ""))
    print(f"\nwrote {out / 'results.json'}, {out / 'report.md'} and plots in {out}/ "
          f"({results['meta']['wall_seconds']:.0f} s)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dyadic", description="Dyadic Backpropagation: golden model, "
                "simulated and real accelerator.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("relax", help="relaxation mode on one sample, error against backprop "
                       "at every tick")
    r.add_argument("--sizes", help="layer widths, e.g. 4,8,8,3 (default)")
    r.add_argument("--net", help="network .npz (W1..WL, b1..bL, optional x, y)")
    r.add_argument("--activation", help="one name for hidden layers, or one per layer "
                   "(default relu)")
    r.add_argument("--dt", type=_number, default=1.0, help="Euler step, e.g. 1 or 1/4")
    r.add_argument("--ticks", type=_positive_int, help="number of ticks (default 2L + 2)")
    r.add_argument("--init", choices=("zero", "random"), default="zero")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--out", help="save the last tick's gradients (gW1.., gb1..) to .npz")
    r.add_argument("--plot", help="PNG of error against tick for dt = 1, 1/2, 1/4, 1/8")
    r.set_defaults(func=cmd_relax)

    t = sub.add_parser("train", help="SGD training with the streaming schedule")
    t.add_argument("--backend", help="float | fixed | sim | serial (default: sim, or serial "
                   "with --port)")
    t.add_argument("--port", help="serial port of a board, e.g. /dev/ttyUSB0")
    t.add_argument("--baud", type=_positive_int, help="serial rate (default: the board's "
                   "bridge's, else 3000000); the bitstream must be built for it")
    t.add_argument("--config", help="device configuration JSON (default: derived from the "
                   "network, 20 multipliers)")
    t.add_argument("--board", help="a board (make boards lists them): its configuration, "
                   "unless --config names the one its bitstream carries, and its clock and "
                   "link rate for the predicted wall time")
    t.add_argument("--dataset", default="digits", help=f"{' | '.join(DATASETS)}")
    t.add_argument("--sizes", help="layer widths (default per dataset, digits 64,32,10)")
    t.add_argument("--activation", help="hidden-layer activation, or one per layer "
                   "(default per dataset: relu; hardtanh for xor and nae3)")
    t.add_argument("--epochs", type=_positive_int)
    t.add_argument("--batch", type=_positive_int)
    t.add_argument("--lr", type=_number, help="learning rate on the summed batch "
                   "gradient; 2^-k for fixed point")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true")
    t.add_argument("--plot", help="PNG of loss and accuracy per epoch (on a device: with the "
                   "fixed-point golden model's curves)")
    t.add_argument("--compare", action="store_true", help="on a device: also train the "
                   "float64 model and print both accuracies")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("gradcheck", help="one sample in relaxation mode on the simulated RTL")
    g.add_argument("--backend", default="verilator",
                   help="icarus | verilator (cocotb) | sim (driver on Verilator) | serial")
    g.add_argument("--port", help="serial port of a board (--backend serial)")
    g.add_argument("--baud", type=_positive_int, help="serial rate (default: the board's)")
    g.add_argument("--config", help="device configuration JSON (a board's)")
    g.add_argument("--board", help="use this board's configuration (make boards lists them)")
    g.add_argument("--net", help="network .npz (W1..WL, b1..bL, optional x, y)")
    g.add_argument("--sizes", help="layer widths for a random network (default: the "
                   "configuration's, else 4,8,8,3)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--activation", help="hardware activation(s) (default relu)")
    g.add_argument("--multipliers", default="1", help="per cell: N, or N1,N2,...")
    g.add_argument("--dt", type=_number, default=1.0, help="2^-k")
    g.add_argument("--saturate", action="store_true",
                   help="clamp weights and inputs that do not fit the format")
    g.add_argument("--json", action="store_true")
    g.add_argument("--out", help="save the device's gradients (as floats) to .npz")
    g.set_defaults(func=cmd_gradcheck)

    i = sub.add_parser("infer", help="forward passes on the (simulated) accelerator")
    i.add_argument("--net", required=True, help="network .npz; its x (and y) are inferred")
    i.add_argument("--dataset", help="infer on this data set's test split instead")
    i.add_argument("--backend", help="sim | serial (default: sim, or serial with --port)")
    i.add_argument("--port")
    i.add_argument("--baud", type=_positive_int, help="serial rate (default: the board's)")
    i.add_argument("--config", help="device configuration JSON (a board's)")
    i.add_argument("--board", help="use this board's configuration (make boards lists them)")
    i.add_argument("--saturate", action="store_true")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_infer)

    from firmware_py.ui.bench import SECTIONS
    b = sub.add_parser("bench", help=f"benchmark: {', '.join(SECTIONS)}; writes results.json "
                       "and report.md")
    b.add_argument("--quick", action="store_true", help="short version (a few minutes): "
                   "2 training epochs, short simulator-speed runs")
    b.add_argument("--out", default="build/bench", help="output folder (default build/bench)")
    b.add_argument("--boards", default="build/boards", help="where the board builds wrote "
                   "their report.json (default build/boards); synthesis is never run here")
    b.add_argument("--sections", help=f"comma list of sections to run (default all: "
                   f"{','.join(SECTIONS)})")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code = args.func(args)
    # Bad input (ValueError and its subclasses NetworkError, ConfigError, FormatError) and
    # a missing tool or dead link (RuntimeError, naming the fix) are one line, exit 2.
    except (UsageError, ValueError, OverflowError, RuntimeError) as e:
        cmd = getattr(locals().get("args"), "command", None)
        print(f"dyadic{' ' + cmd if cmd else ''}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    return code or 0



if __name__ == "__main__":
    sys.exit(main())
