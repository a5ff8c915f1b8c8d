"""The whole core on lean cells (``cell: "lean"``) in the Amaranth simulator, against the
fixed-point golden model and the cycle model: relaxation, streaming batches with the
update, TRAIN epochs, EVALUATE and host windows, each bit for bit and cycle for cycle."""

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator
from test_lane_arithmetic import LEAN_CFG

from firmware_py.contract.config import ConfigError, DyadicConfig
from firmware_py.contract.cycles import stream_cycles
from firmware_py.contract.protocol import Opcode
from firmware_py.contract.retiming import Retiming
from firmware_py.device.commands import CoreCommands
from firmware_py.model.arith import FixedArith
from firmware_py.model.network import parse_activations
from hdl.core import DyadicCore
from hdl.layer.lane import Lane
from hdl.layer.stash import CodeRing
from hdl.layer.state_banks import StateBanks
from sim import scenarios
from sim.amaranth_tb import call
from sim.runner import ICE40_FORMATS, ROOT


def _config(sizes, multipliers, **kw):
    """The lean digits formats on a small network; label targets as the boards store them."""
    return dataclasses.replace(LEAN_CFG, sizes=sizes, multipliers=multipliers,
                               activations=parse_activations("leaky_relu:2", len(sizes) - 1),
                               max_batch=6, max_samples=12, targets="label", **kw)


# the iCE40's G and master weight (an 11-bit master weight, a 13-bit G)
ICE40_WIDTHS = {k: ICE40_FORMATS[k] for k in ("weight_guard", "grad_bits")}
_LANES = []       # every lane the test elaborates
_MEMORIES = []    # and every state bank and code ring: their collisions are undefined too


@pytest.fixture(autouse=True)
def _watch_lanes(monkeypatch):
    for cls, seen in ((Lane, _LANES), (StateBanks, _MEMORIES), (CodeRing, _MEMORIES)):
        def record(self, *args, _init=cls.__init__, _seen=seen, **kwargs):
            _init(self, *args, **kwargs)
            _seen.append(self)

        seen.clear()
        monkeypatch.setattr(cls, "__init__", record)


def _run(cfg, bench):
    dut = DyadicCore(cfg)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        await bench(lambda cmd: call(ctx, dut, cmd))

    async def no_collisions(ctx):
        # the board build declares a read of a word in its write's cycle undefined
        # (boards/build.py): the cycle contract must never make one
        watched = [part.collision for part in _LANES + _MEMORIES]
        async for _, _, *hits in ctx.tick().sample(*watched):
            assert not any(hits), "a lane or a bank read a word in the cycle it was written"

    sim.add_testbench(testbench)
    sim.add_process(no_collisions)
    sim.run()
    assert _LANES


