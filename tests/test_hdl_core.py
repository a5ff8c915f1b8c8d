"""The whole core in the Amaranth simulator against the fixed-point golden model.

Every s and lam after every relaxation tick, every gradient and updated weight of a
streaming batch, the saturation counters, and the cycle model, bit for bit.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import (
    CommandHeader,
    Opcode,
    ResponseHeader,
    Status,
    StreamFlags,
    classes,
    pack,
    unpack,
)
from firmware_py.device.commands import CoreCommands, DeviceError
from firmware_py.model.arith import FixedArith
from firmware_py.model.dynamics import stream_batch
from firmware_py.model.network import Network, parse_activations
from hdl.core import DyadicCore
from sim import scenarios
from sim.amaranth_tb import call, stream_get, stream_put


def _case(sizes, activation, multipliers, seed, scale=1.0, max_batch=8, pipeline=0,
          serial_update=False):
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, parse_activations(activation, len(sizes) - 1), rng,
                         bias_scale=0.3, scale=scale)
    cfg = DyadicConfig(sizes, net.activations, multipliers=multipliers, max_batch=max_batch,
                       pipeline=pipeline, serial_update=serial_update)
    return rng, net, cfg, FixedArith(cfg)


def _run(cfg, bench):
    dut = DyadicCore(cfg)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    async def testbench(ctx):
        await bench(ctx, dut, CoreCommands(cfg))

    sim.add_testbench(testbench)
    sim.run()


async def _load(ctx, dut, cmds, params):
    for l in range(1, len(params[0]) + 1):
        await call(ctx, dut, cmds.write_params(l, params[0][l - 1], params[1][l - 1]))


def _amaranth_call(ctx, dut):
    async def run(cmd):
        return await call(ctx, dut, cmd)
    return run


@pytest.mark.parametrize("sizes, activation, multipliers, dt, pipeline", [
    ((3, 4, 2), "leaky_relu:3", (2, 3), 0.5, 0),
    ((3, 4, 2), "relu", (1, 1), 1.0, 0),
    ((2, 3, 3, 2), "hardtanh", (6, 9, 6), 0.25, 0),   # fully parallel
    ((4, 2), "identity", (3,), 1.0, 0),
    ((3, 4, 2), "leaky_relu:3", (2, 3), 0.5, 1),      # products registered
    ((2, 3, 3, 2), "hardtanh", (6, 9, 6), 0.25, 1),
    ((3, 4, 2), "relu", (4, 4), 1.0, 1),              # two row tiles: one gap slot
    ((3, 4, 2), "relu", (4, 4), 1.0, 2),              # operands registered too
    ((2, 3, 3, 2), "hardtanh", (6, 9, 6), 0.25, 2),
])
def test_relaxation_every_tick_matches_golden(sizes, activation, multipliers, dt, pipeline):
    rng, _, cfg, _ = _case(sizes, activation, multipliers, seed=len(sizes) + int(4 * dt),
                           pipeline=pipeline)

    async def bench(ctx, dut, cmds):
        await scenarios.relaxation(_amaranth_call(ctx, dut), cfg, rng, dt=dt,
                                   ticks=2 * cfg.L + 1)

    _run(cfg, bench)


@pytest.mark.parametrize("sizes, activation, multipliers, batch, update, pipeline", [
    ((3, 4, 2), "leaky_relu:2", (2, 3), 5, True, 0),
    ((2, 2, 1), "hardtanh", (2, 2), 4, True, 0),
    ((2, 3, 3, 2), "relu", (1, 4, 6), 3, False, 0),
    ((3, 5, 2), "identity", (15, 10), 1, True, 0),
    ((3, 4, 2), "leaky_relu:2", (2, 3), 5, True, 1),
    ((2, 2, 1), "hardtanh", (2, 2), 4, True, 1),
    ((2, 3, 3, 2), "relu", (1, 4, 6), 3, True, 1),
    ((2, 3, 3, 2), "relu", (1, 4, 6), 1, True, 1),    # B < L: a tick with no pass at all
    ((3, 4, 2), "leaky_relu:2", (2, 3), 5, True, 2),   # operands registered too
    ((2, 2, 1), "hardtanh", (4, 2), 4, True, 2),
    ((3, 4, 2), "relu", ((4, 1), (1, 2)), 3, True, 2),  # tilings given as [rows, cols]
])
def test_streaming_batch_matches_golden(sizes, activation, multipliers, batch, update, pipeline):
    rng, _, cfg, _ = _case(sizes, activation, multipliers, seed=batch, pipeline=pipeline)

    async def bench(ctx, dut, cmds):
        await scenarios.streaming(_amaranth_call(ctx, dut), cfg, rng, batch=batch,
                                  update=update, batches=2)

    _run(cfg, bench)


@pytest.mark.parametrize("sizes, activation, multipliers, batch, pipeline", [
    ((3, 4, 2), "leaky_relu:2", (2, 3), 5, 1),        # tiled: padding lanes updated too
    ((2, 2, 1), "hardtanh", (4, 2), 4, 0),            # fully parallel
    ((2, 3, 3, 2), "relu", (1, 4, 6), 2, 1),
    # operands registered: the lane and bias selects take two cycles, over 2 groups of 8
    ((3, 10, 2), "leaky_relu:2", ((5, 3), (2, 5)), 3, 2),
])
def test_serial_weight_update_matches_golden(sizes, activation, multipliers, batch, pipeline):
    """One SGD unit per cell (``serial_update``): the same bits as a unit per multiplier,
    and the longer ticks of the cycle model."""
    rng, _, cfg, _ = _case(sizes, activation, multipliers, seed=batch + 20, pipeline=pipeline,
                           serial_update=True)

    async def bench(ctx, dut, cmds):
        await scenarios.streaming(_amaranth_call(ctx, dut), cfg, rng, batch=batch,
                                  update=True, batches=2)

    _run(cfg, bench)


@pytest.mark.parametrize("serial_update, pipeline, sizes, multipliers", [
    (False, 0, (3, 3, 2), (3, 2)), (True, 0, (3, 3, 2), (3, 2)), (False, 1, (3, 3, 2), (3, 2)),
    (True, 2, (3, 3, 2), (3, 2)),
    # 24 lanes in cell 1: with pipeline 2 its flags are counted in registered groups of 16
    (True, 2, (6, 4, 2), (24, 8))])
def test_overflows_saturate_and_are_counted_like_the_golden_model(serial_update, pipeline, sizes,
                                                                  multipliers):
    # Large weights and inputs: pre-activations, errors, sensitivities, gradients and the
    # update all clamp; the counters must equal the golden model's, value for value.
    n0, n1, n2 = sizes
    rng = np.random.default_rng(5)
    net = Network([rng.choice([-7.5, 7.5], (n1, n0)), rng.choice([-7.5, 7.5], (n2, n1))],
                  [np.full(n1, 7.0), np.full(n2, -7.0)], parse_activations("identity", 2))
    cfg = DyadicConfig(sizes, net.activations, multipliers=multipliers, grad_bits=30,
                       serial_update=serial_update, pipeline=pipeline)
    ar = FixedArith(cfg)
    P = ar.params(net)
    X = ar.encode_x(rng.choice([-7.9, 7.9], (4, n0)))
    Y = ar.encode_y(rng.choice([-7.9, 7.9], (4, n2)))
    res = stream_batch(ar, P, X, Y, lr=1.0)
    assert all(ar.counters.counts[k] > 0 for k in ("h", "err", "lam", "grad", "weight"))

    async def bench(ctx, dut, cmds):
        await _load(ctx, dut, cmds, P)
        await call(ctx, dut, cmds.write_samples(X, Y))
        await call(ctx, dut, cmds.stream(4, True, 0))
        cnt = await call(ctx, dut, cmds.read_counters())
        for kind in ar.counters.KINDS:
            assert cnt[f"sat_{kind}"] == ar.counters.counts[kind], kind
        for l in (1, 2):
            W, b = await call(ctx, dut, cmds.read_params(l))
            assert np.array_equal(W, res.params[0][l - 1])

    _run(cfg, bench)


async def _raw(ctx, dut, words):
    """Send raw command words; the response header's fields (data words are drained)."""
    for w in words:
        await stream_put(ctx, dut.i_cmd, w)
    rsp = unpack(ResponseHeader, await stream_get(ctx, dut.o_rsp))
    for _ in range(rsp["length"]):
        await stream_get(ctx, dut.o_rsp)
    return rsp


