"""The one configuration object shared by the golden model and the gateware.

It fixes everything that changes the bits: layer widths, activations, number
formats and (for the gateware) the multipliers each layer cell owns. Runtime
settings (dt = 2**-k, learning rate 2**-m, batch size) are not part of it.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from .activations import Activation, parse_activation
from .fixedpoint import QFormat
from .retiming import LEAN, Retiming

__all__ = ["DyadicConfig", "ConfigError", "TARGETS", "CELLS", "balanced_multipliers",
           "derived_config"]

TARGETS = ("vector", "label")
CELLS = ("classic", "lean", "lean-bram")
LEAN_OPERAND_BITS = 18      # a lean lane's multiplier operands (an ECP5 MULT18X18D)


class ConfigError(ValueError):
    """The configuration cannot be built in fixed point / hardware."""


class Tiling(NamedTuple):
    """How a layer cell's N x M weight matrix is laid onto its rows x cols multipliers.

    One tile (rows x cols weights) is processed per cycle; a pass over the matrix takes
    ``ti * tj`` cycles.
    """

    rows: int
    cols: int
    ti: int
    tj: int

    @property
    def multipliers(self) -> int:
        return self.rows * self.cols

    @property
    def tiles(self) -> int:
        return self.ti * self.tj


def best_tiling(n_out: int, n_in: int, multipliers: int) -> Tiling:
    """The rows x cols <= multipliers tiling with the fewest tiles (then fewest multipliers)."""
    best = None
    for rows in range(1, min(multipliers, n_out) + 1):
        cols = min(multipliers // rows, n_in)
        t = Tiling(rows, cols, math.ceil(n_out / rows), math.ceil(n_in / cols))
        key = (t.tiles, t.multipliers, -cols)
        if best is None or key < best[0]:
            best = (key, t)
    return best[1]


@dataclass(frozen=True)
class DyadicConfig:
    """Widths, activations and number formats of one accelerator build.

    Formats (defaults suit a 16x16 iCE40 SB_MAC16 and an 18x18 ECP5 MULT18X18D):

    - ``act``: activations s, inputs x, targets y and pre-activations h (Q4.12).
    - ``weight``: the multiplier operand of W and b (Q4.12).
    - ``weight_guard``: extra fraction bits of the stored master weight; the
      operand is the master with these bits dropped (floor), so updates smaller
      than one operand LSB still accumulate.
    - ``sens``: sensitivities lambda and local errors d (Q4.12).
    - ``grad_bits``: gradient accumulator width; its fraction is sens.frac + act.frac.

    Gateware only (cycles, not bits): ``multipliers`` per layer cell (default one
    each; at most n_out * n_in, one per weight), each a count (``best_tiling`` lays it
    out) or ``[rows, cols]`` (a fixed tiling: a row sum adds ``cols`` products and a
    column sum ``rows``, the adder trees a fast clock needs shallow), ``max_batch``, the
    largest batch of a STREAM or TRAIN command, ``max_samples``, the depth of the on-chip
    sample memory (the resident set; ``max_batch`` unless given), ``targets``, how a
    sample's target is stored there (``"vector"``: n_L activation codes; ``"label"``: a
    class index from which the one-hot target is made on chip, for one output 0 or 1),
    ``frame_words``, the link's frame buffer, ``counter_bits``,
    the width of the READ_COUNTERS counters (they wrap at 2^counter_bits; 32 unless a
    small FPGA needs the logic), and ``pipeline``:
    0 keeps each multiplier's product and the SGD step in the cycle of its memory read
    (fewest cycles); 1 registers the products and does the SGD step one stage after the
    gradient (a clock about twice as fast on an FPGA, for a few cycles per tick); 2 also
    registers the multiplier operands (no logic in front of a multiplier, one more cycle
    per pass).
    ``fractional_dt``: relaxation runs take dt = 2^-k for any k up to 15 (false: dt = 1
    only, which training always uses; each Euler blend is then a plain assignment, and a
    small FPGA saves a variable shifter per lane). ``cell``: the layer cell the gateware
    is built from: ``"classic"`` (``hdl/cell.py``) or ``"lean"`` (``hdl/layer``: per-neuron
    vectors and W|G in memories read a tile at a time, the bias as one more weight column,
    the update on the multipliers; ``pipeline`` then sets only the core around the cells,
    and ``retiming`` (register counts, ``contract.retiming.Retiming``) the cells' own
    pipeline), or ``"lean-bram"`` (the same, with cell 1 reading its inputs a tile a word
    from the sample memory instead of holding the sample: ``hdl/sample_words.py``, and each
    hidden cell's s and lam in block RAM, read and written a word at a time:
    ``hdl/layer/state_banks.py``; for a device whose flip-flops are its logic cells, the
    iCE40, or whose placer chokes on per-element enables, the Gowin GW2A. It needs label
    targets, ``fractional_dt`` false and each cell's column lanes dividing the row lanes
    of the cell below). ``trainer``: TRAIN and EVALUATE run on chip (false: a device too
    small for them refuses them, and the host sends each batch). ``state_access``: the
    host reads and writes s and lam and runs relaxations (READ_STATE, WRITE_STATE, RELAX;
    false: a device too small for them refuses them, as the host does before sending).
    ``saturation_counters``: READ_COUNTERS counts saturations too (false: ticks, cycles
    and busy only; the host reads no sat_* counts from such a device).
    ``serial_update`` sends the weight update through one SGD unit per cell, a weight or
    bias a cycle after the batch's last gradient pass, instead of one unit per multiplier:
    the same bits for ``update_steps`` more cycles per batch, and the logic of a shifter,
    a subtractor and a saturation per multiplier saved (what an iCE40 UP5K runs out of).
    """

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    act: QFormat = QFormat(16, 12)
    weight: QFormat = QFormat(16, 12)
    weight_guard: int = 8
    sens: QFormat = QFormat(16, 12)
    grad_bits: int = 32
    multipliers: tuple[int | tuple[int, int], ...] | None = field(default=None, compare=True)
    max_batch: int = 32
    max_samples: int | None = None
    targets: str = "vector"
    frame_words: int = 512
    counter_bits: int = 32
    pipeline: int = 0
    serial_update: bool = False
    fractional_dt: bool = True
    trainer: bool = True
    cell: str = "classic"
    retiming: Retiming = LEAN
    state_access: bool = True
    saturation_counters: bool = True

    # Fields added after the first boards were built: left out of the JSON at their
    # defaults, so that a configuration's ID (and so its bitstream) is what it was.
    _LATER_FIELDS = ("state_access", "saturation_counters")

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        acts = tuple(a if isinstance(a, Activation) else parse_activation(a)
                     for a in self.activations)
        object.__setattr__(self, "activations", acts)
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be {' or '.join(map(repr, CELLS))}, not {self.cell!r}")
        if isinstance(self.retiming, dict):
            try:
                object.__setattr__(self, "retiming", Retiming(**self.retiming))
            except (TypeError, ValueError) as e:
                raise ConfigError(f"retiming: {e}") from None
        if not isinstance(self.retiming, Retiming):
            raise ConfigError(f"retiming must be an object of register counts, "
                              f"not {self.retiming!r}")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ConfigError(f"sizes must be >= 2 positive widths, not {self.sizes}")
        if len(acts) != self.L:
            raise ConfigError(f"{len(acts)} activations for {self.L} layers")
        for i, a in enumerate(acts, 1):
            if not a.hardware:
                raise ConfigError(f"layer {i}: {a.name} has no fixed-point form "
                                  f"(use identity, relu, leaky_relu or hardtanh)")
        if not 0 <= self.weight_guard <= 16:
            raise ConfigError("weight_guard must be 0..16")
        if self.master.frac > self.grad_frac:
            # the SGD step shifts G right by grad.frac - master.frac + k >= 0
            raise ConfigError(f"weight.frac + weight_guard = {self.master.frac} must not exceed "
                              f"sens.frac + act.frac = {self.grad_frac}")
        for name, fmt in (("act", self.act), ("weight", self.weight), ("sens", self.sens)):
            if fmt.bits > 18:
                raise ConfigError(f"{name} format {fmt} is wider than an 18x18 multiplier")
        if self.master.bits > 32:
            raise ConfigError("weight bits + weight_guard must fit a 32-bit host word")
        if self.grad_frac >= self.grad_bits or self.grad_bits > 32:
            raise ConfigError(f"grad_bits={self.grad_bits} must hold a product's "
                              f"{self.grad_frac} fraction bits and fit a 32-bit host word")
        if self.multipliers is not None:
            m = tuple(tuple(int(v) for v in p) if isinstance(p, (list, tuple)) else int(p)
                      for p in self.multipliers)
            object.__setattr__(self, "multipliers", m)
            if len(m) != self.L:
                raise ConfigError(f"multipliers needs one count (or [rows, cols]) per layer "
                                  f"({self.L})")
            for i, p in enumerate(m, 1):
                n_out, n_in = self.sizes[i], self.weight_columns(i)
                if isinstance(p, tuple):
                    if len(p) != 2 or not (1 <= p[0] <= n_out and 1 <= p[1] <= n_in):
                        raise ConfigError(f"layer {i}: multipliers {list(p)} must be [rows, cols]"
                                          f" with rows 1..{n_out} and cols 1..{n_in}")
                elif p < 1:
                    raise ConfigError(f"multipliers needs one positive count per layer ({self.L})")
                elif p > n_out * n_in:
                    raise ConfigError(f"layer {i} has {n_out * n_in} weights; it cannot use "
                                      f"{p} multipliers (at most one per weight)")
        if not 1 <= self.max_batch <= 65536:
            raise ConfigError("max_batch must be 1..65536")
        if self.max_samples is not None and not 1 <= self.max_samples <= 65536:
            raise ConfigError("max_samples must be 1..65536")
        if self.targets not in TARGETS:
            raise ConfigError(f"targets must be {' or '.join(map(repr, TARGETS))}, "
                              f"not {self.targets!r}")
        if self.targets == "label" and max(self.sizes[-1], 2) > 1 << self.act.bits:
            raise ConfigError(f"{self.sizes[-1]} class labels do not fit a {self.act.bits}-bit "
                              f"sample lane")
        if self.targets == "label" and self.act.one > self.act.max:
            raise ConfigError(f"label targets need 1.0 in the activation format; "
                              f"Q{self.act.bits - self.act.frac}.{self.act.frac} tops out "
                              f"below it")
        if self.samples * self.record_bytes >= 1 << 18:
            raise ConfigError(f"max_samples {self.samples} x {self.record_bytes} bytes a sample "
                              f"is 256 KiB or more (the device counts a resident set's bytes "
                              f"in 18 bits)")
        if self.pipeline not in (0, 1, 2):
            raise ConfigError(f"pipeline must be 0, 1 or 2, not {self.pipeline!r}")
        if not 8 <= self.counter_bits <= 32:
            raise ConfigError(f"counter_bits must be 8..32, not {self.counter_bits!r}")
        for name in ("serial_update", "fractional_dt", "trainer", "state_access",
                     "saturation_counters"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if not 4 <= self.frame_words <= 65535:
            raise ConfigError("frame_words must be 4..65535")
        if self.lean:
            if self.serial_update:
                raise ConfigError("a lean cell updates on its multipliers: serial_update "
                                  "is for the classic cell")
            if max(self.grad_bits, self.master.bits) > LEAN_OPERAND_BITS:
                raise ConfigError(f"a lean cell multiplies G ({self.grad_bits} bits) and the "
                                  f"master weight ({self.master.bits} bits): both must fit "
                                  f"its {LEAN_OPERAND_BITS}-bit multiplier operands")
        if self.cell == "lean-bram":
            self._check_bram()

    def _check_bram(self):
        if (self.targets != "label" or not self.pipeline or
                self.retiming.address + self.retiming.memory < 3):
            raise ConfigError("a lean-bram cell 1 reads its inputs from the sample memory's "
                              "words: it needs label targets, pipeline >= 1 and a cycle for "
                              "the read (retiming address + memory >= 3)")
        if self.fractional_dt:
            raise ConfigError("a lean-bram cell keeps s in block RAM, with no old value to "
                              "blend: it needs fractional_dt false (dt = 1)")
        for l in range(2, self.L + 1):
            cols, rows = self.tiling(l).cols, self.tiling(l - 1).rows
            if rows % cols:
                raise ConfigError(f"a lean-bram cell {l} reads cell {l - 1}'s s a word of "
                                  f"{rows} at a time: its {cols} column lanes must divide "
                                  f"{rows}")

    @property
    def lean(self) -> bool:
        """Built from the lean cells (``hdl/layer``), whichever variant."""
        return self.cell in ("lean", "lean-bram")

    @property
    def L(self) -> int:
        return len(self.sizes) - 1

    @property
    def samples(self) -> int:
        """Depth of the sample memory: how many samples the device holds at once."""
        return self.max_samples or self.max_batch

    @property
    def max_dt_shift(self) -> int:
        """The largest k of dt = 2^-k a relaxation may take."""
        return 15 if self.fractional_dt else 0

    @property
    def target_lanes(self) -> int:
        """Lanes a sample's target takes in the sample memory and on the wire."""
        return 1 if self.targets == "label" else self.sizes[-1]

    @property
    def lane_bytes(self) -> int:
        """Bytes per value on the wire: an activation code, or a label."""
        return (self.act.bits + 7) // 8

    @property
    def record_bytes(self) -> int:
        """Bytes of one packed sample (inputs, then target) on the wire."""
        return (self.sizes[0] + self.target_lanes) * self.lane_bytes

    @property
    def master(self) -> QFormat:
        """Stored weight/bias format: the operand format plus the guard bits."""
        return QFormat(self.weight.bits + self.weight_guard, self.weight.frac + self.weight_guard)

    @property
    def grad_frac(self) -> int:
        return self.sens.frac + self.act.frac

    @property
    def grad(self) -> QFormat:
        return QFormat(self.grad_bits, self.grad_frac)

    def weight_columns(self, l: int) -> int:
        """Columns of cell l's weight matrix: its inputs, and in a lean cell the bias
        (one more weight column, whose input is 1.0)."""
        return self.sizes[l - 1] + self.lean

    def tiling(self, l: int) -> Tiling:
        """Tiling of layer cell l (1-based)."""
        p = self.multipliers[l - 1] if self.multipliers else 1
        n_out, n_in = self.sizes[l], self.weight_columns(l)
        if isinstance(p, tuple):     # [rows, cols] given: shallow adder trees on request
            return Tiling(p[0], p[1], math.ceil(n_out / p[0]), math.ceil(n_in / p[1]))
        return best_tiling(n_out, n_in, p)

    def update_steps(self, l: int) -> int:
        """Cycles of cell l's serial weight update: every tile lane, then every bias
        (0 without ``serial_update``)."""
        if not self.serial_update:
            return 0
        T = self.tiling(l)
        return T.tiles * T.multipliers + self.sizes[l]

    def to_json(self) -> str:
        d = asdict(self)
        d["activations"] = [str(a) for a in self.activations]
        for name in self._LATER_FIELDS:
            if d[name] == self.__dataclass_fields__[name].default:
                del d[name]
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> DyadicConfig:
        d = json.loads(text)
        for k in ("act", "weight", "sens"):
            d[k] = QFormat(**d[k])
        d["sizes"] = tuple(d["sizes"])
        if d.get("multipliers") is not None:
            d["multipliers"] = tuple(d["multipliers"])
        return cls(**d)

    @classmethod
    def load(cls, path) -> DyadicConfig:
        """A configuration file: JSON with sizes, activations and optional formats,
        multipliers, max_batch (see configs/)."""
        try:
            with open(path) as f:
                d = json.load(f)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(d, dict) or "sizes" not in d or "activations" not in d:
            raise ConfigError(f"{path}: needs at least 'sizes' and 'activations'")
        try:
            for k in ("act", "weight", "sens"):
                if k in d:
                    d[k] = QFormat(**d[k])
            d["sizes"] = tuple(d["sizes"])
            if d.get("multipliers") is not None:
                d["multipliers"] = tuple(d["multipliers"])
            return cls(**d)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{path}: {e}") from None

    @property
    def config_id(self) -> int:
        """32-bit ID that identifies the bits; the gateware reports it on identify."""
        return zlib.crc32(self.to_json().encode())


def balanced_multipliers(sizes, total: int = 20) -> tuple[int, ...]:
    """Multipliers per cell in proportion to its work per tick (forward, adjoint, gradient)."""
    work = [(2 if l == 1 else 3) * sizes[l] * sizes[l - 1] for l in range(1, len(sizes))]
    return tuple(max(1, min(round(total * w / sum(work)), sizes[l] * sizes[l - 1]))
                 for l, w in enumerate(work, 1))


def derived_config(sizes, activations, batch: int = 1, samples: int = 1) -> DyadicConfig:
    """The simulated device's configuration when none is named: 20 multipliers in
    proportion to each cell's work (a quick Verilator build), batches up to 32 (or
    ``batch``), room for ``samples`` resident samples, label targets."""
    return DyadicConfig(sizes, activations, multipliers=balanced_multipliers(sizes),
                        max_batch=max(32, batch), max_samples=max(32, samples),
                        targets="label")