@pytest.mark.parametrize("sizes, multipliers, pipeline, retiming, formats", [
    # the 85F's core around the cells (every tick condition and the commit registered), and
    # trees registered by their depth: the two cells' register counts differ
    ((5, 4, 3), [[2, 3], [3, 2]], 2, Retiming(tree_levels=1), {}),
    # a combinational core, a cell with more register stages, three layers, and column
    # trees and a lam link long enough to decide when an adjoint tick may end
    ((4, 5, 3, 2), [[2, 2], [3, 4], [2, 3]], 0, Retiming(address=1, tree=2, product=2,
                                                               column_tree=2, link=2), {}),
    # the iCE40's formats (an 11-bit master weight, a 13-bit G: 13-bit lane operands) on
    # its tiling's shape
    ((5, 4, 3), [[3, 2], [2, 1]], 2, Retiming(), ICE40_WIDTHS),
    # and cell 1 reading its inputs from the sample memory's words (an odd input count: the
    # bias shares the last word's tile)
    ((5, 4, 3), [[3, 2], [2, 1]], 2, ICE40_FORMATS["retiming"],
     dict(ICE40_WIDTHS, cell=ICE40_FORMATS["cell"], fractional_dt=False)),
    # and three layers: cell 2 keeps its state in block RAM too, and reads cell 1's two
    # tiles a word (4 row lanes below, 2 column lanes), cell 3 cell 2's one
    ((5, 6, 4, 3), [[4, 2], [2, 2], [3, 2]], 2, ICE40_FORMATS["retiming"],
     dict(ICE40_WIDTHS, cell=ICE40_FORMATS["cell"], fractional_dt=False)),
], ids=["registered", "combinational", "ice40-formats", "lean-bram", "lean-bram-3"])
def test_a_lean_core_relaxes_streams_and_trains_like_the_golden_model(sizes, multipliers,
                                                                      pipeline, retiming,
                                                                      formats):
    cfg = _config(sizes, multipliers, pipeline=pipeline, retiming=retiming, **formats)
    rng = np.random.default_rng(len(sizes) + pipeline)

    async def bench(run):
        await scenarios.relaxation(run, cfg, rng, dt=0.5 if cfg.fractional_dt else 1.0,
                                   ticks=2 * cfg.L + 1)
        # (a second batch, from the first's weights, only on the two-layer cases: on the
        # deeper ones it checks nothing new and costs most of their time)
        await scenarios.streaming(run, cfg, rng, batch=5, update=True,
                                  batches=2 if cfg.L == 2 else 1)
        await scenarios.streaming(run, cfg, rng, batch=1, update=True)
        if cfg.L == 2:      # the trainer and the evaluator over lean cells: one case is enough
            await scenarios.epochs(run, cfg, rng, count=9, batch=4, epochs=2)
            await scenarios.evaluation(run, cfg, rng, count=7, first=2)
        # the host reads the resident set back: from the words and the labels alike
        cmds = CoreCommands(cfg)
        X, Y = scenarios.random_samples(cfg, FixedArith(cfg), rng, 4)
        await run(cmds.write_samples(X, Y, first=5))
        Xr, labels = await run(cmds.read_samples(5, 4))
        assert np.array_equal(Xr, X) and np.array_equal(labels, np.argmax(Y, axis=1))

    _run(cfg, bench)
    assert {lane.operand_bits for lane in _LANES} == {13 if formats else 18}


def test_a_lean_core_without_state_access_trains_and_refuses_the_rest():
    """The iCE40 digits surface (``state_access``, ``saturation_counters`` and ``trainer``
    false): batches stream bit for bit, the commands it leaves out are refused by the host
    and by the device, and its saturation counters read 0."""
    cfg = _config((5, 4, 3), [[3, 2], [2, 1]], pipeline=1, retiming=ICE40_FORMATS["retiming"],
                  **dict(ICE40_WIDTHS, cell=ICE40_FORMATS["cell"], fractional_dt=False,
                         trainer=False, state_access=False, saturation_counters=False))
    rng = np.random.default_rng(11)

    cmds = CoreCommands(cfg)

    async def bench(run):
        # (a full batch: without RELAX the run control counts ticks only that far)
        await scenarios.streaming(run, cfg, rng, batch=cfg.max_batch, update=True, batches=2)
        await scenarios.refused_commands(run, cfg)
        # windows through walks that keep no word register (``host_walk.ParamsOnly``)
        for l in (1, 2):
            W, b = await run(cmds.read_params(l))
            flat = np.concatenate([W.ravel(), b])
            new = rng.integers(cfg.master.min, cfg.master.max + 1, 6)
            await run(cmds.write_values(Opcode.WRITE_PARAMS, l, 4, new))
            flat[4:10] = new
            assert np.array_equal(await run(cmds.read_values(Opcode.READ_PARAMS, l, 2, 11)),
                                  flat[2:13])

    _run(cfg, bench)