def _words(opcode, *args, layer=0):
    return [pack(CommandHeader, opcode=opcode, layer=layer, length=len(args)), *args]


def test_bad_commands_get_an_error_and_change_nothing():
    rng, net, cfg, ar = _case((3, 4, 2), "relu", (2, 2), seed=9)
    P = ar.params(net)

    async def bench(ctx, dut, cmds):
        await _load(ctx, dut, cmds, P)
        X, Y = scenarios.random_samples(cfg, ar, rng, 3)
        await call(ctx, dut, cmds.write_samples(X, Y))
        flags = pack(StreamFlags, update=1, lr_shift=3)
        cases = [
            ([pack(CommandHeader, opcode=Opcode.READ_PARAMS, layer=3)], Status.BAD_LAYER),
            (_words(Opcode.WRITE_PARAMS, 0, layer=1), Status.BAD_LENGTH),
            (_words(Opcode.WRITE_PARAMS, 15, 6, 7, layer=1), Status.BAD_ARGUMENT),  # 15, 16
            (_words(Opcode.READ_GRADS, 0, 11, layer=2), Status.BAD_ARGUMENT),   # 10 elements
            (_words(Opcode.READ_STATE, 0, 0, layer=2), Status.BAD_ARGUMENT),
            (_words(Opcode.STREAM, 0, 9, flags), Status.BAD_BATCH),             # max_batch 8
            (_words(Opcode.STREAM, 0, 0, flags), Status.BAD_BATCH),
            (_words(Opcode.STREAM, 1, 3, flags), Status.NOT_RESIDENT),          # 3 resident
            (_words(Opcode.STREAM, 0, 2, 1 << 13), Status.BAD_ARGUMENT),         # lr 2^-32
            (_words(Opcode.STREAM, 0, 3), Status.BAD_LENGTH),
            (_words(Opcode.RELAX, 0, 1, 99), Status.BAD_ARGUMENT),               # dt shift
            (_words(Opcode.RELAX, 3, 1, 0), Status.NOT_RESIDENT),
            (_words(Opcode.EVALUATE, 2, 2), Status.NOT_RESIDENT),
            (_words(Opcode.EVALUATE, 0, 0), Status.BAD_ARGUMENT),
            (_words(Opcode.READ_SAMPLES, 0, 4), Status.NOT_RESIDENT),
            (_words(Opcode.WRITE_SAMPLES, 1, 0), Status.BAD_LENGTH),
        ]
        for words, want in cases:
            assert (await _raw(ctx, dut, words))["status"] == want, (words, want)
        # an unknown opcode with a payload: drained, answered, and the link stays in sync
        for w in [0xEE | (3 << 16), 1, 2, 3]:
            await stream_put(ctx, dut.i_cmd, w)
        assert (await stream_get(ctx, dut.o_rsp)) & 0xFF00 == Status.BAD_OPCODE.value << 8
        for l in (1, 2):
            W, b = await call(ctx, dut, cmds.read_params(l))
            assert np.array_equal(W, P[0][l - 1]) and np.array_equal(b, P[1][l - 1])
        Xr, Yr = await call(ctx, dut, cmds.read_samples(0, 3))
        assert np.array_equal(Xr, X) and np.array_equal(Yr, Y)
        ident = await call(ctx, dut, cmds.identify())
        cmds.check_identity(ident)
        assert ident["max_samples"] == cfg.samples
        with pytest.raises(DeviceError, match="BAD_BATCH"):
            await call(ctx, dut, cmds.stream(0))

    _run(cfg, bench)


