"""The lean layer cell: layer l of the chain, composed of named parts.

Per tick the ``IssueSequencer`` issues the tick's passes one tile a cycle (forward, the
relaxation gap, adjoint, gradient, update); ``ColumnOperands`` and ``RowOperands`` pick
each tile's operands; the ``MacArray``'s lanes multiply, accumulate G and step W in
their own memories; ``RowFinish`` turns forward sums into the next state and
``ColumnFinish`` adjoint sums into the next lam of the cell below; the ``Stash`` keeps
each tick's inputs and codes for the gradient. At commit the next state becomes the
current one in every cell at once (lockstep). The bias is one more weight column, whose
input is 1.0. Latencies come from the configuration's ``Retiming``; the tick's length from
``retiming.tick_work``.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from ..cell_links import (
    STATE_COMMITS,
    CellControl,
    CellStats,
    HostAccess,
    TargetLink,
    VectorLink,
    state_commit,
)
from ..tile_memory import COPY_ATTR
from .delay import delayed
from .finish import ColumnFinish, RowFinish
from .host_walk import HostWalk
from .issue import IssueSequencer
from .lane import LaneOp
from .lane_memory import memory_for
from .mac_array import MacArray
from .operands import ColumnOperands, RowOperands, SampleColumns
from .stash import Stash, index_entry, row_entry
from .stats import CellStatistics
from .update import ShiftOperand

__all__ = ["LeanCell", "SampleWordCell"]


class LeanCell(wiring.Component):
    def __init__(self, config: DyadicConfig, l: int):
        if not config.lean:
            raise ValueError(f"a LeanCell needs a lean configuration (cell {config.cell!r})")
        self.config, self.l = config, l
        self.n_out, self.n_in = config.sizes[l], config.sizes[l - 1]
        self.act = config.activations[l - 1]
        self.tiling = config.tiling(l)
        self.rt = config.retiming.for_cell(self.tiling)
        self.adjoint = l > 1
        self.mac = MacArray(config, self.rt, self.tiling, self.adjoint,
                            memory_for(self.tiling))
        sens, act = config.sens.bits, config.act.bits
        super().__init__(self.input_ports() | {
            "ctl": In(CellControl()),
            "below": In(VectorLink(self.n_in, act, sens)),
            "above": Out(VectorLink(self.n_out, act, sens)),
            "lam_in": In(TargetLink(self.n_out, sens)),
            "lam_out": Out(TargetLink(self.n_in, sens)),
            "host": In(HostAccess()),
            "host_i": In(stream.Signature(32)),
            "host_o": Out(stream.Signature(32)),
            "stats": Out(CellStats(self.tiling.multipliers)),
        })

    def elaborate(self, platform):
        m = Module()
        c, rt, T, ctl = self.config, self.rt, self.tiling, self.ctl
        N, M = self.n_out, self.n_in
        vec = data.ArrayLayout

        # the tick's flags, latched at commit (the commit cycle's issue uses them directly).
        # ctl.commit is the issue's own copy; the rest take the state's copies
        first, relax, readout = Signal(), Signal(), Signal()
        dt, lr = Signal(4), Signal(5)
        with m.If(ctl.commit):
            m.d.sync += first.eq(ctl.first)
        with m.If(ctl.commit_state[0]):
            m.d.sync += [relax.eq(ctl.relax), readout.eq(ctl.readout),
                         dt.eq(ctl.dt_shift), lr.eq(ctl.lr_shift)]
        m.submodules.issue = seq = IssueSequencer(rt, T, self.adjoint)
        m.d.comb += [seq.commit.eq(ctl.commit), seq.fwd.eq(ctl.fwd), seq.bwd.eq(ctl.bwd),
                     seq.grad.eq(ctl.grad), seq.update.eq(ctl.update), seq.relax.eq(ctl.relax),
                     ctl.ready.eq(seq.ready), ctl.ready_next.eq(seq.ready_next)]

        # state: s and lam now; their next values come from the finish stage and above
        s, lam, lam_next = (Signal(vec(signed(w), N), name=n, reset_less=True) for w, n in (
            (c.act.bits, "s"), (c.sens.bits, "lam"), (c.sens.bits, "lam_next")))
        m.d.comb += [self.above.s.eq(s), self.above.lam.eq(lam)]
        lam_new = Signal.like(lam_next)
        m.d.comb += lam_new.eq(lam_next)
        for i in range(N):
            with m.If(self.lam_in.we[i]):
                m.d.comb += lam_new[i].eq(self.lam_in.value[i])
        m.d.sync += lam_next.eq(lam_new)

        m.submodules.stash = stash = Stash(2 * (c.L - self.l) + 1, self.stash_entry())
        m.submodules.shift = shift = ShiftOperand(c, c.grad_frac - c.master.frac + 31)
        m.d.comb += shift.s.eq(c.grad_frac - c.master.frac + lr)

        m.submodules.cols = cols = self.columns()
        m.submodules.rows = rows = RowOperands(c, rt, T, N, self.act)
        m.submodules.mac = mac = self.mac
        m.submodules.row_finish = rfin = RowFinish(c, T, N, self.act, mac.row_sum_bits)
        m.submodules.host_walk = walk = HostWalk(c, rt, T, N, M, mac.row_sum_bits)
        wiring.connect(m, wiring.flipped(self.host), walk.host)
        wiring.connect(m, wiring.flipped(self.host_i), walk.host_i)
        wiring.connect(m, walk.host_o, wiring.flipped(self.host_o))
        # the datapath's ops: the tick's, or the host walk's while the datapath is idle (an
        # op and address count only in their issue's cycle: every stage carries them on)
        op = Signal(LaneOp)
        m.d.comb += op.eq(Mux(walk.issue, walk.op, seq.op))
        m.d.comb += [
            mac.issue.eq(seq.valid | walk.issue), mac.op.eq(op),
            mac.addr.eq(Mux(walk.issue, walk.addr, seq.addr)),
            mac.clear_g.eq((seq.op == LaneOp.GRADIENT) & Mux(ctl.commit, ctl.first, first)),
            mac.host_word.eq(walk.word), mac.host_lane.eq(walk.lane),
            cols.host_col.eq(walk.col),
            cols.op.eq(op), cols.tj.eq(seq.tj), cols.relax.eq(relax),
            *self.column_inputs(cols, stash), cols.shift.eq(shift.b),
            rows.ti.eq(seq.ti), rows.relax.eq(relax), rows.lam.eq(lam),
            rows.code_now.eq(rfin.code_now), rows.code_stash.eq(stash.oldest.code),
            mac.row.eq(rows.row), mac.col.eq(cols.col)]

        # the finish stages see a tile's sums rt.product_at + rt.tree after its issue
        at_sum = rt.product_at + rt.tree

        def at_sums(value, name, extra=0):
            return delayed(m, value, at_sum + extra, name, reset_less=False)   # (control)

        fwd = at_sums(seq.valid & (seq.op == LaneOp.FORWARD), "fwd_sum")
        m.d.comb += [rfin.valid.eq(fwd), rfin.ti.eq(at_sums(seq.ti, "ti_sum")),
                     rfin.first.eq(at_sums(seq.first, "first_sum")),
                     rfin.last.eq(at_sums(seq.last, "last_sum")),
                     rfin.sums.eq(mac.row_sum), rfin.dt.eq(dt), rfin.readout.eq(readout),
                     rfin.s.eq(s)]
        sat_lam = None
        if self.adjoint:
            late = rt.column_tree          # (the column sums come later)
            m.submodules.column_finish = cfin = ColumnFinish(c, T, M, mac.col_sum_bits, rt.link)
            bwd = seq.valid & (seq.op == LaneOp.ADJOINT)
            m.d.comb += [cfin.valid.eq(at_sums(bwd, "bwd_sum", late)),
                         cfin.tj.eq(at_sums(seq.tj, "tj_sum", late)),
                         cfin.first.eq(at_sums(seq.first, "cfirst_sum", late)),
                         cfin.last.eq(at_sums(seq.last, "clast_sum", late)),
                         cfin.sums.eq(mac.col_sum), cfin.dt.eq(dt),
                         cfin.lam_below.eq(self.below.lam)]
            wiring.connect(m, cfin.lam_out, wiring.flipped(self.lam_out))
            sat_lam = cfin.saturated

        # commit: the next state becomes the current one; the stash keeps this tick's pair
        m.d.comb += [stash.commit.eq(ctl.commit_state[0]), self.stash_input(stash),
                     stash.new.code.eq(rfin.code_now)]
        for i in range(N):
            with m.If(state_commit(ctl.commit_state, i % T.rows, T.rows)):
                m.d.sync += [s[i].eq(rfin.s_next[i]), lam[i].eq(lam_new[i])]
        # host writes of s and lam: the current and the next value (the datapath is idle).
        # They land a cycle late, from a strobe register an element and a copy of the word
        # a quarter of the vector, beside the registers they write: the walk's index and
        # word reach every state register of the cell, spread over the die.
        m.d.comb += [walk.row_sum.eq(mac.row_sum), walk.s.eq(s), walk.lam.eq(lam)]
        set_s, set_lam = (Signal(N, name=n) for n in ("set_s", "set_lam"))
        m.d.sync += [set_s.eq(Mux(walk.set_s, 1 << walk.index, 0)),
                     set_lam.eq(Mux(walk.set_lam, 1 << walk.index, 0))]
        values = [delayed(m, walk.value[:max(c.act.bits, c.sens.bits)], 1, f"set_value{k}_",
                          attrs={COPY_ATTR: 1}) for k in range(STATE_COMMITS)]
        m.d.comb += rfin.set.eq(set_s)
        for i in range(N):
            value = state_commit(values, i % T.rows, T.rows)
            m.d.comb += rfin.set_value[i].eq(value)
            with m.If(set_s[i]):
                m.d.sync += s[i].eq(value)
            with m.If(set_lam[i]):
                m.d.sync += [lam[i].eq(value), lam_next[i].eq(value)]

        widths = {"sat_h": T.rows, "sat_grad": T.multipliers, "sat_weight": T.multipliers}
        if sat_lam is not None:
            widths["sat_lam"] = T.cols
        m.submodules.statistics = st = CellStatistics(T, N, M, T.multipliers, widths)
        m.d.comb += [st.valid.eq(seq.valid), st.op.eq(seq.op), st.ti.eq(seq.ti),
                     st.tj.eq(seq.tj), st.sat_h.eq(rfin.saturated),
                     st.sat_grad.eq(mac.g_saturated), st.sat_weight.eq(mac.w_saturated)]
        if sat_lam is not None:
            m.d.comb += st.sat_lam.eq(sat_lam)
        wiring.connect(m, st.stats, wiring.flipped(self.stats))
        return m

    # -- what cell 1 of a variant takes differently: where its inputs come from ------------
    def input_ports(self) -> dict:
        return {}

    def stash_entry(self):
        return row_entry(self.n_in, self.n_out, self.config.act.bits)

    def columns(self):
        return ColumnOperands(self.config, self.rt, self.tiling, self.n_in)

    def column_inputs(self, cols, stash):
        return [cols.s.eq(self.below.s), cols.stash.eq(stash.oldest.s)]

    def stash_input(self, stash):
        return stash.new.s.eq(self.below.s)


class SampleWordCell(LeanCell):
    """Cell 1 reading its inputs a tile a word from the sample memory
    (``hdl/sample_words.py``) at the tick's sample ``index``, and stashing indices, not
    samples (``"cell": "lean-ice40"``): no copy of a sample in flip-flops."""

    def __init__(self, config: DyadicConfig, l: int = 1):
        if l != 1:
            raise ValueError("only cell 1 reads the sample memory")
        super().__init__(config, l)

    def input_ports(self):
        c, T = self.config, self.config.tiling(1)
        return {"index": In(range(c.samples)), "word_index": Out(range(c.samples)),
                "word_tile": Out(range(T.tj)), "word": In(data.ArrayLayout(c.act.bits, T.cols))}

    def stash_entry(self):
        return index_entry(self.config.samples, self.n_out)

    def columns(self):
        return SampleColumns(self.config, self.rt, self.tiling, self.n_in)

    def column_inputs(self, cols, stash):
        return [cols.index.eq(self.index), cols.index_stash.eq(stash.oldest.index),
                self.word_index.eq(cols.word_index), self.word_tile.eq(cols.word_tile),
                cols.word.eq(self.word)]

    def stash_input(self, stash):
        return stash.new.index.eq(self.index)
