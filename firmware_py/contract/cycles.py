"""Cycle model: the exact cycle count of the gateware for any configuration and run.

The RTL's counters are tested against it. A tick lasts as long as its busiest
cell's actual work (bubbles cost nothing), plus the cycle that state-producing
passes need to finish before the next tick may read them. A run also takes one setup
cycle and one prologue cycle (the commit that loads its first sample); the runs of a
TRAIN command follow each other with no cycle between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import DyadicConfig
from .retiming import tick_work

__all__ = ["cell_work", "gap_slots", "tick_rule", "stream_flags", "relax_flags", "RunCycles",
           "stream_cycles", "relax_cycles", "eval_cycles", "epoch_run", "epoch_cycles",
           "eval_walk", "counted_cycles", "RUN_OVERHEAD", "EVAL_STAGES"]

RUN_OVERHEAD = 2    # a run's setup cycle and its prologue commit (hdl/run_control.py)
EVAL_STAGES = 3     # the evaluator's stages after it picks an output (hdl/evaluator.py)


def eval_walk(config: DyadicConfig) -> int:
    """Cycles from a sample's outputs reaching the evaluator to its counts being in: a
    cycle to take them, one per output, and the stages after; the tick after the
    sample's output error waits for them."""
    return 1 + config.sizes[-1] + EVAL_STAGES


def gap_slots(ti: int, tj: int, bwd: bool, grad: bool, pipeline: int = 0) -> int:
    """Idle issue slots after the forward pass of a relaxation tick.

    In relaxation the adjoint and gradient passes read this tick's derivative codes;
    row tile ``ti`` gets its codes ``3 + late`` cycles after its last forward issue, with
    ``late = pipeline + (pipeline == 2)`` (``pipeline`` is the number of registers between
    the memory read and stage M, the configuration's ``pipeline`` setting; with 2 the
    multiplier side takes the codes a cycle after they are made), and the slots wait for
    the row tile each pass reads first.
    """
    late = pipeline + (pipeline == 2)
    need_bwd = 2 + late - ti if bwd else 0          # adjoint: column-major order
    need_grad = tj * (1 - ti) + 1 + late if grad else 0
    return max(0, need_bwd, need_grad)


def cell_work(tiling, fwd: bool, bwd: bool, grad: bool, relax: bool, update: bool = False,
              pipeline: int = 0, update_steps: int = 0) -> tuple[int, int]:
    """(issue slots, cycles before the tick may end) for one tick of one cell.

    Passes run forward, [gap], adjoint, gradient, one tile per cycle (see
    ``gap_slots``). With p = min(pipeline, 1) (registered products, SGD and blend
    stages) and m = pipeline (registers between the memory read and stage M: the
    product, and with pipeline 2 the multiplier operands), forward and adjoint results
    are final ``2 + p + m`` cycles after their last issue, so the tick may end
    ``1 + p + m`` slots after them. A gradient tile is written back ``1 + m`` cycles
    after issue: with a short pass the tick waits until the next tick cannot read a tile
    before it lands. A weight update lands ``2 * p`` cycles later still, and the tick
    waits for it.
    A serial update (``update_steps`` > 0, ``DyadicConfig.update_steps``) starts the cycle
    after the last write-back and takes one step a cycle through a 4-stage unit (5 with
    pipeline 2, whose lane select takes two cycles).
    """
    tiles, p, m = tiling.tiles, min(pipeline, 1), pipeline
    gap = gap_slots(tiling.ti, tiling.tj, bwd, grad, m) if relax and fwd else 0
    issue = tiles * (fwd + bwd + grad) + gap
    state_end = tiles * (fwd + bwd) + (gap if bwd else 0)
    need = max(issue, state_end + 1 + p + m) if (fwd or bwd) else issue
    if grad:
        need = max(need, issue + m + 1 - tiles)
        if update and update_steps:
            need = max(need, issue + m + update_steps + 3 + (m == 2))
        elif update:
            need = max(need, issue + m + 2 * p)
    if p:           # the core registers the output error and its blend: 3 cycles a tick
        need = max(need, 3)
    return issue, need