@pytest.mark.parametrize("targets", ["vector", "label"])
def test_refused_sample_and_epoch_commands_change_nothing(targets):
    """Each refusal the resident set can meet, named by its status; afterwards the
    weights and the resident set are as they were."""
    sizes = (3, 4, 3)
    rng = np.random.default_rng(21)
    net = Network.random(sizes, parse_activations("relu", 2), rng, bias_scale=0.3)
    cfg = DyadicConfig(sizes, net.activations, multipliers=(2, 3), max_batch=4,
                       max_samples=6, targets=targets)
    ar = FixedArith(cfg)
    P = ar.params(net)
    cmds = CoreCommands(cfg)

    async def bench(ctx, dut, _):
        async def status(cmd):
            return (await _raw(ctx, dut, cmd.words))["status"]

        await _load(ctx, dut, cmds, P)
        X, Y = scenarios.random_samples(cfg, ar, rng, 6)
        plan = [(1, 0)]
        # nothing resident yet: no run can take a sample
        assert await status(cmds.train(0, 1, 1, 3, plan)) == Status.NOT_RESIDENT
        assert await status(cmds.evaluate(0, 1)) == Status.NOT_RESIDENT
        assert await status(cmds.stream(1, True, 3)) == Status.NOT_RESIDENT
        assert await status(cmds.relax(1, 0)) == Status.NOT_RESIDENT
        assert await status(cmds.write_samples(X[:2], Y[:2], first=1)) == Status.NOT_RESIDENT
        await call(ctx, dut, cmds.write_samples(X[:4], Y[:4]))
        refused = [
            (cmds.write_samples(X[:3], Y[:3], first=4), Status.NO_ROOM),    # 7 > 6
            (cmds.write_samples(X[:2, :2], Y[:2]), Status.BAD_SHAPE),       # 2 inputs
            (cmds.write_samples(X[:2], Y[:2, :2]), Status.BAD_SHAPE),       # 2 outputs
            (cmds.train(0, 5, 2, 3, plan), Status.NOT_RESIDENT),            # 4 resident
            (cmds.train(2, 2, 3, 3, plan), Status.BAD_BATCH),               # batch > set
            (cmds.train(0, 4, 5, 3, plan), Status.BAD_BATCH),               # > max_batch
            (cmds.train(0, 4, 2, 3, [(1, 0), (4, 0)]), Status.BAD_ARGUMENT),  # stride 4
            (cmds.train(0, 4, 2, 3, [(1, 4)]), Status.BAD_ARGUMENT),        # offset 4
            (cmds.train(0, 4, 2, 3, []), Status.BAD_ARGUMENT),              # no epoch
            (cmds.evaluate(3, 2), Status.NOT_RESIDENT),
            (cmds.read_samples(4, 1), Status.NOT_RESIDENT),
        ]
        for cmd, want in refused:
            assert await status(cmd) == want, (cmd.opcode, want)
        for l in (1, 2):
            W, b = await call(ctx, dut, cmds.read_params(l))
            assert np.array_equal(W, P[0][l - 1]) and np.array_equal(b, P[1][l - 1])
        Xr, Yr = await call(ctx, dut, cmds.read_samples(0, 4))
        assert np.array_equal(Xr, X[:4])
        assert np.array_equal(Yr, classes(cfg, Y[:4]) if targets == "label" else Y[:4])
        # the set grows without gaps, and any part of it can be rewritten
        await call(ctx, dut, cmds.write_samples(X[4:], Y[4:], first=4))
        await call(ctx, dut, cmds.write_samples(X[:1], Y[:1], first=2))
        Xr, _ = await call(ctx, dut, cmds.read_samples(0, 6))
        assert np.array_equal(Xr, np.concatenate([X[:2], X[:1], X[3:]]))

    _run(cfg, bench)


