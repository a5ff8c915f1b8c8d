"""The boards dyadic builds for, and what each one holds.

``BOARDS`` maps a name (``make bitstream BOARD=<name>``) to its description: the
amaranth-boards platform, the default accelerator configuration (the largest one
measured to fit and meet timing), the clock it is timed for and the device's
capacity, which is checked before a configuration is sent to synthesis.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import DEFAULT_BAUD

__all__ = ["Board", "BOARDS", "BoardError", "get_board", "check_fits", "build_sources",
           "sources_key"]

ROOT = Path(__file__).resolve().parent.parent


# where the files that can change a bitstream live: the gateware, the contract it shares
# with the host, the board files, and the configurations
SOURCE_DIRS = ("hdl", "firmware_py/contract", "boards", "configs")


def build_sources(modules=None) -> list[str]:
    """The repository files a build has read: every module it imported from ``SOURCE_DIRS``
    (``sys.modules``), relative to the repository. A file nothing imports cannot change the
    bitstream, so adding one does not make earlier builds stale."""
    import sys
    found = set()
    for m in list((modules if modules is not None else sys.modules).values()):
        f = getattr(m, "__file__", None)
        if not f:
            continue
        rel = Path(f).resolve()
        if ROOT in rel.parents and any(rel.is_relative_to(ROOT / d) for d in SOURCE_DIRS):
            found.add(rel.relative_to(ROOT).as_posix())
    return sorted(found)


def sources_key(files) -> str:
    """Names the tree a bitstream is built from: a hash of the files it was built from
    (paths and contents; a missing file counts as changed). The bench compares it with
    the same files now and flags a report from another tree."""
    h = hashlib.sha256()
    for name in sorted(files):
        p = ROOT / name
        h.update(name.encode() + b"\0")
        h.update(p.read_bytes() if p.is_file() else b"\0missing")
    return h.hexdigest()[:16]


class BoardError(ValueError):
    pass


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    family: str                 # "ice40", "ecp5" or "gowin"
    platform_class: str         # amaranth_boards module:class
    config: str                 # default configuration, relative to the repository
    clock_mhz: float            # requested PLL output (the timing constraint)
    dsp: int                    # hard multipliers (SB_MAC16 / MULT18X18D / MULT18X18)
    bram_kbit: int              # block RAM, kbit (EBR / DP16KD / BSRAM)
    logic: int                  # LUT4 cells
    spram_kbit: int = 0         # single-port RAM the resident samples go to (iCE40 UP5K)
    baud: int = DEFAULT_BAUD    # the USB-UART bridge's fastest reliable rate
    seed: int = 1               # nextpnr's placement seed for the default build (see below)
    programmers: tuple = field(default=())

    @property
    def bitstream_ext(self) -> str:
        return {"ice40": "bin", "ecp5": "bit", "gowin": "fs"}[self.family]

    def platform(self):
        import importlib
        module, cls = self.platform_class.split(":")
        return getattr(importlib.import_module(module), cls)()

    @property
    def default_config_path(self) -> Path:
        return ROOT / self.config

    def default_config(self) -> DyadicConfig:
        return DyadicConfig.load(self.default_config_path)

    def clock_hz(self, clock_mhz: float | None = None) -> float:
        """The clock its bitstream runs at: the PLL's output for the requested clock."""
        from boards.top import PLLS
        f_in = self.platform().default_clk_frequency
        return PLLS[self.family].solve(f_in, (clock_mhz or self.clock_mhz) * 1e6).f_out


# The bridges' rates (shared/notes/links-and-memories.md): the ULX3S's FT231X runs 3 Mbaud
# (divider 25 at 75 MHz). The iCEBreaker's FT2232H would run 6 Mbaud, but at 24 MHz that
# is 4 clocks a bit, and the receiver's start-bit detection alone costs up to a quarter
# of one: 3 Mbaud (divider 8). The Tang Nano 20K's BL616 runs 3 Mbaud as its sibling's
# BL702 does (divider 9 at 27 MHz), not measured on a 20K here.
# A board's seed is part of its recipe: placement is deterministic for a netlist and a
# seed, and the seeds of one lean 85F netlist spread over 12 MHz (boards/README.md).
_ULX3S = dict(family="ecp5", clock_mhz=75.0, baud=3_000_000,
              programmers=(("openFPGALoader", "--board", "ulx3s", "{bitstream}"),
                           ("fujprog", "{bitstream}")))
