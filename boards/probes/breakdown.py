"""Probe: where a design's logic goes: synthesis alone, the hierarchy kept, one row per
component.

``python -m boards.probes.breakdown BOARD [--config C] [--depth N]`` (``make breakdown``) runs
yosys on the board's design as ``make bitstream`` plans it, but with ``-noflatten`` and
without place and route (a minute or two where a build takes up to half an hour), and
prints each component's LUTs, flip-flops, carries and hard blocks, its submodules
included. It writes ``build/probes/breakdown/<board>/breakdown.json``.

The counts are synthesis's, before packing: an iCE40 logic cell holds a LUT and a
flip-flop, an ECP5 slice two of each, so a board's logic in nextpnr's report is between
the LUT count and LUTs plus flip-flops. Components synthesised apart are not optimised
across their boundaries (registers that carry the same value in two of them are not
merged, for one), so the total comes out above a flattened build's: about 10 % in LUTs
and 13 % in flip-flops for digits on the iCE40. ``--flat`` synthesises the design
flattened as well, as the build does, and prints its totals; on an iCE40 it also packs
that netlist into logic cells (``nextpnr-ice40 --pack-only``), the count the device's
5,280 limits. A flip-flop shares a cell with a LUT only when the LUT feeds it alone, so a
pipeline register costs a cell of its own: the cells run well above the LUTs. On an
iCE40 the hierarchical LUTs are mapped by ``abc`` rather than ``abc9``, whose
reintegration fails on large designs kept hierarchical (yosys 0.70).
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from boards import ROOT, BoardError, get_board
from boards.build import (
    SCRIPT_AFTER_READ,
    SYNTH_OPTS,
    BuildError,
    parse_nextpnr_report,
    plan_design,
    tool_paths,
)
from boards.pll import PLLError
from firmware_py.contract.config import ConfigError, DyadicConfig

__all__ = ["KINDS", "breakdown", "kind_of", "rows", "format_rows"]

# cell types -> what they are, per family (a flip-flop type is any of its variants)
KINDS = {
    "lut": ("SB_LUT4", "LUT4", "LUT3", "LUT2", "LUT1"),
    "ff": ("SB_DFF", "TRELLIS_FF", "DFF"),
    "carry": ("SB_CARRY", "CCU2C", "ALU"),
    "dsp": ("SB_MAC16", "MULT18X18D", "MULT18X18", "MULT9X9", "MULTALU18X18",
            "MULTADDALU18X18", "ALU54D"),
    "bram": ("SB_RAM40_4K", "DP16KD", "SDPB", "DPB", "DPX9B", "SDPX9B", "SP", "SPX9"),
    "spram": ("SB_SPRAM256KA",),
    "lutram": ("TRELLIS_DPR16X4", "RAM16SDP4", "RAM16SDP2", "RAM16SDP1"),
}
COLUMNS = ("lut", "ff", "carry", "dsp", "bram", "spram", "lutram")

# the flow's own LUT mapping, run by hand on an iCE40 (see the module's docstring)
_ICE40_MAP = """synth_ice40 {opts} -top top -noflatten -run begin:map_luts
techmap -map +/ice40/latches_map.v
abc -lut 4
ice40_wrapcarry -unwrap
techmap -map +/ice40/ff_map.v
clean
opt_lut -tech ice40
synth_ice40 {opts} -top top -noflatten -run map_cells:"""
_SYNTH = {"ice40": _ICE40_MAP,
          "ecp5": "synth_ecp5 {opts} -top top -noflatten",
          "gowin": "synth_gowin {opts} -top top -noflatten -family gw2a"}


def kind_of(cell_type: str) -> str | None:
    for kind, types in KINDS.items():
        if cell_type in types or kind == "ff" and cell_type.startswith(types):
            return kind
    return None


def _name(module: str) -> str:
    """A module's path without yosys's escape and Amaranth's ``$n`` suffixes."""
    return re.sub(r"\$\d+", "", module.lstrip("\\"))


def rows(stat: dict, depth: int) -> list[dict]:
    """Per component down to ``depth`` levels below the top, its submodules included, in
    hierarchy order; from ``stat -json``'s per-module cell counts."""
    own = {}
    for module, s in stat["modules"].items():
        counts = dict.fromkeys(COLUMNS, 0)
        for cell_type, n in s.get("num_cells_by_type", {}).items():
            kind = kind_of(cell_type)
            if kind in counts:
                counts[kind] += n
        own[_name(module)] = counts
    out = []
    for name in sorted(own, key=lambda n: n.split(".")):
        level = name.count(".")
        if level > depth:
            continue
        total = dict.fromkeys(COLUMNS, 0)
        for other, counts in own.items():
            if other == name or other.startswith(name + "."):
                for k in COLUMNS:
                    total[k] += counts[k]
        out.append({"component": name, "level": level, **total})
    return out


def format_rows(table: list[dict]) -> str:
    used = [k for k in COLUMNS if any(r[k] for r in table)]
    width = max(len("  " * r["level"] + r["component"].rsplit(".", 1)[-1]) for r in table)
    lines = [f"{'component':{width}s} " + " ".join(f"{k:>6s}" for k in used)]
    for r in table:
        label = "  " * r["level"] + r["component"].rsplit(".", 1)[-1]
        lines.append(f"{label:{width}s} " + " ".join(f"{r[k]:6d}" for k in used))
    return "\n".join(lines)


