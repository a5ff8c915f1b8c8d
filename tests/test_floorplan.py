"""The lean lanes' floorplan on the 85F (boards/floorplan.py): every lane on its own
multiplier site, a row of lanes on one DSP row, each block RAM lane's words in the EBR row
beside it, and the names it pins are the netlist's."""

import re
from collections import Counter

import pytest

from boards import ROOT, get_board
from boards.build import after_synth
from boards.floorplan import DIES, floorplan, lane_cells, yosys_commands
from firmware_py.contract.config import DyadicConfig
from firmware_py.model.network import parse_activations
from sim.runner import LEAN_FORMATS

LEAN_85F = DyadicConfig.load(ROOT / "configs" / "digits-lean-ecp5.json")


def _xy(site):
    x, y = re.match(r"X(\d+)/Y(\d+)/", site).groups()
    return int(x), int(y)


LEAN_45F = DyadicConfig.load(ROOT / "configs" / "experiments" / "digits-lean-ecp5-45f.json")


@pytest.mark.parametrize("config, device, lanes, rams", [
    (LEAN_85F, "LFE5U-85F", 151, 121), (LEAN_45F, "LFE5U-45F", 69, 69)])
def test_every_lane_has_its_own_sites_close_together(config, device, lanes, rams):
    plan = floorplan(config, device)
    assert len(set(plan.values())) == len(plan)                    # no site twice
    die = DIES[device]
    for l in (1, 2):
        t = config.tiling(l)
        for a in range(t.rows):
            sites = [_xy(plan[lane_cells(l, a, b)[0]]) for b in range(t.cols)]
            assert len({y for _, y in sites}) == 1 and sites[0][1] in die.dsp_rows
            assert max(x for x, _ in sites) - min(x for x, _ in sites) <= 3 * t.cols
            for b, (x, y) in enumerate(sites):
                ram = plan.get(lane_cells(l, a, b)[1])
                assert (ram is not None) == (t.tiles > 16)          # LUT RAM up to 16 words
                if ram:
                    rx, ry = _xy(ram)
                    assert ry in die.ebr_rows and abs(ry - y) == 12 and abs(rx - x) <= 12
    kinds = Counter(site.rsplit("/", 1)[1][:3] for site in plan.values())
    assert kinds == {"MUL": lanes, "EBR": rams}


def test_no_floorplan_for_classic_cells_or_an_unmapped_die():
    classic = DyadicConfig.load(ROOT / "configs/experiments/digits8-ecp5.json")
    assert floorplan(classic, "LFE5U-85F") == {}
    assert floorplan(LEAN_85F, "LFE5U-25F") == {}
    assert after_synth(get_board("icebreaker"), None, LEAN_85F) == ""


def test_the_pinned_names_are_the_board_netlists():
    """The lanes' multipliers sit where ``lane_cells`` says in the board's top level (the
    block RAM's ``.0.0`` is yosys's; the build asserts each name once before pinning it)."""
    from amaranth.back import rtlil

    from boards.top import BoardTop
    b = get_board("ulx3s-85f")
    platform = b.platform()
    cfg = DyadicConfig((3, 4, 2), parse_activations("relu,identity", 2),
                       multipliers=((2, 2), (2, 3)), max_batch=4, pipeline=2, **LEAN_FORMATS)
    top = BoardTop(b.family, cfg, b.clock_mhz, platform.default_clk_frequency, b.baud)
    il = rtlil.convert(top, platform=platform)
    modules = set(re.findall(r"^module \\(\S+)", il, re.M))
    for l in (1, 2):
        t = cfg.tiling(l)
        for a in range(t.rows):
            for b_ in range(t.cols):
                mult, ram = lane_cells(l, a, b_)
                assert "top." + mult.rsplit(".", 1)[0] in modules
                assert "top." + ram.rsplit(".", 3)[0] in modules
    commands = yosys_commands({"a.b": "X4/Y10/MULT18_0"}).splitlines()
    assert commands == ["select -assert-count 1 top/a.b",
                        'setattr -set BEL "X4/Y10/MULT18_0" top/a.b']