BOARDS = {b.name: b for b in [
    Board("icebreaker", "1BitSquared iCEBreaker (iCE40 UP5K)", "ice40",
          "amaranth_boards.icebreaker:ICEBreakerPlatform", "configs/nae3-ice40.json",
          clock_mhz=24.0, dsp=8, bram_kbit=120, logic=5280, spram_kbit=1024, baud=3_000_000,
          programmers=(("iceprog", "{bitstream}"),
                       ("openFPGALoader", "--board", "ice40_generic", "{bitstream}"))),
    Board("ulx3s-12f", "Radiona ULX3S, LFE5U-12F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_12F_Platform", config="configs/xor-pipelined.json",
          dsp=28, bram_kbit=576, logic=12288, **_ULX3S),
    Board("ulx3s-25f", "Radiona ULX3S, LFE5U-25F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_25F_Platform", config="configs/digits8-ecp5-25f.json",
          dsp=28, bram_kbit=1008, logic=24288, **_ULX3S),
    Board("ulx3s-45f", "Radiona ULX3S, LFE5U-45F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_45F_Platform", config="configs/digits8-ecp5-25f.json",
          dsp=72, bram_kbit=1944, logic=43848, **_ULX3S),
    Board("ulx3s-85f", "Radiona ULX3S, LFE5U-85F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_85F_Platform", config="configs/digits-lean-ecp5.json",
          dsp=156, bram_kbit=3744, logic=83640, seed=2, **_ULX3S),
    # no PLL yet: runs from the 27 MHz oscillator
    Board("tangnano20k", "Sipeed Tang Nano 20K (Gowin GW2AR-18)", "gowin",
          "boards.gowin:TangNano20kPlatform", "configs/xor.json", clock_mhz=27.0,
          dsp=48, bram_kbit=828, logic=20736, baud=3_000_000,
          programmers=(("openFPGALoader", "--board", "tangnano20k", "{bitstream}"),)),
]}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r}; valid boards: {', '.join(BOARDS)}") from None


def estimate(config: DyadicConfig) -> dict:
    """Hard-block needs of a configuration, from the cell structure (hdl/cell.py) and the
    sample memory (hdl/sample_memory.py)."""
    mults = sum(config.tiling(l).multipliers for l in range(1, config.L + 1))
    # per cell, W (master) and G lanes are read as one wide word per tile
    bits = sum(config.tiling(l).multipliers * (config.master.bits + config.grad.bits)
               * config.tiling(l).tiles for l in range(1, config.L + 1))
    from hdl.evaluator import error_limit
    from hdl.squarer import TABLE_LIMIT
    # the evaluator's, when it squares on a multiplier (with the trainer only)
    squarer = config.trainer and error_limit(config) > TABLE_LIMIT
    row = (config.sizes[0] + config.target_lanes) * config.act.bits
    return {"multipliers": mults + int(squarer), "param_kbit": bits / 1024,
            "sample_kbit": row * config.samples / 1024}


def check_fits(board: Board, config: DyadicConfig):
    """Refuse a configuration that cannot fit, naming the board's limits."""
    need = estimate(config)
    if need["multipliers"] > board.dsp:
        raise BoardError(
            f"configuration needs {need['multipliers']} multipliers but {board.title} has "
            f"{board.dsp}; limits: {board.dsp} multipliers, {board.bram_kbit} kbit block RAM, "
            f"{board.logic} LUT4s (lower 'multipliers' in the configuration)")
    in_bram = need["param_kbit"] + (0 if board.spram_kbit else need["sample_kbit"])
    if in_bram > board.bram_kbit:
        raise BoardError(
            f"configuration needs {in_bram:.0f} kbit of block RAM for weights, gradients"
            f"{'' if board.spram_kbit else ' and samples'} but {board.title} has "
            f"{board.bram_kbit} kbit (lower max_samples in the configuration)")
    if board.spram_kbit and need["sample_kbit"] > board.spram_kbit:
        raise BoardError(f"configuration needs {need['sample_kbit']:.0f} kbit for its samples "
                         f"but {board.title} has {board.spram_kbit} kbit of SPRAM")