def _yosys(board, env, work: Path, name: str, synth: str, log) -> dict:
    """Run ``synth`` on the planned netlist in ``work`` as ``name``.ys; its ``stat -json``."""
    script = "\n".join(["read_rtlil top.il", SCRIPT_AFTER_READ[board.family], synth,
                        f"tee -q -o {name}.stat.json stat -json", ""])
    (work / f"{name}.ys").write_text(script)
    t0 = time.monotonic()
    with open(work / f"{name}.out", "w") as out, \
            subprocess.Popen([env["YOSYS"], "-q", "-l", f"{name}.log", f"{name}.ys"], cwd=work,
                             stdout=out, stderr=subprocess.STDOUT) as proc:
        while proc.poll() is None:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log(f"  ... synthesis ({time.monotonic() - t0:.0f} s)")
    if proc.returncode != 0:
        tail = "\n".join((work / f"{name}.out").read_text().splitlines()[-5:])
        raise BuildError(f"yosys failed on {board.name} (log in {work}):\n{tail}")
    return json.loads((work / f"{name}.stat.json").read_text())


def flat_totals(stat: dict) -> dict:
    """The whole flattened design's counts, by kind."""
    counts = dict.fromkeys(COLUMNS, 0)
    for cell_type, n in stat["design"].get("num_cells_by_type", {}).items():
        kind = kind_of(cell_type)
        if kind:
            counts[kind] += n
    return counts


def _pack(board, design, env, work: Path, log) -> dict:
    """The flattened netlist ``flat.json`` packed by nextpnr-ice40, placed nowhere."""
    platform = design.platform
    (work / "top.pcf").write_text(design.plan.files["top.pcf"])
    # (the device option as Amaranth's own iCE40 build script writes it)
    args = [env["NEXTPNR_ICE40"], "--quiet", "--pack-only",
            platform._nextpnr_device_options[platform.device],
            "--package", platform.package.lower(), "--json", "flat.json", "--pcf", "top.pcf",
            "--report", "pack.json", "--log", "pack.log"]
    log(f"{board.name}: packing it into logic cells (nextpnr --pack-only)")
    done = subprocess.run(args, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"nextpnr failed to pack {board.name} (log in {work / 'pack.log'})")
    report = json.loads((work / "pack.json").read_text())
    return parse_nextpnr_report(report, "ice40")["resources"]


def breakdown(board, config: DyadicConfig, config_name: str, depth: int = 5,
              out_root: Path = ROOT / "build" / "probes" / "breakdown", log=print,
              flat: bool = False) -> dict:
    """Synthesise ``config`` for ``board`` with its hierarchy kept (and with ``flat``,
    flattened too); the table and where the files went."""
    design = plan_design(board, config)
    env = tool_paths(board.family)
    work = Path(out_root) / board.name
    work.mkdir(parents=True, exist_ok=True)
    (work / "top.il").write_text(design.plan.files["top.il"])
    log(f"{board.name}: synthesising {config_name} with its hierarchy kept "
        f"(yosys log: {work / 'breakdown.log'})")
    t0 = time.monotonic()
    opts = SYNTH_OPTS[board.family]
    stat = _yosys(board, env, work, "breakdown", _SYNTH[board.family].format(opts=opts), log)
    result = {"board": board.name, "family": board.family, "config": config_name,
              "rows": rows(stat, depth)}
    if flat:
        log(f"{board.name}: and flattened, as the build synthesises it")
        synth = _SYNTH[board.family].format(opts=opts).replace(" -noflatten", "")
        if board.family == "ice40":         # (the build's own mapping, abc9 included)
            synth = f"synth_ice40 {opts} -top top\nwrite_json flat.json"
        result["flat"] = flat_totals(_yosys(board, env, work, "flat", synth, log))
        if board.family == "ice40":
            result["packed"] = _pack(board, design, env, work, log)
    result["seconds"] = round(time.monotonic() - t0, 1)
    (work / "breakdown.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m boards.probes.breakdown", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("board", help="board name (see boards/catalog.py)")
    p.add_argument("--config", help="accelerator configuration JSON (default: the board's)")
    p.add_argument("--depth", type=int, default=5,
                   help="levels of the hierarchy to list (default 5: the core's parts and "
                   "each cell's)")
    p.add_argument("--flat", action="store_true",
                   help="also synthesise the design flattened, as the build does, and print "
                   "its totals (on an iCE40, its logic cells after packing too)")
    p.add_argument("--out", default=str(ROOT / "build" / "probes" / "breakdown"))
    args = p.parse_args(argv)
    try:
        board = get_board(args.board)
        config_path = args.config or board.config
        config = DyadicConfig.load(config_path)
        result = breakdown(board, config, str(config_path), args.depth, Path(args.out),
                           flat=args.flat)
    except (BoardError, ConfigError, BuildError, PLLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_rows(result["rows"]))
    if "flat" in result:
        print("flattened: " + ", ".join(f"{n} {k}" for k, n in result["flat"].items() if n))
    if "packed" in result:
        print("packed: " + ", ".join(f"{v['used']}/{v['available']} {k}"
                                     for k, v in result["packed"].items()))
    print(f"({result['seconds']} s; {Path(args.out) / board.name / 'breakdown.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
