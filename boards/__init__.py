"""The boards dyadic builds for, and what each one holds.

``BOARDS`` (``boards/catalog.py``) maps a name (``make bitstream BOARD=<name>``) to its
``Board`` (``boards/board.py``): the amaranth-boards platform, the default accelerator
configuration, the clock it is timed for and the device's capacity, which is checked
before a configuration is sent to synthesis. A build's report carries a key of what the
tools ran (``build.design_key``), which the bench compares with the tree's.
"""

from firmware_py.contract.config import DyadicConfig

from .board import ROOT, Board, BoardError
from .catalog import BOARDS

__all__ = ["Board", "BOARDS", "BoardError", "ROOT", "get_board", "estimate", "check_fits"]


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
    if board.family == "ice40" and config.lean:
        from hdl.layer.lane import operand_bits
        from hdl.multiplier import ICE40_WIDTH
        if operand_bits(config) > ICE40_WIDTH:
            raise BoardError(
                f"a lean lane of this configuration multiplies {operand_bits(config)}-bit "
                f"operands, but {board.title}'s SB_MAC16 takes {ICE40_WIDTH} (one DSP a "
                f"multiplier): lower grad_bits or weight_guard in the configuration")
    in_bram = need["param_kbit"] + (0 if board.spram_kbit else need["sample_kbit"])
    if in_bram > board.bram_kbit:
        raise BoardError(
            f"configuration needs {in_bram:.0f} kbit of block RAM for weights, gradients"
            f"{'' if board.spram_kbit else ' and samples'} but {board.title} has "
            f"{board.bram_kbit} kbit (lower max_samples in the configuration)")
    if board.spram_kbit and need["sample_kbit"] > board.spram_kbit:
        raise BoardError(f"configuration needs {need['sample_kbit']:.0f} kbit for its samples "
                         f"but {board.title} has {board.spram_kbit} kbit of SPRAM")
