"""Cycle model: the exact cycle count of the gateware for any configuration and run.

The RTL's counters are tested against it. A tick lasts as long as its busiest
cell's actual work (bubbles cost nothing), plus the cycle that state-producing
passes need to finish before the next tick may read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import DyadicConfig

__all__ = ["cell_work", "stream_flags", "relax_flags", "RunCycles", "stream_cycles",
           "relax_cycles"]


def cell_work(tiles: int, fwd: bool, bwd: bool, grad: bool, gap: bool) -> tuple[int, int]:
    """(issue slots, cycles before the tick may end) for one tick of one cell.

    Passes run forward, [gap], adjoint, gradient, one tile per cycle. The gap (one
    idle slot, relaxation mode with a single row tile) lets this tick's derivative
    codes settle before the adjoint/gradient passes read them. Forward and adjoint
    results are final two cycles after their last issue, so the tick may end one
    slot after them; a gradient tile is written back one cycle after issue.
    """
    gap = gap and fwd and (bwd or grad)
    issue = tiles * (fwd + bwd + grad) + gap
    state_end = tiles * (fwd + bwd) + (gap and bwd)
    need = max(issue, state_end + 1) if (fwd or bwd) else issue
    return issue, need


def stream_flags(L: int, l: int, t: int, B: int) -> tuple[bool, bool, bool]:
    """(forward, adjoint, gradient) of cell l (1-based) in streaming tick t."""
    fwd = 0 <= t - (l - 1) < B
    grad = 0 <= t - (2 * L + 1 - l) < B
    return fwd, grad and l > 1, grad


def relax_flags(l: int, t: int, ticks: int) -> tuple[bool, bool, bool]:
    """Relaxation: ``ticks`` ticks of forward + adjoint, then one read-out tick."""
    if t < ticks:
        return True, l > 1, False
    return True, False, True


@dataclass
class RunCycles:
    ticks: int
    cycles: int
    busy: int                 # useful multiplier-cycles
    multipliers: int
    tick_cycles: list

    @property
    def utilization(self) -> float:
        return self.busy / (self.multipliers * self.cycles)


def _run(config: DyadicConfig, n_ticks: int, flags, relax: bool) -> RunCycles:
    L = config.L
    tilings = [config.tiling(l) for l in range(1, L + 1)]
    lens, busy = [], 0
    for t in range(n_ticks):
        need_max = 1
        for l, T in enumerate(tilings, 1):
            fwd, bwd, grad = flags(l, t)
            _, need = cell_work(T.tiles, fwd, bwd, grad, relax and T.ti == 1)
            need_max = max(need_max, need)
            busy += (fwd + bwd + grad) * config.sizes[l] * config.sizes[l - 1]
        lens.append(need_max)
    mults = sum(T.multipliers for T in tilings)
    # one prologue cycle loads the first sample before tick 0
    return RunCycles(n_ticks, 1 + sum(lens), busy, mults, lens)


def stream_cycles(config: DyadicConfig, batch: int) -> RunCycles:
    """A streaming batch of ``batch`` samples: B + 2L ticks."""
    return _run(config, batch + 2 * config.L,
                lambda l, t: stream_flags(config.L, l, t, batch), relax=False)


def relax_cycles(config: DyadicConfig, ticks: int) -> RunCycles:
    """A relaxation run: ``ticks`` ticks plus the read-out tick."""
    return _run(config, ticks + 1, lambda l, t: relax_flags(l, t, ticks), relax=True)