def test_host_windows_and_saturation_on_a_lean_core():
    """A window inside W|b reads and writes exactly its elements; with large weights and
    inputs h, the error, lam and W saturate (G at its 18 bits: tests/layer/
    test_lane_arithmetic.py), and the counters equal the golden model's."""
    cfg = _config((3, 4, 2), [[2, 2], [2, 3]], pipeline=2)
    rng = np.random.default_rng(7)
    cmds = CoreCommands(cfg)

    async def bench(run):
        ar, P = scenarios.random_params(cfg, rng)
        for l in (1, 2):
            await run(cmds.write_params(l, P[0][l - 1], P[1][l - 1]))
        flat = np.concatenate([P[0][0].ravel(), P[1][0]])     # 12 weights, then 4 biases
        new = rng.integers(cfg.master.min, cfg.master.max + 1, 5)
        await run(cmds.write_values(Opcode.WRITE_PARAMS, 1, 10, new))
        flat[10:15] = new
        assert np.array_equal(await run(cmds.read_values(Opcode.READ_PARAMS, 1, 7, 9)),
                              flat[7:16])
        W2, b2 = await run(cmds.read_params(2))
        assert np.array_equal(W2, P[0][1]) and np.array_equal(b2, P[1][1])
        await scenarios.streaming(run, cfg, rng, batch=4, update=True, lr_shift=0, scale=6.0)
        cnt = await run(cmds.read_counters())      # (the batch's, checked against the model)
        assert all(cnt[f"sat_{k}"] > 0 for k in ("h", "err", "lam", "weight"))

    _run(cfg, bench)


def test_a_lean_configuration_refuses_what_the_cell_cannot_build():
    with pytest.raises(ConfigError, match="serial_update is for the classic cell"):
        _config((3, 4, 2), [[2, 2], [2, 3]], serial_update=True)
    with pytest.raises(ConfigError, match="cell must be"):
        _config((3, 4, 2), [[2, 2], [2, 3]], cell="wide")
    with pytest.raises(ConfigError, match="retiming"):
        _config((3, 4, 2), [[2, 2], [2, 3]], retiming={"memory": 0})
    with pytest.raises(ConfigError, match="finish and .state must be >= 1"):
        _config((3, 4, 2), [[2, 2], [2, 3]], retiming={"state": 0})
    # the bias is one more weight column: [rows, cols] may span M + 1 columns
    assert _config((3, 4, 2), [[4, 4], [2, 5]]).tiling(2) == (2, 5, 1, 1)
    with pytest.raises(ConfigError, match="cols 1..5"):
        _config((3, 4, 2), [[4, 4], [2, 6]])
    # a cell 1 reading the sample memory's words: a label to read beside them, and a cycle
    # for the read
    ice = dict(cell="lean-bram", retiming=Retiming(address=1), pipeline=2,
               fractional_dt=False)
    assert _config((3, 4, 2), [[2, 3], [2, 1]], **ice).lean
    with pytest.raises(ConfigError, match="label targets, pipeline >= 1 and a cycle"):
        _config((3, 4, 2), [[2, 3], [2, 1]], **dict(ice, retiming=Retiming()))
    with pytest.raises(ConfigError, match="label targets"):
        dataclasses.replace(_config((3, 4, 2), [[2, 3], [2, 1]], **ice), targets="vector")
    with pytest.raises(ConfigError, match="label targets"):
        _config((3, 4, 2), [[2, 3], [2, 1]], **dict(ice, pipeline=0))
    # and a cell above reads the s below a word of its row lanes at a time, blended with
    # dt = 1 (block RAM holds no old value to blend)
    with pytest.raises(ConfigError, match="fractional_dt false"):
        _config((3, 4, 2), [[2, 3], [2, 1]], **dict(ice, fractional_dt=True))
    with pytest.raises(ConfigError, match="its 3 column lanes must divide 2"):
        _config((3, 4, 2), [[2, 2], [2, 3]], **ice)


def test_the_lean_digits_configuration_meets_the_cycle_targets():
    """configs/digits-lean-ecp5.json, 64-32-10 on 151 lanes: a batch-1 step (forward,
    adjoint, gradient, update) within 120 cycles, batch 256 at >= 90 % (issue 21)."""
    cfg = DyadicConfig.load(ROOT / "configs" / "digits-lean-ecp5.json")
    assert cfg.cell == "lean" and sum(cfg.tiling(l).multipliers for l in (1, 2)) == 151
    assert stream_cycles(cfg, 1).cycles <= 120
    assert stream_cycles(cfg, 256).utilization >= 0.90
