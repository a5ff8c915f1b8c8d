"""The issue sequencer: a tick's flags -> one tile op a cycle, and when the tick may end.

Passes run forward (row tiles outer), [gap], adjoint (column tiles outer), gradient, [gap],
update (row tiles outer), one tile a slot; slot 0 issues in the commit cycle with the new
flags, so ticks follow each other without idle slots. The gaps and the tick's length come
from a table built from ``retiming.tick_work`` at elaboration: the cycle model and the
gateware read one definition.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.retiming import Retiming, tick_work

from .lane import LaneOp

__all__ = ["IssueSequencer", "Segment"]


class Segment(enum.Enum, shape=3):
    IDLE = 0
    FORWARD = 1
    GAP = 2
    ADJOINT = 3
    GRADIENT = 4
    UPDATE_GAP = 5
    UPDATE = 6


OP_OF = {Segment.FORWARD: LaneOp.FORWARD, Segment.ADJOINT: LaneOp.ADJOINT,
         Segment.GRADIENT: LaneOp.GRADIENT, Segment.UPDATE: LaneOp.UPDATE}
FLAGS = ("fwd", "bwd", "grad", "update", "relax")


class IssueSequencer(wiring.Component):
    """``valid`` with ``op`` at tile (``ti``, ``tj``), ``addr`` = ti * TJ + tj; ``first`` and
    ``last`` mark the first and last tile of a row sum (forward, gradient, update) or a
    column sum (adjoint). ``ready``: the tick may end this cycle; ``ready_next``: it may
    end next cycle if it does not end in this one."""

    def __init__(self, rt: Retiming, tiling, adjoint: bool = True):
        self.rt, self.tiling, self.adjoint = rt, tiling, adjoint
        self.table = [tick_work(rt, tiling, *(bool(k >> b & 1) for b in range(5)))
                      for k in range(32)]
        self.max_need = max(w.need for w in self.table)
        T = tiling
        super().__init__({
            "commit": In(1), **{f: In(1) for f in FLAGS},
            "valid": Out(1), "op": Out(LaneOp), "ti": Out(range(T.ti)), "tj": Out(range(T.tj)),
            "addr": Out(range(T.tiles)), "first": Out(1), "last": Out(1),
            "ready": Out(1), "ready_next": Out(1)})

    def elaborate(self, platform):
        m = Module()
        TI, TJ = self.tiling.ti, self.tiling.tj
        max_gap = max(max(w.gap, w.update_gap) for w in self.table)
        flags = {f: Signal(name=f"f_{f}") for f in FLAGS}
        gaps = Signal(range(max_gap + 1))
        ugaps = Signal(range(max_gap + 1))

        # the tick's work, looked up at commit
        new = {f: getattr(self, f) for f in FLAGS}
        if not self.adjoint:
            new["bwd"] = Const(0)
        index = Cat(*(new[f] for f in FLAGS))
        need = Signal(range(self.max_need + 1))
        count = Signal(range(self.max_need + 1))
        ready = Signal(init=1)          # an idle cell is ready
        # ready_next is a register too: the run control predicts its commit copies from it,
        # and those sit all over the die
        ready_next = Signal(init=1)
        work = Array(Cat(Const(w.gap, len(gaps)), Const(w.update_gap, len(ugaps)),
                         Const(w.need, len(need))) for w in self.table)[index]
        new_gap, new_ugap, new_need = (work[:len(gaps)], work[len(gaps):len(gaps) + len(ugaps)],
                                       work[len(gaps) + len(ugaps):])
        with m.If(self.commit):
            m.d.sync += [flags[f].eq(new[f]) for f in FLAGS]
            m.d.sync += [gaps.eq(new_gap), ugaps.eq(new_ugap), need.eq(new_need), count.eq(1),
                         ready.eq(new_need <= 1), ready_next.eq(new_need <= 2)]
        with m.Elif(count < need):
            m.d.sync += [count.eq(count + 1), ready.eq(count + 1 >= need),
                         ready_next.eq(count + 2 >= need)]
        m.d.comb += [self.ready.eq(ready), self.ready_next.eq(ready_next)]

        # the segment walk: the commit cycle starts it from the new flags
        f = {k: Mux(self.commit, new[k], flags[k]) for k in FLAGS}
        gap_len = Mux(self.commit, new_gap, gaps)
        ugap_len = Mux(self.commit, new_ugap, ugaps)
        present = {Segment.FORWARD: f["fwd"], Segment.GAP: gap_len != 0,
                   Segment.ADJOINT: f["bwd"], Segment.GRADIENT: f["grad"],
                   Segment.UPDATE_GAP: ugap_len != 0, Segment.UPDATE: f["update"]}
        order = list(present)

        def first_after(k):
            """The first present segment after position k of ``order`` (IDLE if none)."""
            out = Const(Segment.IDLE.value, Segment)
            for s in reversed(order[k:]):
                out = Mux(present[s], s, out)
            return out

        seg_reg = Signal(Segment)
        ti_reg, tj_reg = Signal(range(TI)), Signal(range(TJ))
        left = Signal(range(max_gap + 1))          # gap slots left
        seg = Signal(Segment)
        # A tick starts with a pass (a gap follows a forward pass, the update's gap a
        # gradient pass), so the commit cycle's segment needs only the new pass flags: the
        # commit reaches the sequencer from across the die, and the segment feeds every row
        # of lanes. Only a small tiling's adjoint-first tick starts with a gap (``lead``).
        lead = any(w.gap for k, w in enumerate(self.table) if not k & 1)
        assert all(w.update_gap == 0 for k, w in enumerate(self.table) if not k >> 2 & 1)
        start = Const(Segment.IDLE.value, Segment)
        for s, flag in reversed(((Segment.FORWARD, "fwd"), (Segment.ADJOINT, "bwd"),
                                 (Segment.GRADIENT, "grad"), (Segment.UPDATE, "update"))):
            start = Mux(new[flag], s, start)
            if lead and s == Segment.ADJOINT:
                start = Mux(new["bwd"] & (new_gap != 0), Segment.GAP, start)
        m.d.comb += seg.eq(Mux(self.commit, start, seg_reg))
        # (a tick's passes end before it may: ti and tj are 0 again at every commit, and the
        # commit, which reaches every cell from the run control, stays off their fan-out)
        ti, tj = ti_reg, tj_reg
        column_major = seg == Segment.ADJOINT
        issuing = Cat(seg == s for s in OP_OF).any()
        end_of_pass = (ti == TI - 1) & (tj == TJ - 1)
        m.d.comb += [self.valid.eq(issuing), self.ti.eq(ti), self.tj.eq(tj),
                     self.addr.eq(Array(Const(i * TJ, range(self.tiling.tiles))
                                        for i in range(TI))[ti] + tj),
                     self.first.eq(Mux(column_major, ti == 0, tj == 0)),
                     self.last.eq(Mux(column_major, ti == TI - 1, tj == TJ - 1))]
        with m.Switch(seg):
            for s, op in OP_OF.items():
                with m.Case(s):
                    m.d.comb += self.op.eq(op)

        nxt = Signal(Segment)
        with m.Switch(seg):
            for k, s in enumerate(order):
                with m.Case(s):
                    m.d.comb += nxt.eq(first_after(k + 1))
        gap_of_next = Mux(nxt == Segment.GAP, gap_len, ugap_len)
        with m.If(issuing):
            with m.If(end_of_pass):
                m.d.sync += [seg_reg.eq(nxt), ti_reg.eq(0), tj_reg.eq(0), left.eq(gap_of_next)]
            with m.Elif(column_major):
                m.d.sync += [ti_reg.eq(Mux(ti == TI - 1, 0, ti + 1)),
                             tj_reg.eq(Mux(ti == TI - 1, tj + 1, tj)), seg_reg.eq(seg)]
            with m.Else():
                m.d.sync += [tj_reg.eq(Mux(tj == TJ - 1, 0, tj + 1)),
                             ti_reg.eq(Mux(tj == TJ - 1, ti + 1, ti)), seg_reg.eq(seg)]
        with m.Elif((seg == Segment.GAP) | (seg == Segment.UPDATE_GAP)):
            # (``left`` was loaded as the gap began, or is the new tick's for a lead)
            now = Mux(self.commit, new_gap, left) if lead else left
            m.d.sync += [left.eq(now - 1), seg_reg.eq(Mux(now == 1, nxt, seg))]
        with m.Else():
            m.d.sync += seg_reg.eq(seg)
        return m
