"""Write the Verilog of a configuration: ``python -m hdl.verilog CONFIG.json OUT.v``."""

import argparse
import hashlib
import sys
from pathlib import Path

from amaranth.back import verilog

from firmware_py.contract.config import ConfigError, DyadicConfig

from .core import DyadicCore

__all__ = ["generate", "cached_verilog", "design_key", "FamilyPlatform"]

TOP = "dyadic_core"


class FamilyPlatform:
    """Stands in for a board's platform where the gateware asks only for its FPGA family
    (``hdl/multiplier.py``, ``hdl/cell.py``): the ECP5 netlist can then be simulated."""

    def __init__(self, family: str):
        self.family = family


def generate(config: DyadicConfig, family: str | None = None) -> str:
    platform = FamilyPlatform(family) if family else None
    return verilog.convert(DyadicCore(config), name=TOP, platform=platform, emit_src=False)


def design_key(config: DyadicConfig, *extra: str) -> str:
    """Names a build: the configuration, the gateware sources and anything else it uses."""
    # the gateware, and the contract it is built from (configuration, protocol, cycles)
    here = Path(__file__).parent
    contract = here.parent / "firmware_py" / "contract"
    files = sorted(here.rglob("*.py")) + sorted(contract.glob("*.py"))
    src = "".join(p.read_text() for p in files)
    return hashlib.sha256("".join((config.to_json(), src) + extra).encode()).hexdigest()[:16]


def cached_verilog(config: DyadicConfig, build_dir="build/verilog",
                   family: str | None = None) -> Path:
    """Verilog for ``config`` (as built for ``family``, if given) under a name derived from
    the design, generated once."""
    key = design_key(config, *([family] if family else []))
    path = Path(build_dir) / f"{TOP}_{key}.v"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(generate(config, family))
        tmp.replace(path)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m hdl.verilog", description=__doc__)
    p.add_argument("config", help="configuration JSON (see configs/)")
    p.add_argument("out", help="Verilog file to write")
    args = p.parse_args(argv)
    try:
        config = DyadicConfig.load(args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(generate(config))
    t = [config.tiling(l) for l in range(1, config.L + 1)]
    print(f"wrote {args.out}: {'-'.join(map(str, config.sizes))}, multipliers "
          f"{'+'.join(str(x.multipliers) for x in t)}, config ID {config.config_id:#010x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
