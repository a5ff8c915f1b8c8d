"""The boards dyadic builds for, and what each one holds.

``BOARDS`` (``boards/catalog.py``) maps a name (``make bitstream BOARD=<name>``) to its
``Board`` (``boards/board.py``): the amaranth-boards platform, the default accelerator
configuration, the clock it is timed for and the device's capacity, which is checked
before a configuration is sent to synthesis. A build's report carries a key of what it
read, which the bench compares with the tree.
"""

import hashlib

from firmware_py.contract.config import DyadicConfig

from .board import ROOT, Board, BoardError
from .catalog import BOARDS

__all__ = ["Board", "BOARDS", "BoardError", "ROOT", "get_board", "estimate", "check_fits",
           "build_sources", "sources_key"]


# where the files that can change a bitstream live: the gateware, the contract it shares
# with the host, the board files, and the configurations
SOURCE_DIRS = ("hdl", "firmware_py/contract", "boards", "configs")
# the board table: a build's key takes its own board's record instead
CATALOG = "boards/catalog.py"


def build_sources(modules=None) -> list[str]:
    """The repository files a build has read: every module it imported from ``SOURCE_DIRS``
    (``sys.modules``), relative to the repository. A file nothing imports cannot change the
    bitstream, so adding one does not make earlier builds stale."""
    import sys
    from pathlib import Path
    found = set()
    for m in list((modules if modules is not None else sys.modules).values()):
        f = getattr(m, "__file__", None)
        if not f:
            continue
        rel = Path(f).resolve()
        if ROOT in rel.parents and any(rel.is_relative_to(ROOT / d) for d in SOURCE_DIRS):
            found.add(rel.relative_to(ROOT).as_posix())
    return sorted(found)


def sources_key(files, board: Board | None = None) -> str:
    """Names the tree a bitstream is built from: a hash of the files it was built from
    (paths and contents; a missing file counts as changed). The bench compares it with
    the same files now and flags a report from another tree. Given the ``board``, its
    record stands for the board table: another board's entry cannot change this build."""
    h = hashlib.sha256()
    for name in sorted(files):
        if board is not None and name == CATALOG:
            continue
        p = ROOT / name
        h.update(name.encode() + b"\0")
        h.update(p.read_bytes() if p.is_file() else b"\0missing")
    if board is not None:
        h.update(b"board\0" + repr(board).encode())
    return h.hexdigest()[:16]


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
