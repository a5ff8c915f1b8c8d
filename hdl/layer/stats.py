"""A cell's per-cycle counts for the counters: multiplier lanes doing a real MAC (no bias
column, padding or update), and saturations by kind. Counts only add up to totals, so they
arrive late: the MAC count two cycles after its issue, flags registered, then counted in
registered groups, then the groups summed into a register."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..cell_links import CellStats
from .lane import LaneOp

__all__ = ["CellStatistics"]

GROUP = 16              # flags counted in one register
COUNTS_PER_SUM = 4      # group counts summed in one register


def _count(m, name, flags):
    flags = list(flags)
    if not flags:
        return Const(0)
    counts = []                     # (register, the most it can hold)
    for k in range(0, len(flags), GROUP):
        part = flags[k:k + GROUP]
        g = Signal(range(len(part) + 1), name=f"{name}{k // GROUP}", reset_less=True)
        reg = Signal(len(part), name=f"{name}_flags{k // GROUP}", reset_less=True)
        m.d.sync += [reg.eq(Cat(*part)), g.eq(sum(reg))]
        counts.append((g, len(part)))
    # the counts summed COUNTS_PER_SUM at a time, each sum registered: one sum of 8 groups
    # spread over the die, with the counter's adder behind it, was the routed 85F's
    # critical path (121 lanes); a count only arrives later
    level = 0
    while len(counts) > 1:
        sums = []
        for k in range(0, len(counts), COUNTS_PER_SUM):
            part = counts[k:k + COUNTS_PER_SUM]
            most = sum(n for _, n in part)
            total = Signal(range(most + 1), name=f"{name}_sum{level}_{k // COUNTS_PER_SUM}",
                           reset_less=True)
            m.d.sync += total.eq(sum(g for g, _ in part))
            sums.append((total, most))
        counts, level = sums, level + 1
    return counts[0][0]


class CellStatistics(wiring.Component):
    def __init__(self, tiling, n_out: int, n_in: int, lanes: int, sat_widths: dict):
        self.tiling, self.n_out, self.n_in = tiling, n_out, n_in
        super().__init__({
            "valid": In(1), "op": In(LaneOp), "ti": In(range(tiling.ti)),
            "tj": In(range(tiling.tj)),
            **{k: In(w) for k, w in sat_widths.items()},
            "stats": Out(CellStats(lanes))})

    def elaborate(self, platform):
        m = Module()
        T, N, M = self.tiling, self.n_out, self.n_in
        macs = Array(Array(Const(max(0, min(T.rows, N - i * T.rows))
                                 * max(0, min(T.cols, M - j * T.cols)))
                           for j in range(T.tj)) for i in range(T.ti))
        # the tile is registered, then its count: the table lookup sits between
        # flip-flops, away from the issue sequencer's commit-cycle logic and the counters
        counted = Signal()
        ti, tj = Signal.like(self.ti), Signal.like(self.tj)
        m.d.sync += [counted.eq(self.valid & (self.op != LaneOp.UPDATE)),
                     ti.eq(self.ti), tj.eq(self.tj)]
        busy = Signal.like(self.stats.busy)
        m.d.sync += busy.eq(Mux(counted, macs[ti][tj], 0))
        m.d.comb += self.stats.busy.eq(busy)
        for kind in ("sat_h", "sat_lam", "sat_grad", "sat_weight"):
            flags = getattr(self, kind, None)
            value = _count(m, kind, list(flags)) if flags is not None else Const(0)
            m.d.comb += getattr(self.stats, kind).eq(value)
        return m
