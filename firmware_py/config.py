"""The one configuration object shared by the golden model and the gateware.

It fixes everything that changes the bits: layer widths, activations, number
formats and (for the gateware) the multipliers each layer cell owns. Runtime
settings (dt = 2**-k, learning rate 2**-m, batch size) are not part of it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field

from .activations import Activation, parse_activation
from .fixedpoint import QFormat

__all__ = ["DyadicConfig", "ConfigError"]


class ConfigError(ValueError):
    """The configuration cannot be built in fixed point / hardware."""


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
    """

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    act: QFormat = QFormat(16, 12)
    weight: QFormat = QFormat(16, 12)
    weight_guard: int = 8
    sens: QFormat = QFormat(16, 12)
    grad_bits: int = 32
    multipliers: tuple[int, ...] | None = field(default=None, compare=True)

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        acts = tuple(a if isinstance(a, Activation) else parse_activation(a)
                     for a in self.activations)
        object.__setattr__(self, "activations", acts)
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
        if self.grad_frac >= self.grad_bits or self.grad_bits > 48:
            raise ConfigError(f"grad_bits={self.grad_bits} cannot hold a product with "
                              f"{self.grad_frac} fraction bits")
        if self.multipliers is not None:
            m = tuple(int(p) for p in self.multipliers)
            object.__setattr__(self, "multipliers", m)
            if len(m) != self.L or min(m) < 1:
                raise ConfigError(f"multipliers needs one positive count per layer ({self.L})")

    @property
    def L(self) -> int:
        return len(self.sizes) - 1

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

    def dot_bits(self, n_terms: int, a: QFormat, b: QFormat) -> int:
        """Width of an exact dot-product accumulator (no overflow is possible)."""
        return a.bits + b.bits + max(1, (n_terms + 1).bit_length())

    def to_json(self) -> str:
        d = asdict(self)
        d["activations"] = [str(a) for a in self.activations]
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

    @property
    def config_id(self) -> int:
        """32-bit ID that identifies the bits; the gateware reports it on identify."""
        return zlib.crc32(self.to_json().encode())
