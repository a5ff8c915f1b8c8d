"""The multiplier array of a cell: rows x cols lanes, a row adder tree per row lane and,
in a cell with an adjoint pass, a column adder tree per column lane.

The issue reaches the lanes through ``rt.address`` registers, one copy per row of lanes:
a row's lanes and memories sit together, and a hundred of them spread over the die would
otherwise hang on one net from the issue sequencer's logic (boards/README.md)."""

import dataclasses

from amaranth.hdl import Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import Retiming

from ..tile_memory import COPY_ATTR
from .delay import delayed
from .lane import Lane, LaneOp, operand_bits
from .lane_memory import LaneMemory
from .tree import AdderTree

__all__ = ["MacArray", "ROW_GROUP", "row_groups"]

# Rows of lanes that sit together: a DSP row of a floorplanned 85F holds 4 rows of 11
# lanes (boards/floorplan.py). A value for every row (a column operand) gets a copy for
# each group.
ROW_GROUP = 4


def row_groups(tiling) -> int:
    return -(-tiling.rows // ROW_GROUP)


class MacArray(wiring.Component):
    """Issue ``op`` at ``addr`` to every lane; ``row`` and ``col`` operands are due
    ``rt.address + rt.memory`` cycles later; ``row_sum`` comes ``rt.product_at + rt.tree``
    cycles after the issue, ``col_sum`` ``rt.column_tree`` later. Products are summed at the
    ``sum_bits`` they need (W x s, W x d, a word the host reads), not the multiplier's
    36. ``host_lane`` marks the lane a WRITE_W writes ``host_word`` into; both are taken a
    cycle after they are given, and must hold until the write lands."""

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, adjoint: bool,
                 memory=LaneMemory, lane=Lane):
        self.config, self.rt, self.tiling, self.adjoint = config, rt, tiling, adjoint
        R, C = tiling.rows, tiling.cols
        # wide enough for W x s, W x d, and a host read of G or the master W
        self.sum_bits = max(config.weight.bits + max(config.act.bits, config.sens.bits),
                            config.grad_bits, config.master.bits)
        lane_rt = dataclasses.replace(rt, address=0)      # (the array's row copies)
        self.lanes = [[lane(config, lane_rt, tiling.tiles, memory, adjoint) for _ in range(C)]
                      for _ in range(R)]
        self.row_trees = [AdderTree(C, self.sum_bits, rt.tree) for _ in range(R)]
        self.col_trees = [AdderTree(R, self.sum_bits, rt.tree + rt.column_tree)
                          for _ in range(C)] \
            if adjoint else []
        self.row_sum_bits = self.row_trees[0].total.shape().width
        self.col_sum_bits = self.sum_bits + (R - 1).bit_length()
        super().__init__({
            "issue": In(1), "op": In(LaneOp), "addr": In(range(tiling.tiles)),
            "clear_g": In(1), "host_word": In(signed(config.master.bits)), "host_lane": In(R * C),
            "row": In(data.ArrayLayout(signed(config.sens.bits), R)),
            "col": In(data.ArrayLayout(data.ArrayLayout(signed(operand_bits(config)), C),
                                       row_groups(tiling))),      # a copy per row group
            "row_sum": Out(data.ArrayLayout(signed(self.row_sum_bits), R)),
            "col_sum": Out(data.ArrayLayout(signed(self.col_sum_bits), C)),
            "g_saturated": Out(R * C), "w_saturated": Out(R * C)})

    def elaborate(self, platform):
        m = Module()
        R, C = self.tiling.rows, self.tiling.cols
        n = self.rt.address
        for a, row in enumerate(self.lanes):
            # only the issue carries the reset: it gates every write a lane makes, and the
            # reset net reaching every row's op was the floorplanned 45F's critical path
            issue = delayed(m, self.issue, n, f"issue_row{a}_", reset_less=False,
                            attrs={COPY_ATTR: 1})
            op, clear_g = (delayed(m, v, n, f"{name}_row{a}_", attrs={COPY_ATTR: 1})
                           for v, name in ((self.op, "op"), (self.clear_g, "clear_g")))
            addr = delayed(m, self.addr, n, f"addr_row{a}_", attrs={COPY_ATTR: 1})
            # a host write's word and lane hold still until it lands: a register per row
            # keeps the walk's logic off the lanes' write enables
            host_word = delayed(m, self.host_word, 1, f"host_word_row{a}_", attrs={COPY_ATTR: 1})
            host_here = delayed(m, self.host_lane[a * C:(a + 1) * C], 1, f"host_here_row{a}_",
                                attrs={COPY_ATTR: 1})
            for b, lane in enumerate(row):
                m.submodules[f"lane{a}_{b}"] = lane
                k = a * C + b
                m.d.comb += [lane.issue.eq(issue), lane.op.eq(op),
                             lane.addr.eq(addr), lane.clear_g.eq(clear_g),
                             lane.row.eq(self.row[a]), lane.col.eq(self.col[a // ROW_GROUP][b]),
                             lane.host_word.eq(host_word), lane.host_here.eq(host_here[b]),
                             self.g_saturated[k].eq(lane.g_saturated),
                             self.w_saturated[k].eq(lane.w_saturated)]
        for a, tree in enumerate(self.row_trees):
            m.submodules[f"row_tree{a}"] = tree
            m.d.comb += [tree.inputs[b].eq(self.lanes[a][b].p[:self.sum_bits])
                         for b in range(C)]
            m.d.comb += self.row_sum[a].eq(tree.total)
        for b, tree in enumerate(self.col_trees):
            m.submodules[f"col_tree{b}"] = tree
            m.d.comb += [tree.inputs[a].eq(self.lanes[a][b].p[:self.sum_bits])
                         for a in range(R)]
            m.d.comb += self.col_sum[b].eq(tree.total)
        return m
