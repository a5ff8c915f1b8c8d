"""The framed link: CRC agreement, malformed frames, fuzzing, a faulty transport, the UART."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import FRAME_CRC, CommandHeader, LinkStatus, Opcode, unpack
from firmware_py.device.commands import CoreCommands
from firmware_py.device.driver import Accelerator, LinkError
from firmware_py.device.framing import ResponseParser, crc16, encode_command
from firmware_py.device.transport import FaultyTransport, SimTransport
from firmware_py.model.arith import FixedArith
from firmware_py.model.dynamics import stream_batch
from firmware_py.model.network import Network
from hdl.top import DyadicLink, DyadicUART
from sim.amaranth_tb import stream_put

CFG = DyadicConfig.load("configs/tiny.json")


def _params(seed=0):
    rng = np.random.default_rng(seed)
    net = Network.random(CFG.sizes, CFG.activations, rng, bias_scale=0.3)
    ar = FixedArith(CFG)
    return ar, ar.params(net), rng


def _frame(cmd, seq):
    h = unpack(CommandHeader, cmd.words[0])
    return encode_command(seq, h["opcode"], h["layer"], cmd.words[1:])


def test_gateware_and_host_compute_one_crc():
    """FRAME_CRC in the gateware (``create()``) and on the host (``compute()``) agree on
    random frames, and a frame followed by its CRC (high byte first) leaves the residue
    the framer checks for."""
    dut = FRAME_CRC.create()
    r = random.Random(1)
    frames = [r.randbytes(r.randrange(1, 300)) for _ in range(20)]

    async def bench(ctx):
        for data in frames:
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.valid, 1)
            for b in data:
                ctx.set(dut.data, b)
                await ctx.tick()
            assert ctx.get(dut.crc) == crc16(data)
            for b in crc16(data).to_bytes(2, "big"):
                ctx.set(dut.data, b)
                await ctx.tick()
            assert ctx.get(dut.match_detected)
            ctx.set(dut.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_malformed_frames_are_naked_or_dropped_and_change_nothing():
    ar, P, rng = _params()
    cmds = CoreCommands(CFG)
    dut = DyadicLink(CFG, timeout=64)

    parser = ResponseParser()
    finished = False

    async def collect(ctx):
        # the host side of a UART never holds the device back
        ctx.set(dut.o_tx.ready, 1)
        while not finished:
            _, _, valid, payload = await ctx.tick().sample(dut.o_tx.valid, dut.o_tx.payload)
            if valid:
                parser.feed(bytes([payload]))

    async def bench(ctx):
        async def send(data):
            for b in data:
                await stream_put(ctx, dut.i_rx, b)

        async def response():
            while (r := parser.next()) is None:
                await ctx.tick()
            return r

        async def xfer(data):
            await send(data)
            return await response()

        seq = 0

        async def ok(cmd):
            nonlocal seq
            r = await xfer(_frame(cmd, seq))
            assert r.status == LinkStatus.ACK.value, r
            seq += 1
            return cmd.decode(r.data)

        assert (await xfer(encode_command(255, Opcode.RESET, 0, []))).status == 0
        for l in (1, 2):
            await ok(cmds.write_params(l, P[0][l - 1], P[1][l - 1]))

        write = _frame(cmds.write_values(Opcode.WRITE_PARAMS, 1, 0, [1, 2, 3]), seq)

        def damaged(s):
            f = bytearray(_frame(cmds.write_values(Opcode.WRITE_PARAMS, 1, 0, [1, 2, 3]), s))
            f[9] ^= 0x40
            return bytes(f)

        cases = [   # (name, frame for sequence number s, expected status)
            ("bad CRC", damaged, LinkStatus.BAD_CRC),
            ("over-long", lambda s: encode_command(s, Opcode.WRITE_PARAMS, 1,
                                                   [0] * (CFG.frame_words + 1)),
             LinkStatus.TOO_LONG),
            ("unknown opcode", lambda s: encode_command(s, 0x77, 0, [1, 2]),
             LinkStatus.BAD_OPCODE),
            ("wrong sequence number",
             lambda s: _frame(cmds.write_params(1, P[0][0] + 1, P[1][0]), s + 5),
             LinkStatus.BAD_SEQ),
            ("out-of-range layer", lambda s: encode_command(s, Opcode.READ_PARAMS, 3, [0, 1]),
             LinkStatus.BAD_LAYER),
            ("out-of-range address",
             lambda s: _frame(cmds.write_values(Opcode.WRITE_PARAMS, 2, 9, [5, 5, 5]), s),
             LinkStatus.BAD_ARGUMENT),
        ]
        for name, make, want in cases:
            r = await xfer(make(seq))
            assert r.status == want.value, name
            await ctx.tick().repeat(100)   # the rest of a refused frame times out
            if want.value < 0x10:      # executed by the core (as an error): the number is used
                seq += 1
        # a repeated frame is recognised and not executed again
        last = _frame(cmds.read_counters(), seq)
        await xfer(last)
        assert (await xfer(last)).status == LinkStatus.DUPLICATE.value
        seq += 1
        # garbage between frames, a truncated frame, and a frame cut short by a host reset:
        # dropped after the inter-byte timeout, then the link answers the next frame
        await send(bytes([0x00, 0x13, 0xFF, 0x5A]))
        await send(write[:7])
        await ctx.tick().repeat(80)
        await send(write[:3])
        await ctx.tick().repeat(80)
        for l in (1, 2):
            W, b = await ok(cmds.read_params(l))
            assert np.array_equal(W, P[0][l - 1]) and np.array_equal(b, P[1][l - 1])
        nonlocal finished
        finished = True

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(collect)
    sim.add_testbench(bench)
    sim.run()


@pytest.fixture(scope="module")
def sim_transport():
    t = SimTransport(CFG)
    yield t
    t.close()


def test_fuzzed_frames_leave_the_weights_alone(sim_transport):
    ar, P, rng = _params(1)
    acc = Accelerator(sim_transport, CFG, timeout=1.0)
    acc.load_network(P)
    cmds = CoreCommands(CFG)
    r = random.Random(2026)
    valid = [_frame(cmds.write_params(1, P[0][0] * 0 + 7, P[1][0]), s) for s in range(4)]
    valid += [_frame(cmds.read_params(2), s) for s in range(4)]
    valid += [_frame(cmds.stream(3, True, 1), s) for s in range(4)]
    n = 3000
    for _ in range(n):
        kind = r.random()
        if kind < 0.2:                                      # noise
            data = r.randbytes(r.randrange(1, 40))
        else:                                               # a real frame, damaged
            data = bytearray(r.choice(valid))
            for _ in range(r.randrange(1, 4)):
                op = r.random()
                pos = r.randrange(len(data))
                if op < 0.5:
                    data[pos] ^= 1 << r.randrange(8)
                elif op < 0.7:
                    del data[pos:]
                elif op < 0.85:
                    data.insert(pos, r.randrange(256))
                else:
                    del data[pos]
                if not data:
                    data = bytearray([0xA5])
            if bytes(data) in valid:
                continue
        sim_transport.write(bytes(data))
        sim_transport.read(0)                               # keep the pipe drained
    # After enough idle cycles any partial frame times out; then the driver resynchronises.
    acc2 = Accelerator(sim_transport, CFG, timeout=1.0, retries=5)
    Ws, bs = acc2.read_network()
    for l in range(CFG.L):
        assert np.array_equal(Ws[l], P[0][l]) and np.array_equal(bs[l], P[1][l])


def test_driver_survives_a_lossy_transport_then_reports_a_spent_budget(sim_transport):
    ar, P, rng = _params(2)
    lossy = FaultyTransport(sim_transport, drop=0.002, corrupt=0.002, seed=5)
    acc = Accelerator(lossy, CFG, timeout=0.3, retries=10)
    acc.load_network(P)
    X = ar.encode_x(rng.uniform(-1, 1, (6, 3)))
    Y = ar.encode_y(rng.uniform(-1, 1, (6, 2)))
    for _ in range(3):
        acc.write_samples(X, Y)
        acc.stream(6, True, 3)
        P = stream_batch(ar, P, X, Y, lr=2.0 ** -3).params
        Ws, bs = acc.read_network()
        assert all(np.array_equal(a, b) for a, b in zip(Ws + bs, P[0] + P[1]))
    assert acc.stats["retries"] > 0
    broken = Accelerator(sim_transport, CFG, timeout=0.3)
    broken.transport = FaultyTransport(sim_transport, drop=0.5, seed=6)
    with pytest.raises(LinkError, match="no valid response after 4 attempts"):
        broken.read_params(1)


def test_configuration_mismatch_is_named(sim_transport):
    other = DyadicConfig((3, 5, 2), CFG.activations, multipliers=(2, 3), max_batch=8)
    with pytest.raises(ValueError,
                       match=r"configuration mismatch: device has ID \S+ \(sizes 3-4-2\)"):
        Accelerator(sim_transport, other, timeout=1.0)


def test_commands_through_the_real_uart():
    divider = 4
    dut = DyadicUART(CFG, divider)
    cmds = CoreCommands(CFG)
    _, P, _ = _params(3)

    async def bench(ctx):
        async def send_byte(b):
            for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                ctx.set(dut.rx, bit)
                await ctx.tick().repeat(divider)

        async def recv_byte():
            await ctx.tick().until(~dut.tx)                  # start bit
            await ctx.tick().repeat(divider // 2)
            v = 0
            for i in range(8):
                await ctx.tick().repeat(divider)
                v |= ctx.get(dut.tx) << i
            await ctx.tick().repeat(divider)                  # stop bit
            return v

        async def xfer(frame):
            for b in frame:
                await send_byte(b)
            parser = ResponseParser()
            while (r := parser.next()) is None:
                parser.feed(bytes([await recv_byte()]))
            return r

        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(10)
        assert (await xfer(encode_command(255, Opcode.RESET, 0, []))).status == 0
        r = await xfer(_frame(cmds.identify(), 0))
        ident = cmds.identify().decode(r.data)
        cmds.check_identity(ident)
        assert (await xfer(_frame(cmds.write_params(2, P[0][1], P[1][1]), 1))).status == 0
        r = await xfer(_frame(cmds.read_params(2), 2))
        W, b = cmds.read_params(2).decode(r.data)
        assert np.array_equal(W, P[0][1]) and np.array_equal(b, P[1][1])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_epochs_on_the_device_are_bit_identical_after_every_epoch():
    """The resident set loaded once; every epoch's weights (read back here, which
    training does not do) and every evaluation equal the fixed-point golden model's, and
    so does ``train`` with a device, metrics and final weights."""
    from firmware_py.device.training import train_on_device
    from firmware_py.model.datasets import load_dataset
    from firmware_py.model.training import epoch_indices, epoch_order, eval_counts, train

    data = load_dataset("moons")
    data.x_train, data.y_train = data.x_train[:40], data.y_train[:40]
    data.x_test, data.y_test = data.x_test[:12], data.y_test[:12]
    cfg = DyadicConfig((2, 6, 2), ("relu", "identity"), multipliers=(4, 6), max_batch=8,
                       max_samples=64, targets="label")
    net = Network.random(cfg.sizes, cfg.activations, np.random.default_rng(0))
    ar = FixedArith(cfg)
    P = ar.params(net)
    X, Y = ar.encode_x(data.x_train), ar.encode_y(data.y_train)
    rng = np.random.default_rng(1)
    golden = train(FixedArith(cfg), net, data, epochs=2, batch=8, lr=2.0 ** -5, seed=1)
    with SimTransport(cfg) as t:
        acc = Accelerator(t, cfg)
        acc.load_network(P)
        acc.write_samples(X, Y)
        for _ in range(2):
            order = epoch_order(rng, len(X))
            acc.train(0, len(X), 8, 5, [order])
            idx = epoch_indices(len(X), *order)
            for i in range(0, len(X), 8):
                P = stream_batch(ar, P, X[idx[i:i + 8]], Y[idx[i:i + 8]], lr=2.0 ** -5).params
            Ws, bs = acc.read_network()
            assert all(np.array_equal(a, b) for a, b in zip(Ws + bs, P[0] + P[1]))
            assert acc.evaluate(0, len(X)) == eval_counts(ar, P, X, Y)
        res = train_on_device(acc, FixedArith(cfg), net, data, epochs=2, batch=8,
                              lr=2.0 ** -5, seed=1)
    assert all(np.array_equal(a, b) for a, b in
               zip(res.params[0] + res.params[1], golden.params[0] + golden.params[1]))
    for d, g in zip(res.history, golden.history):
        assert {k: d[k] for k in g} == g
        assert d["device_cycles"] > 0 and 0 < d["round_trips"] <= 6 and d["link_bytes"] < 200
    assert res.link["bytes"] > 52 * cfg.record_bytes        # the load: 52 packed samples
    assert res.final["test_accuracy"] > 0.5


def test_a_load_hit_by_link_errors_is_retried_and_arrives_whole(sim_transport):
    """Damaged and lost bytes in both directions: the driver retries, and the resident
    set is what was sent, byte for byte."""
    ar, P, rng = _params(7)
    X = ar.encode_x(rng.uniform(-1, 1, (CFG.samples, 3)))
    Y = ar.encode_y(rng.uniform(-1, 1, (CFG.samples, 2)))
    lossy = FaultyTransport(sim_transport, drop=0.0005, corrupt=0.0005, seed=11)
    acc = Accelerator(lossy, CFG, timeout=0.3, retries=20)
    acc.write_samples(X[:40], Y[:40])
    acc.write_samples(X[40:], Y[40:], first=40)
    acc.write_samples(X[5:9] * 0, Y[5:9], first=5)          # a rewrite, in the middle
    X[5:9] = 0
    assert acc.stats["retries"] > 0
    clean = Accelerator(sim_transport, CFG, timeout=1.0)
    Xr, Yr = clean.read_samples(0, CFG.samples)
    assert np.array_equal(Xr, X) and np.array_equal(Yr, Y)


@pytest.mark.parametrize("pipeline", [0, 1])   # 1: a register stage between framer and core
def test_the_same_driver_on_the_amaranth_simulator(pipeline):
    from dataclasses import replace

    from firmware_py.device.transport import AmaranthTransport

    ar, P, rng = _params(4)
    cfg = replace(CFG, pipeline=pipeline)
    acc = Accelerator(AmaranthTransport(cfg), cfg, timeout=30.0)
    acc.load_network(P)
    X = ar.encode_x(rng.uniform(-1, 1, (3, 3)))
    Y = ar.encode_y(rng.uniform(-1, 1, (3, 2)))
    acc.write_samples(X, Y)
    acc.stream(3, True, 2)
    P = stream_batch(ar, P, X, Y, lr=2.0 ** -2).params
    Ws, bs = acc.read_network()
    assert all(np.array_equal(a, b) for a, b in zip(Ws + bs, P[0] + P[1]))


def test_a_short_run_through_the_board_uart_at_its_rate(board="icebreaker"):
    """The driver over the board's UART (``DyadicUART``, what ``BoardTop`` puts behind its
    PLL) at its bridge's rate, 3 Mbaud: 8 clocks a bit at 24 MHz, bit by bit in
    simulation: load, one epoch on chip, evaluate. (The ULX3S's 25 clocks a bit are the
    same gateware, three times slower to simulate; test_boards checks every divider.)"""
    from boards import get_board
    from firmware_py.device.transport import AmaranthTransport
    from firmware_py.model.training import epoch_indices, epoch_order, eval_counts
    from hdl.uart import uart_divider

    b = get_board(board)
    divider = uart_divider(b.clock_hz(), b.baud)
    assert divider == 8
    ar, P, rng = _params(12)
    X = ar.encode_x(rng.uniform(-1, 1, (6, 3)))
    Y = ar.encode_y(rng.uniform(-1, 1, (6, 2)))
    acc = Accelerator(AmaranthTransport(CFG, uart_divider=divider), CFG, timeout=60.0)
    acc.load_network(P)
    acc.write_samples(X, Y)
    order = epoch_order(rng, 6)
    acc.train(0, 6, 4, 3, [order])
    idx = epoch_indices(6, *order)
    for i in (0, 4):
        P = stream_batch(ar, P, X[idx[i:i + 4]], Y[idx[i:i + 4]], lr=2.0 ** -3).params
    assert acc.evaluate(0, 6) == eval_counts(ar, P, X, Y)


def test_training_on_a_device_without_trainer_sends_each_batch():
    """The iCEBreaker's kind of device (no TRAIN or EVALUATE): ``train`` sends each batch
    and evaluates on the host, and still ends with the golden model's weights."""
    from firmware_py.device.training import train_on_device
    from firmware_py.device.transport import AmaranthTransport
    from firmware_py.model.datasets import load_dataset
    from firmware_py.model.training import train

    data = load_dataset("xor")
    cfg = DyadicConfig((2, 2, 1), ("hardtanh", "identity"), multipliers=(4, 2), max_batch=4,
                       pipeline=1, serial_update=True, fractional_dt=False, trainer=False,
                       targets="label")
    net = Network.random(cfg.sizes, cfg.activations, np.random.default_rng(3))
    golden = train(FixedArith(cfg), net, data, epochs=3, batch=2, lr=2.0 ** -3, seed=4)
    acc = Accelerator(AmaranthTransport(cfg), cfg, timeout=60.0)
    res = train_on_device(acc, FixedArith(cfg), net, data, epochs=3, batch=2, lr=2.0 ** -3,
                          seed=4)
    assert all(np.array_equal(a, b) for a, b in
               zip(res.params[0] + res.params[1], golden.params[0] + golden.params[1]))
    for d, g in zip(res.history, golden.history):
        assert {k: d[k] for k in g} == g and d["round_trips"] == 2 * 2 + 2 + 1


def test_an_accelerator_that_cannot_open_closes_its_transport():
    """``Accelerator.open`` owns the pipe: a device that never answers leaves nothing
    open (no simulator process, no serial port) behind its error."""
    from firmware_py.device.driver import LinkError
    from firmware_py.device.transport import Transport

    class Silent(Transport):
        closed = False

        def write(self, data):
            pass

        def read(self, timeout):
            return b""

        def close(self):
            self.closed = True

    pipe = Silent()
    with pytest.raises(LinkError):
        Accelerator.open(pipe, CFG, timeout=0.01, retries=1)
    assert pipe.closed