@pytest.mark.parametrize("bits, frac, targets, pipeline", [
    (8, 5, "label", 2), (12, 8, "vector", 0), (16, 12, "label", 1), (18, 14, "vector", 0)])
def test_samples_travel_packed_at_the_format_width(bits, frac, targets, pipeline):
    """Each value is ceil(bits / 8) bytes on the wire (an 8-bit one is one byte), the
    samples follow each other across word boundaries, and they read back as written."""
    from firmware_py.contract.fixedpoint import QFormat
    q = QFormat(bits, frac)
    sizes = (5, 3, 3)
    cfg = DyadicConfig(sizes, parse_activations("relu", 2), act=q, weight=q, sens=q,
                       weight_guard=4, grad_bits=max(2 * frac + 2, 16), max_batch=4,
                       max_samples=9, targets=targets, pipeline=pipeline)
    ar = FixedArith(cfg)
    rng = np.random.default_rng(bits)
    X, Y = scenarios.random_samples(cfg, ar, rng, 9)
    X[0] = q.min          # the extremes of the format
    X[1] = q.max
    cmds = CoreCommands(cfg)
    cmd = cmds.write_samples(X[:7], Y[:7])
    assert len(cmd.words) == 4 + -(-7 * (5 + cfg.target_lanes) * ((bits + 7) // 8) // 4)

    async def bench(ctx, dut, _):
        await call(ctx, dut, cmd)
        await call(ctx, dut, cmds.write_samples(X[7:], Y[7:], first=7))
        for first, n in ((0, 9), (3, 1), (2, 5)):
            Xr, Tr = await call(ctx, dut, cmds.read_samples(first, n))
            assert np.array_equal(Xr, X[first:first + n])
            want = Y[first:first + n]
            assert np.array_equal(Tr, classes(cfg, want) if targets == "label" else want)

    _run(cfg, bench)


@pytest.mark.parametrize("sizes, multipliers, pipeline, targets", [
    ((3, 4, 3), (2, 3), 0, "vector"),
    ((3, 4, 3), (2, 3), 1, "label"),
    ((3, 4, 3), (4, 4), 2, "label"),
    ((2, 3, 1), (6, 3), 2, "label"),       # one output: a class above one half
    ((4, 2), (8,), 0, "vector"),            # one layer
    ((2, 3, 3, 2), (6, 9, 6), 1, "vector"),
])
def test_evaluation_counts_match_the_golden_model(sizes, multipliers, pipeline, targets):
    """EVALUATE: correct predictions and the summed squared error, bit for bit, and the
    cycles of the model (the evaluator's walk lengthens short ticks)."""
    cfg = DyadicConfig(sizes, parse_activations("relu", len(sizes) - 1),
                       multipliers=multipliers, max_batch=4, max_samples=11,
                       pipeline=pipeline, targets=targets)
    rng = np.random.default_rng(len(sizes) + pipeline)

    async def bench(ctx, dut, _):
        run = _amaranth_call(ctx, dut)
        await scenarios.evaluation(run, cfg, rng, count=9, first=2)
        await scenarios.evaluation(run, cfg, rng, count=1, scale=4.0)   # outputs that clamp

    _run(cfg, bench)


@pytest.mark.parametrize("sizes, multipliers, pipeline, serial, targets, count, batch", [
    ((3, 4, 2), (2, 3), 0, False, "vector", 10, 4),
    ((3, 4, 2), (2, 3), 1, True, "label", 7, 3),
    ((3, 4, 2), (4, 4), 2, False, "label", 10, 4),
    ((3, 4, 2), ((4, 1), (1, 2)), 2, True, "vector", 9, 4),
    ((2, 3, 3, 2), (1, 4, 6), 1, False, "vector", 5, 5),    # one batch an epoch
    ((2, 3, 1), (6, 3), 2, True, "label", 8, 1),            # batches of one
])
def test_epochs_on_chip_match_the_golden_model(sizes, multipliers, pipeline, serial, targets,
                                               count, batch):
    """TRAIN: whole epochs on chip in the order of their plan, batches back to back;
    the weights after one epoch and after several in one command are the golden
    model's, and so are the saturation counts and the cycles."""
    cfg = DyadicConfig(sizes, parse_activations("leaky_relu:2", len(sizes) - 1),
                       multipliers=multipliers, max_batch=5, max_samples=12,
                       pipeline=pipeline, serial_update=serial, targets=targets)
    rng = np.random.default_rng(count + batch + pipeline)

    async def bench(ctx, dut, _):
        await scenarios.epochs(_amaranth_call(ctx, dut), cfg, rng, count=count, batch=batch,
                               epochs=3)

    _run(cfg, bench)


def test_18_bit_formats_for_ecp5_multipliers():
    from firmware_py.contract.fixedpoint import QFormat
    cfg = DyadicConfig((3, 4, 2), parse_activations("leaky_relu:3", 2), multipliers=(3, 2),
                       act=QFormat(18, 14), weight=QFormat(18, 12), sens=QFormat(18, 14),
                       grad_bits=32, weight_guard=8, max_batch=4)
    rng = np.random.default_rng(11)

    async def bench(ctx, dut, cmds):
        run = _amaranth_call(ctx, dut)
        await scenarios.streaming(run, cfg, rng, batch=4, update=True, scale=3.0)
        await scenarios.relaxation(run, cfg, rng, dt=0.5, ticks=3, scale=3.0)

    _run(cfg, bench)


@pytest.mark.parametrize("serial_update", [False, True])
def test_8_bit_formats_and_counters_that_wrap(serial_update):
    """The iCE40 build's shape: 8-bit operands, 16-bit gradients, 8-bit counters here,
    so that a 64-sample batch wraps them (the check compares modulo 2^counter_bits)."""
    from firmware_py.contract.cycles import stream_cycles
    from firmware_py.contract.fixedpoint import QFormat
    q = QFormat(8, 5)
    cfg = DyadicConfig((2, 3, 1), parse_activations("hardtanh", 2), multipliers=(2, 3),
                       act=q, weight=q, sens=q, weight_guard=4, grad_bits=16, counter_bits=8,
                       max_batch=64, pipeline=1, serial_update=serial_update)
    assert stream_cycles(cfg, 64, True).cycles > 255
    rng = np.random.default_rng(13)

    async def bench(ctx, dut, cmds):
        run = _amaranth_call(ctx, dut)
        await scenarios.streaming(run, cfg, rng, batch=64, update=True)
        # a learning-rate shift past 8: the SGD shifter's two pipelined halves both shift
        await scenarios.streaming(run, cfg, rng, batch=8, update=True, lr_shift=10, scale=3.0)
        await scenarios.relaxation(run, cfg, rng, dt=0.5, ticks=2)

    _run(cfg, bench)


@pytest.mark.parametrize("pipeline", [0, 2])   # with 2, writes and reads are registered
def test_partial_transfers_address_a_window_of_elements(pipeline):
    rng, net, cfg, ar = _case((3, 4, 2), "relu", (2, 3), seed=4, pipeline=pipeline)
    P = ar.params(net)

    async def bench(ctx, dut, cmds):
        await _load(ctx, dut, cmds, P)
        flat = np.concatenate([P[0][0].ravel(), P[1][0]])     # 12 weights then 4 biases
        new = rng.integers(-1000, 1000, 5)
        await call(ctx, dut, cmds.write_values(Opcode.WRITE_PARAMS, 1, 10, new))
        flat[10:15] = new
        got = await call(ctx, dut, cmds.read_values(Opcode.READ_PARAMS, 1, 7, 9))
        assert np.array_equal(got, flat[7:16])
        # a reader slower than the cell: the last word waits on its way out
        got = await call(ctx, dut, cmds.read_values(Opcode.READ_PARAMS, 1, 2, 6), stall=9)
        assert np.array_equal(got, flat[2:8])
        W, b = await call(ctx, dut, cmds.read_params(1))
        assert np.array_equal(np.concatenate([W.ravel(), b]), flat)
        W2, _ = await call(ctx, dut, cmds.read_params(2))     # other layer untouched
        assert np.array_equal(W2, P[0][1])

    _run(cfg, bench)


def test_a_core_built_small_refuses_what_it_leaves_out():
    """``trainer`` false: TRAIN and EVALUATE are refused (BAD_OPCODE), the rest works;
    ``fractional_dt`` false: a relaxation at dt < 1 is refused, at dt = 1 it is exact."""
    cfg = DyadicConfig((3, 4, 2), parse_activations("hardtanh", 2), multipliers=(2, 3),
                       max_batch=4, max_samples=8, pipeline=1, serial_update=True,
                       fractional_dt=False, trainer=False, targets="label")
    rng = np.random.default_rng(31)

    async def bench(ctx, dut, cmds):
        run = _amaranth_call(ctx, dut)
        await scenarios.refused_commands(run, cfg)
        assert (await _raw(ctx, dut, cmds.relax(1, 1).words))["status"] == Status.BAD_ARGUMENT
        await scenarios.relaxation(run, cfg, rng, dt=1.0, ticks=2 * cfg.L + 1)
        await scenarios.streaming(run, cfg, rng, batch=4, update=True, batches=2)

    _run(cfg, bench)
