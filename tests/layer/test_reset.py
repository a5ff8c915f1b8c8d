"""The domain reset reaches control state only (hdl/layer/__init__.py): a lean core with
more neurons, on the same lanes, puts no more flip-flops on the reset net."""

import dataclasses
import json
import subprocess

from amaranth.back import rtlil
from test_lane_arithmetic import LEAN_CFG

from boards.build import tool_paths
from hdl.core import DyadicCore


def _reset_bits(tmp_path, sizes):
    """Flip-flop bits whose synchronous reset is the domain's, after yosys's proc."""
    cfg = dataclasses.replace(LEAN_CFG, sizes=sizes, multipliers=[[3, 3], [2, 3]],
                              max_batch=6, max_samples=16, targets="label")
    (tmp_path / "m.il").write_text(rtlil.convert(DyadicCore(cfg)))
    proc = subprocess.run([tool_paths("ecp5")["YOSYS"], "-q", "-p",
                           "read_rtlil m.il; hierarchy -top top; proc; flatten; opt_clean; "
                           "opt_dff -nodffe; write_json m.json"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    top = json.loads((tmp_path / "m.json").read_text())["modules"]["top"]
    rst = top["ports"]["rst"]["bits"]
    return sum(len(c["connections"]["Q"]) for c in top["cells"].values()
               if c["type"].startswith("$sdff") and c["connections"].get("SRST") == rst)


def test_more_neurons_put_no_more_flip_flops_on_the_reset(tmp_path):
    # 12 more hidden neurons: their s, lam, next values, stash entries and picks are data
    # (about 50 flip-flops a neuron on the reset before); only the tile indices and their
    # delayed copies widen, a bit or two each
    small, large = _reset_bits(tmp_path, (9, 6, 4)), _reset_bits(tmp_path, (9, 18, 4))
    assert large - small < 4 * 12, (small, large)
