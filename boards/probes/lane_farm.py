"""Probe: the lean cells' multiplier lanes of digits 64-32-10 on the ULX3S-85F, without the
rest of the cell (docs/design/lean-cells.md, step 4).

Cell 1's 121 lanes keep their W|G words in block RAM, cell 2's 30 in LUT RAM; each lane
has its operand pick, multiplier, gradient and update units. A counter issues every op
over every tile; row and column operands rotate through register rings; row (and cell 2's
column) sums pass ``AdderTree``s into accumulators. Every result reaches the LED pin, so
nothing is optimised away. The build is the boards' flow (script, options, report):

    python -m boards.probes.lane_farm [--clock 75] [--out build/probes]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from amaranth.hdl import Cat, ClockDomain, Module, Mux, Signal, signed
from amaranth.lib import io, wiring

from boards import ROOT, get_board
from boards.build import (
    SCRIPT_AFTER_READ,
    SYNTH_OPTS,
    nextpnr_options,
    parse_nextpnr_report,
    tool_paths,
)
from boards.top import PLLS
from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import LEAN, Retiming
from hdl.layer.lane import Lane
from hdl.layer.lane_memory import DistributedLaneMemory, LaneMemory
from hdl.layer.tree import AdderTree
from hdl.tile_memory import COPY_ATTR

CONFIG = DyadicConfig.load(ROOT / "configs" / "digits-lean-ecp5.json")      # (its formats)
# (rows, cols, tiles, memory) per cell: [11, 11] over 33 x 66 (3 x 6 tiles), [10, 3] over
# 10 x 33 (1 x 11)
CELLS = ((11, 11, 18, LaneMemory), (10, 3, 11, DistributedLaneMemory))
PRODUCT_BITS = 16       # an 8 x 8 product; the trees add these bits of each lane's p


class LaneFarm(wiring.Component):
    def __init__(self, config=CONFIG, rt: Retiming = LEAN, cells=CELLS):
        self.config, self.rt, self.cells = config, rt, cells
        super().__init__({"seed": wiring.In(1), "out": wiring.Out(1)})

    def elaborate(self, platform):
        m = Module()
        c, rt = self.config, self.rt
        results = []
        for n, (R, C, depth, memory) in enumerate(self.cells):
            count = Signal(range(4 * depth), name=f"count{n}")     # every op, every tile
            m.d.sync += count.eq(Mux(count == 4 * depth - 1, 0, count + 1))
            rows_d = [Signal(signed(c.sens.bits), name=f"d{n}_{a}") for a in range(R)]
            cols_x = [Signal(signed(18), name=f"x{n}_{b}") for b in range(C)]
            m.d.sync += [rows_d[0].eq(Cat(self.seed, rows_d[-1][:-1]))]
            m.d.sync += [rows_d[a].eq(rows_d[a - 1]) for a in range(1, R)]
            m.d.sync += [cols_x[0].eq(Cat(rows_d[-1][-1], cols_x[-1][:-1]))]
            m.d.sync += [cols_x[b].eq(cols_x[b - 1]) for b in range(1, C)]
            lanes = [[None] * C for _ in range(R)]
            for a in range(R):      # a registered copy of the issue per lane row
                op = Signal(2, name=f"op{n}_{a}", attrs={COPY_ATTR: 1})
                addr = Signal(range(depth), name=f"addr{n}_{a}", attrs={COPY_ATTR: 1})
                m.d.sync += [op.eq(count // depth), addr.eq(count % depth)]
                for b in range(C):
                    lane = Lane(c, rt, depth, memory, adjoint=bool(n))
                    m.submodules[f"lane{n}_{a}_{b}"] = lane
                    m.d.comb += [lane.issue.eq(1), lane.op.eq(op), lane.addr.eq(addr),
                                 lane.clear_g.eq(addr == 0), lane.row.eq(rows_d[a]),
                                 lane.col.eq(cols_x[b])]
                    lanes[a][b] = lane
            sums = []
            for a in range(R):
                tree = AdderTree(C, PRODUCT_BITS, rt.tree)
                m.submodules[f"row{n}_{a}"] = tree
                m.d.comb += [tree.inputs[b].eq(lanes[a][b].p[:PRODUCT_BITS]) for b in range(C)]
                sums.append(tree.total)
            if n:       # cell 2's adjoint: column sums
                for b in range(C):
                    tree = AdderTree(R, PRODUCT_BITS, rt.tree)
                    m.submodules[f"col{n}_{b}"] = tree
                    m.d.comb += [tree.inputs[a].eq(lanes[a][b].p[:PRODUCT_BITS])
                                 for a in range(R)]
                    sums.append(tree.total)
            for k, v in enumerate(sums):
                acc = Signal(signed(len(v) + 4), name=f"acc{n}_{k}")
                m.d.sync += acc.eq(acc + v)
                results.append(acc.xor())
            flags = Signal(name=f"flags{n}")
            m.d.sync += flags.eq(Cat(l.g_saturated | l.w_saturated
                                     for row in lanes for l in row).any())
            results.append(flags)
        out = Signal()
        parts = [Signal(name=f"part{k}") for k in range(0, len(results), 16)]
        m.d.sync += [p.eq(Cat(results[16 * k:16 * k + 16]).xor()) for k, p in enumerate(parts)]
        m.d.sync += out.eq(Cat(parts).xor())
        m.d.comb += self.out.eq(out)
        return m


class ProbeTop(wiring.Component):
    def __init__(self, family, clock_mhz, f_in):
        self.pll = PLLS[family](f_in, clock_mhz * 1e6)
        self.f_clk = PLLS[family].solve(f_in, clock_mhz * 1e6).f_out
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        clk_port = platform.request(platform.default_clk, dir="-")
        m.submodules.pll = self.pll
        self.pll.take_clock(m, clk_port)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.submodules.farm = farm = LaneFarm()
        m.d.comb += [farm.seed.eq(rx.i), tx.o.eq(farm.out)]
        return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="ulx3s-85f")
    ap.add_argument("--clock", type=float, default=75.0)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "probes")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    board = get_board(args.board)
    platform = board.platform()
    top = ProbeTop(board.family, args.clock, platform.default_clk_frequency)
    work = args.out / "lane_farm" / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    plan = platform.build(top, name="top", do_build=False, synth_opts=SYNTH_OPTS[board.family],
                          script_after_read=SCRIPT_AFTER_READ[board.family],
                          nextpnr_opts=nextpnr_options(board.family, args.seed, args.clock))
    plan.extract(work)
    print(f"lane farm on {board.name} at {top.f_clk / 1e6:.2f} MHz: building in {work}",
          flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(["sh", "build_top.sh"], cwd=work,
                          env=dict(os.environ, **tool_paths(board.family)),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - t0
    (work / "build.log").write_text(proc.stdout)
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
        sys.exit(f"the lane farm did not build (log: {work / 'build.log'})")
    parsed = parse_nextpnr_report(json.loads((work / "report.json").read_text()),
                                  board.family)
    fmax = min(v["achieved_mhz"] for v in parsed["clocks"].values()
               if abs(v["target_mhz"] - top.f_clk / 1e6) < 0.01)
    report = {"probe": "lane_farm", "board": board.name, "target_mhz": top.f_clk / 1e6,
              "fmax_mhz": fmax, "resources": parsed["resources"],
              "build_seconds": round(seconds, 1),
              "lanes": sum(r * c for r, c, _, _ in CELLS)}
    (args.out / "lane_farm" / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