def tick_rule(config: DyadicConfig):
    """``need(l, fwd, bwd, grad, relax, update)``: cycles before cell l's tick may end, by
    the cycle rule of the configuration's cell (``cell_work``, or the lean cell's
    ``retiming.tick_work``)."""
    tilings = {l: config.tiling(l) for l in range(1, config.L + 1)}
    if config.lean:
        def need(l, fwd, bwd, grad, relax, update):
            return tick_work(config.retiming.for_cell(tilings[l]), tilings[l], fwd,
                             bwd and l > 1, grad, update, relax).need
    else:
        def need(l, fwd, bwd, grad, relax, update):
            return cell_work(tilings[l], fwd, bwd, grad, relax, update, config.pipeline,
                             config.update_steps(l))[1]
    return need


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


def _run(config: DyadicConfig, n_ticks: int, flags, relax: bool, update=lambda l, t: False,
         floor=lambda t: 1) -> RunCycles:
    L, need = config.L, tick_rule(config)
    lens, busy = [], 0
    for t in range(n_ticks):
        need_max = floor(t)
        for l in range(1, L + 1):
            fwd, bwd, grad = flags(l, t)
            need_max = max(need_max, need(l, fwd, bwd, grad, relax, update(l, t)))
            busy += (fwd + bwd + grad) * config.sizes[l] * config.sizes[l - 1]
        lens.append(need_max)
    mults = sum(config.tiling(l).multipliers for l in range(1, L + 1))
    return RunCycles(n_ticks, RUN_OVERHEAD + sum(lens), busy, mults, lens)


def stream_cycles(config: DyadicConfig, batch: int, update: bool = True) -> RunCycles:
    """A streaming batch of ``batch`` samples: B + 2L ticks; cell l updates its weights
    in its last gradient tick when ``update``."""
    L = config.L
    return _run(config, batch + 2 * L, lambda l, t: stream_flags(L, l, t, batch), relax=False,
                update=lambda l, t: update and t == batch + 2 * L - l)


def relax_cycles(config: DyadicConfig, ticks: int) -> RunCycles:
    """A relaxation run: ``ticks`` ticks plus the read-out tick."""
    return _run(config, ticks + 1, lambda l, t: relax_flags(l, t, ticks), relax=True)


def eval_cycles(config: DyadicConfig, count: int) -> RunCycles:
    """An EVALUATE run over ``count`` samples: count + L + 1 ticks of forward passes; the
    tick after each sample's output error waits for the evaluator's walk."""
    L, walk = config.L, eval_walk(config)
    return _run(config, count + L + 1,
                lambda l, t: (0 <= t - (l - 1) < count, False, False), relax=False,
                floor=lambda t: walk if L + 1 <= t <= count + L else 1)


def epoch_run(config: DyadicConfig, count: int, batch: int) -> RunCycles:
    """One TRAIN epoch over ``count`` samples in batches of ``batch`` (the last one
    shorter), each with the SGD step: its runs' ticks, cycles and busy cycles."""
    full, rest = divmod(count, batch)
    runs = [stream_cycles(config, batch)] * full + ([stream_cycles(config, rest)] if rest else [])
    return RunCycles(sum(r.ticks for r in runs), sum(r.cycles for r in runs),
                     sum(r.busy for r in runs), runs[0].multipliers,
                     [n for r in runs for n in r.tick_cycles])


def epoch_cycles(config: DyadicConfig, count: int, batch: int) -> int:
    """Cycles of one TRAIN epoch (``epoch_run``)."""
    return epoch_run(config, count, batch).cycles


def counted_cycles(counted: int, model: int, counter_bits: int) -> int:
    """A span's cycles from the device's counter, which wraps at 2^counter_bits: the
    count itself, or, for a span longer than the counter holds (an epoch on a 16-bit
    counter), this model's count when the counter agrees with it modulo its width (else
    the count, which then disagrees with the model for all to see)."""
    wrap = 1 << counter_bits
    return model if model >= wrap and counted == model % wrap else counted
