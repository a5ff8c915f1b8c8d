"""Probe: a board's design synthesised and placed, not routed, for nextpnr's timing estimate
after placement in about half a build's time (an 85F build spends as long again routing, or
longer when it is congested). nextpnr reports critical paths only after routing.

    python -m boards.probes.place BOARD [--config C] [--clock MHZ]

The flow is the board build's (``boards.build``: top level, synthesis script, options);
nextpnr stops after placement (``--no-route``), so nothing here is a bitstream and no
board report is written. Its files go to ``build/probes/place/<board>/``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from boards import ROOT, BoardError, check_fits, get_board
from boards.build import BuildError, default_flow, plan_design, tool_paths
from boards.pll import PLLError
from firmware_py.contract.config import ConfigError, DyadicConfig


def placement_options(family: str, config: DyadicConfig) -> str:
    """The board build's placer, without routing."""
    placer, _ = default_flow(family, config)
    return "--timing-allow-fail --no-route --report report.json" + (
        f" --placer {placer}" if placer else "")


def place(board_name: str, config_path: str | None, clock: float | None,
          out_root: Path) -> int:
    board = get_board(board_name)
    config = DyadicConfig.load(config_path or board.config)
    check_fits(board, config)
    clock = clock or board.clock_mhz
    design = plan_design(board, config, clock,
                         nextpnr_opts=placement_options(board.family, config))
    work = out_root / board.name
    shutil.rmtree(work, ignore_errors=True)
    design.plan.extract(work)
    script = (work / "build_top.sh").read_text().splitlines()
    # the flow up to and including place and route; no packing (nothing is routed)
    keep = [ln for ln in script if "PACK" not in ln and "OPENFPGALOADER" not in ln]
    (work / "place.sh").write_text("\n".join(keep) + "\n")
    env = dict(os.environ, **tool_paths(board.family))
    t0 = time.monotonic()
    print(f"{board.name}: {config_path or board.config} placing at {clock} MHz in {work} ...",
          flush=True)
    proc = subprocess.run(["sh", "place.sh"], cwd=work, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], file=sys.stderr)
        print(f"error: placement failed (logs in {work})", file=sys.stderr)
        return 1
    report = json.loads((work / "report.json").read_text())
    for line in (work / "top.tim").read_text().splitlines():
        if "Max frequency" in line:
            print(line.removeprefix("Info: ").strip())
    used = {k: f"{v['used']}/{v['available']}" for k, v in report["utilization"].items()
            if v["used"]}
    print(f"resources: {used}; {time.monotonic() - t0:.0f} s")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m boards.probes.place", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("board")
    p.add_argument("--config", help="accelerator configuration JSON (default: the board's)")
    p.add_argument("--clock", type=float, help="clock to request from the PLL, MHz")
    p.add_argument("--out", default=str(ROOT / "build" / "probes" / "place"))
    args = p.parse_args(argv)
    try:
        return place(args.board, args.config, args.clock, Path(args.out))
    except (BoardError, BuildError, ConfigError, PLLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
