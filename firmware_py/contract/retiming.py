"""Where the lean layer cell's registers sit, and the latencies that follow from them.

One definition for both sides: the gateware (``hdl/layer``) builds its registers from a
``Retiming`` and its component tests measure each latency against it; the cycle model
reads the same numbers. A faster clock that needs one more register changes a field
here, never a branch in a component.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["Retiming", "LEAN", "PICK", "MIN_TICK", "TickWork", "tick_work", "adder_levels"]


def adder_levels(n: int) -> int:
    """Levels of two-input adders in a tree summing ``n`` inputs (``hdl/layer/tree.py``)."""
    return math.ceil(math.log2(n)) if n > 1 else 0


@dataclass(frozen=True)
class Retiming:
    """Register counts along a lane, from the tile address to the written-back word.

    - ``address``: registers on the tile address before the lane memories.
    - ``memory``: the lane memory's read latency (read register, then output register).
    - ``operand``, ``product``: registers in front of and behind each multiplier.
    - ``tree``: registers in a row or column adder tree.
    - ``column_tree``: more registers in a column tree, whose inputs come from lanes on
      every DSP row of the die (a row tree's lanes sit on one).
    - ``tree_levels``: the adder levels one tree register may follow (0: any); a deeper
      tree takes a register more for each further ``tree_levels`` (``for_cell``).
    - ``finish``: the h/derivative-code register of the finish stage.
    - ``state``: the next-state chunk register.
    - ``writeback``: the G/W write-data register in front of the lane memory.
    - ``link``: registers carrying a column finish's next lam down to the cell below,
      whose lam registers sit elsewhere on the die.
    """

    address: int = 0
    memory: int = 2
    operand: int = 1
    product: int = 1
    tree: int = 1
    column_tree: int = 0
    tree_levels: int = 0
    finish: int = 1
    state: int = 1
    writeback: int = 1
    link: int = 0

    def __post_init__(self):
        for name, v in self.__dict__.items():
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"Retiming.{name} must be a count >= 0, not {v!r}")
        if self.memory < 1:
            raise ValueError("Retiming.memory must be >= 1: block RAM reads are synchronous")
        if self.operand < 1 or self.product < 1:
            raise ValueError("Retiming.operand and .product must be >= 1: the multiplier's "
                             "own registers")
        if self.finish < 1 or self.state < 1:
            # (the finish stages take a row tile's h and code, and its next state, from
            # these registers; built without them, a cell's gradients come out wrong)
            raise ValueError("Retiming.finish and .state must be >= 1: the finish stage's "
                             "own registers")

    def for_cell(self, tiling) -> Retiming:
        """The register counts of a cell with this tiling: ``tree_levels`` resolved into
        its row trees' registers (``tree``) and its column trees' (``column_tree`` more;
        never fewer than a row tree's, so the column sums never come first)."""
        if not self.tree_levels:
            return self

        def more(n):            # registers beyond one for a tree of n inputs
            return max(0, math.ceil(adder_levels(n) / self.tree_levels) - 1)
        row, col = more(tiling.cols), more(tiling.rows)
        return dataclasses.replace(self, tree=self.tree + row,
                                   column_tree=self.column_tree + max(0, col - row),
                                   tree_levels=0)

    @property
    def multiply(self) -> int:
        """Operand in to product out."""
        return self.operand + self.product

    @property
    def product_at(self) -> int:
        """Cycles from a tile's issue to its products."""
        return self.address + self.memory + self.multiply

    @property
    def land(self) -> int:
        """Cycles from a tile's issue to its G or W word being readable by another issue
        (the address registers delay the read and the write alike)."""
        return self.memory + self.multiply + self.writeback + 1

    @property
    def state_final(self) -> int:
        """Cycles from a row tile's last issue to its next-state chunk: products, tree,
        accumulate, finish, state register."""
        return self.product_at + self.tree + 1 + self.finish + self.state

    @property
    def lam_final(self) -> int:
        """Cycles from a column tile's last adjoint issue to the next lam of the cell
        below: as ``state_final``, with the column tree's own registers and the link."""
        return self.state_final + self.column_tree + self.link


LEAN = Retiming()


PICK = 1            # an operand is picked the cycle after its tile's issue
MIN_TICK = 3        # the core registers the output error and its blend (hdl/output_error.py)


@dataclass(frozen=True)
class TickWork:
    """One lean cell's tick: issue slots from the commit cycle, in pass order forward,
    ``gap``, adjoint, gradient, ``update_gap``, update."""

    gap: int
    update_gap: int
    issue: int
    need: int           # cycles before the tick may end (commit)


def tick_work(rt: Retiming, tiling, fwd: bool, bwd: bool, grad: bool, update: bool,
              relax: bool) -> TickWork:
    """The cycle contract of one lean-cell tick (the gateware's issue sequencer is built
    from this function's table; the RTL's counters are tested against it).

    - A row tile's derivative codes are in their register ``code_at`` cycles after its
      last forward issue, and a row operand d is picked ``PICK`` cycle after its issue
      (``hdl/layer/operands.py``), however many registers then carry it; in
      relaxation the adjoint and gradient passes, which read this tick's codes, wait
      ``gap`` slots for row tile 0 (and, column-major, for the last row tile).
    - A state result is final ``rt.state_final`` cycles after its pass's last issue (lam
      for the cell below ``rt.lam_final``); commit copies it, so the tick lasts that long.
    - A written G or W word is readable ``rt.land`` cycles after its issue; the next
      tick may read tile k at its slot k, so the tick lasts until the last writing pass's
      start plus ``rt.land``; an update right after a gradient pass waits ``update_gap``
      slots so that it reads each tile's new G. A tick that starts with the adjoint
      (column-major: tile (ti, tj) at slot tj TI + ti, up to (TI - 1)(TJ - 1) slots
      before its row-major slot) after a gradient pass first waits ``gap`` slots, as
      many as a tile's write could still be on its way (only in small tilings: the
      gradient pass's T slots cover the rest).
    """
    T, TI, TJ = tiling.tiles, tiling.ti, tiling.tj
    code_at = rt.product_at + rt.tree + 1 + rt.finish
    F = T if fwd else 0
    gap = 0
    if relax and fwd and (bwd or grad):
        gap = max(0, TJ - 1 + code_at - PICK - F)
        if bwd:
            gap = max(gap, code_at - PICK - TI)
    elif bwd and not fwd:
        # (the last tick's gradient pass started at least max(T, land) cycles before it
        # ended, and wrote tile k k slots after its start)
        gap = max(0, (TI - 1) * (TJ - 1) + rt.land - max(T, rt.land))
    update_gap = max(0, rt.land - T) if grad and update else 0
    grad_at = F + gap + (T if bwd else 0)
    update_at = grad_at + (T if grad else 0) + update_gap
    issue = update_at + (T if update else 0)
    need = max(issue, MIN_TICK)
    if fwd:
        need = max(need, F - 1 + rt.state_final)
    if bwd:
        need = max(need, F + gap + T - 1 + rt.lam_final)
    if update:
        need = max(need, update_at + rt.land)
    elif grad:
        need = max(need, grad_at + rt.land)
    return TickWork(gap, update_gap, issue, need)
