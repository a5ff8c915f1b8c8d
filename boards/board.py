"""A board: its amaranth-boards platform, its default configuration and recipe (clock,
UART rate, placement seed) and the device's capacity."""

from dataclasses import dataclass, field
from pathlib import Path

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import DEFAULT_BAUD

__all__ = ["Board", "BoardError", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent


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
    seed: int = 1               # nextpnr's placement seed for the default build (catalog.py)
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
