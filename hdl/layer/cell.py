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
    TileTargetLink,
    VectorLink,
    state_commit,
)
from ..tile_memory import COPY_ATTR
from .delay import delayed
from .finish import ColumnFinish, ColumnTileFinish, RowFinish, RowTileFinish
from .host_walk import BankedHostWalk, BankedParamsWalk, HostWalk, ParamsWalk
from .issue import IssueSequencer
from .lane import LaneOp, lane_for
from .lane_memory import memory_for
from .mac_array import MacArray
from .operands import BankColumns, BankRows, ColumnOperands, RowOperands, SampleColumns
from .stash import (
    CodeRing,
    RegisterStash,
    Stash,
    bank_entry,
    index_entry,
    row_entry,
    stash_depth,
)
from .state_banks import StateBanks, StateLink, banks_below
from .stats import CellStatistics
from .update import ShiftOperand

__all__ = ["LeanCell", "SampleWordCell", "HiddenSampleWordCell", "IceCell", "HiddenIceCell",
           "lean_cell_class"]


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
                            memory_for(config, self.tiling), lane_for(config))
        super().__init__(self.input_ports() | {
            "ctl": In(CellControl()),
            "below": In(self.below_link()),
            "above": Out(self.above_link()),
            "lam_in": In(self.lam_in_link()),
            "lam_out": Out(self.lam_out_link()),
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
        self.link_above(m, s, lam)
        lam_new = self.next_lam(m, lam, lam_next)

        m.submodules.stash = stash = self.stash_class(stash_depth(c.L, self.l),
                                                      self.stash_entry())
        m.submodules.shift = shift = ShiftOperand(c, c.grad_frac - c.master.frac + 31)
        m.d.comb += shift.s.eq(c.grad_frac - c.master.frac + lr)

        m.submodules.cols = cols = self.columns()
        m.submodules.rows = rows = self.row_operands()
        m.submodules.mac = mac = self.mac
        m.submodules.row_finish = rfin = self.row_finish()
        m.submodules.host_walk = walk = self.host_walk()
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
            rows.ti.eq(seq.ti), rows.relax.eq(relax), *self.rows_lam(rows, lam),
            *self.rows_codes(m, rows, rfin, stash),
            mac.row.eq(rows.row), mac.col.eq(cols.col)]

        # the finish stages see a tile's sums rt.product_at + rt.tree after its issue
        at_sum = rt.product_at + rt.tree

        def at_sums(value, name, extra=0):
            return delayed(m, value, at_sum + extra, name, reset_less=False)   # (control)

        fwd = at_sums(seq.valid & (seq.op == LaneOp.FORWARD), "fwd_sum")
        m.d.comb += [rfin.valid.eq(fwd), rfin.ti.eq(at_sums(seq.ti, "ti_sum")),
                     rfin.first.eq(at_sums(seq.first, "first_sum")),
                     rfin.last.eq(at_sums(seq.last, "last_sum")),
                     rfin.sums.eq(mac.row_sum), rfin.dt.eq(dt), rfin.readout.eq(readout)]
        self.finish_from(m, rfin, s)
        sat_lam = None
        if self.adjoint:
            late = rt.column_tree          # (the column sums come later)
            m.submodules.column_finish = cfin = self.column_finish()
            bwd = seq.valid & (seq.op == LaneOp.ADJOINT)
            m.d.comb += [cfin.valid.eq(at_sums(bwd, "bwd_sum", late)),
                         cfin.tj.eq(at_sums(seq.tj, "tj_sum", late)),
                         cfin.first.eq(at_sums(seq.first, "cfirst_sum", late)),
                         cfin.last.eq(at_sums(seq.last, "clast_sum", late)),
                         cfin.sums.eq(mac.col_sum), cfin.dt.eq(dt), *self.lam_below(cfin)]
            wiring.connect(m, cfin.lam_out, wiring.flipped(self.lam_out))
            sat_lam = cfin.saturated

        # commit: the next state becomes the current one; the stash keeps this tick's pair
        m.d.comb += [stash.commit.eq(ctl.commit_state[0]), self.stash_input(stash),
                     *self.stash_codes(stash, rfin)]
        for i in range(N):
            with m.If(state_commit(ctl.commit_state, i % T.rows, T.rows)):
                m.d.sync += self.commit_state(s, lam, lam_new, rfin, i)
        # host writes of s and lam: the current and the next value (the datapath is idle).
        # They land a cycle late, from a strobe register an element and a copy of the word
        # a quarter of the vector, beside the registers they write: the walk's index and
        # word reach every state register of the cell, spread over the die.
        m.d.comb += [walk.row_sum.eq(mac.row_sum), *self.walk_state(walk, s, lam)]
        set_s, set_lam = (Signal(N, name=n) for n in ("set_s", "set_lam"))
        m.d.sync += [set_s.eq(Mux(walk.set_s, 1 << walk.index, 0)),
                     set_lam.eq(Mux(walk.set_lam, 1 << walk.index, 0))]
        values = [delayed(m, walk.value[:max(c.act.bits, c.sens.bits)], 1, f"set_value{k}_",
                          attrs={COPY_ATTR: 1}) for k in range(STATE_COMMITS)]
        self.keep_state(m, rfin, rows, walk, set_s, set_lam, values)
        for i in range(N):
            value = state_commit(values, i % T.rows, T.rows)
            self.set_element(m, s, lam, lam_next, rfin, set_s, set_lam, i, value)

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

    # -- where the cell's state lives: registers, read whole by the cell above -----------
    def above_link(self):
        return VectorLink(self.n_out, self.config.act.bits, self.config.sens.bits)

    def lam_in_link(self):
        return TargetLink(self.n_out, self.config.sens.bits)

    def link_above(self, m, s, lam):
        m.d.comb += [self.above.s.eq(s), self.above.lam.eq(lam)]

    def next_lam(self, m, lam, lam_next):
        """lam next with this cycle's writes from above in it: what a commit takes."""
        lam_new = Signal.like(lam_next)
        m.d.comb += lam_new.eq(lam_next)
        for i in range(self.n_out):
            with m.If(self.lam_in.we[i]):
                m.d.comb += lam_new[i].eq(self.lam_in.value[i])
        m.d.sync += lam_next.eq(lam_new)
        return lam_new

    def row_operands(self):
        return RowOperands(self.config, self.rt, self.tiling, self.n_out, self.act)

    def rows_lam(self, rows, lam):
        return [rows.lam.eq(lam)]

    def row_finish(self):
        return RowFinish(self.config, self.tiling, self.n_out, self.act, self.mac.row_sum_bits)

    def host_walk(self):
        walk = HostWalk if self.config.state_access else ParamsWalk
        return walk(self.config, self.rt, self.tiling, self.n_out, self.n_in,
                    self.mac.row_sum_bits)

    def finish_from(self, m, rfin, s):
        m.d.comb += rfin.s.eq(s)

    def commit_state(self, s, lam, lam_new, rfin, i):
        return [s[i].eq(rfin.s_next[i]), lam[i].eq(lam_new[i])]

    def walk_state(self, walk, s, lam):
        return [walk.s.eq(s), walk.lam.eq(lam)]

    def keep_state(self, m, rfin, rows, walk, set_s, set_lam, values):
        """What holds the state beside the registers: here the host's strobes to the
        finish, which holds the next s."""
        m.d.comb += rfin.set.eq(set_s)

    def set_element(self, m, s, lam, lam_next, rfin, set_s, set_lam, i, value):
        m.d.comb += rfin.set_value[i].eq(value)
        with m.If(set_s[i]):
            m.d.sync += s[i].eq(value)
        with m.If(set_lam[i]):
            m.d.sync += [lam[i].eq(value), lam_next[i].eq(value)]

    # -- where its inputs come from: the s below, whole; where the next lam below goes -----
    def below_link(self):
        return VectorLink(self.n_in, self.config.act.bits, self.config.sens.bits)

    def lam_out_link(self):
        return TargetLink(self.n_in, self.config.sens.bits)

    def column_finish(self):
        return ColumnFinish(self.config, self.tiling, self.n_in, self.mac.col_sum_bits,
                            self.rt.link)

    def lam_below(self, cfin):
        return [cfin.lam_below.eq(self.below.lam)]

    def input_ports(self) -> dict:
        return {}

    stash_class = Stash

    def stash_entry(self):
        return row_entry(self.n_in, self.n_out, self.config.act.bits)

    def columns(self):
        return ColumnOperands(self.config, self.rt, self.tiling, self.n_in)

    def column_inputs(self, cols, stash):
        return [cols.s.eq(self.below.s), cols.stash.eq(stash.oldest.s)]

    def stash_input(self, stash):
        return stash.new.s.eq(self.below.s)

    # -- where the stashed derivative codes are kept: in the stash's entries here, in a
    # block RAM of their own beside a ``BankedState`` cell's ---------------------------------
    codes_apart = False

    def rows_codes(self, m, rows, rfin, stash):
        return [rows.code_now.eq(rfin.code_now), rows.code_stash.eq(stash.oldest.code)]

    def stash_codes(self, stash, rfin):
        return [stash.new.code.eq(rfin.code_now)]


# -- the block RAM variants (``"cell": "lean-bram"``): on the iCE40 every state bit in a
# flip-flop costs a logic cell, and on the GW2A per-element enables stall the placer. What a
# cell's state and inputs are kept in, chosen by its place in the chain
# (``lean_cell_class``) ----------------------------------------------------------------------

class BankedState:
    """A hidden cell's s and lam in block RAM (``StateBanks``), a row tile a word: the cell
    above reads s a word a tile, and writes the next lam a word at a time."""

    def above_link(self):
        c = self.config
        return StateLink(self.n_out, self.tiling.rows, banks_below(c, self.l), c.act.bits)

    def lam_in_link(self):
        return TileTargetLink(self.n_out, self.tiling.rows, self.config.sens.bits)

    def link_above(self, m, s, lam):
        pass

    def next_lam(self, m, lam, lam_next):
        return None

    def row_operands(self):
        return BankRows(self.config, self.rt, self.tiling, self.n_out, self.act)

    def rows_lam(self, rows, lam):
        return []

    def row_finish(self):
        return RowTileFinish(self.config, self.tiling, self.n_out, self.act,
                             self.mac.row_sum_bits)

    def host_walk(self):
        walk = BankedHostWalk if self.config.state_access else BankedParamsWalk
        return walk(self.config, self.rt, self.tiling, self.n_out, self.n_in,
                    self.mac.row_sum_bits)

    def finish_from(self, m, rfin, s):
        pass

    def commit_state(self, s, lam, lam_new, rfin, i):
        return []

    def walk_state(self, walk, s, lam):
        return []

    def keep_state(self, m, rfin, rows, walk, set_s, set_lam, values):
        c, T = self.config, self.tiling
        m.submodules.s_banks = s_banks = StateBanks(self.n_out, T.rows,
                                                    banks_below(c, self.l), c.act.bits)
        m.submodules.lam_banks = lam_banks = StateBanks(self.n_out, T.rows, 2, c.sens.bits)
        # the host reads the banks from its window's start to its end (the datapath, and
        # so the cell above, is idle); its writes land a cycle late, as a register's do
        host = Signal()
        with m.If(self.host.start):
            m.d.sync += host.eq(1)
        with m.Elif(walk.host.done):
            m.d.sync += host.eq(0)
        at = [delayed(m, walk.s_ti, 1, "set_ti"), delayed(m, walk.s_lane, 1, "set_lane")]
        for banks, strobe in ((s_banks, walk.set_s), (lam_banks, walk.set_lam)):
            m.d.comb += [banks.commit.eq(self.ctl.commit_state[0]), banks.host.eq(host),
                         banks.host_ti.eq(walk.s_ti),
                         banks.set.eq(delayed(m, strobe, 1, "set_bank", reset_less=False)),
                         banks.set_ti.eq(at[0]), banks.set_lane.eq(at[1]),
                         banks.set_value.eq(values[0])]
        m.d.comb += [
            # s: the finish's row tiles in, the cell above's reads out
            s_banks.wr_mask.eq(rfin.wr.replicate(T.rows)), s_banks.wr_word.eq(rfin.wr_ti),
            s_banks.wr_data.eq(rfin.wr_data), walk.s_word.eq(s_banks.rd_data),
            self.above.bank.eq(s_banks.bank), s_banks.rd_bank.eq(self.above.rd_bank),
            s_banks.rd_word.eq(self.above.rd_word), self.above.data.eq(s_banks.rd_data),
            # lam: the cell above's words in, the row operands' reads out
            lam_banks.wr_mask.eq(self.lam_in.mask), lam_banks.wr_word.eq(self.lam_in.word),
            lam_banks.wr_data.eq(self.lam_in.value), walk.lam_word.eq(lam_banks.rd_data),
            lam_banks.rd_bank.eq(lam_banks.bank), lam_banks.rd_word.eq(rows.lam_word),
            rows.lam.eq(lam_banks.rd_data)]

    def set_element(self, m, s, lam, lam_next, rfin, set_s, set_lam, i, value):
        pass

    # its codes in a ``CodeRing``, read a row tile a word beside lam
    codes_apart = True

    def rows_codes(self, m, rows, rfin, stash):
        T = self.tiling
        m.submodules.code_ring = ring = CodeRing(stash_depth(self.config.L, self.l), T.rows, T.ti)
        m.d.comb += [ring.commit.eq(self.ctl.commit_state[0]), ring.wr.eq(rfin.code_wr),
                     ring.wr_ti.eq(rfin.code_ti), ring.wr_codes.eq(rfin.code_word),
                     ring.rd_ti.eq(rows.lam_word)]
        return [rows.code_now.eq(rfin.code_now), rows.code_stash.eq(ring.rd_codes)]

    def stash_codes(self, stash, rfin):
        return []


class BankInputs:
    """A cell above a ``BankedState`` one: its column operands are words of the s below
    (``BankColumns``), its stash keeps bank numbers, and its next lam below goes a word
    at a time (``ColumnTileFinish``)."""

    def _rows_below(self):
        return self.config.tiling(self.l - 1).rows

    def below_link(self):
        c = self.config
        return StateLink(self.n_in, self._rows_below(), banks_below(c, self.l - 1), c.act.bits)

    def lam_out_link(self):
        return TileTargetLink(self.n_in, self._rows_below(), self.config.sens.bits)

    def column_finish(self):
        return ColumnTileFinish(self.config, self.tiling, self.n_in, self.mac.col_sum_bits,
                                self.rt.link, self._rows_below())

    def lam_below(self, cfin):
        return []

    stash_class = RegisterStash

    def stash_entry(self):
        return bank_entry(banks_below(self.config, self.l - 1), self.n_out,
                          codes=not self.codes_apart)

    def columns(self):
        return BankColumns(self.config, self.rt, self.tiling, self.n_in, self._rows_below(),
                           banks_below(self.config, self.l - 1))

    def column_inputs(self, cols, stash):
        return [cols.bank.eq(self.below.bank), cols.bank_stash.eq(stash.oldest.bank),
                self.below.rd_bank.eq(cols.rd_bank), self.below.rd_word.eq(cols.rd_word),
                cols.word.eq(self.below.data)]

    def stash_input(self, stash):
        return stash.new.bank.eq(self.below.bank)


class SampleInputs:
    """Cell 1 reading its inputs a tile a word from the sample memory
    (``hdl/sample_words.py``) at the tick's sample ``index``, and stashing indices, not
    samples: no copy of a sample in flip-flops."""

    def __init__(self, config: DyadicConfig, l: int = 1):
        if l != 1:
            raise ValueError("only cell 1 reads the sample memory")
        super().__init__(config, l)

    def input_ports(self):
        c, T = self.config, self.config.tiling(1)
        return {"index": In(range(c.samples)), "word_index": Out(range(c.samples)),
                "word_tile": Out(range(T.tj)), "word": In(data.ArrayLayout(c.act.bits, T.cols))}

    stash_class = RegisterStash

    def stash_entry(self):
        return index_entry(self.config.samples, self.n_out, codes=not self.codes_apart)

    def columns(self):
        return SampleColumns(self.config, self.rt, self.tiling, self.n_in)

    def column_inputs(self, cols, stash):
        return [cols.index.eq(self.index), cols.index_stash.eq(stash.oldest.index),
                self.word_index.eq(cols.word_index), self.word_tile.eq(cols.word_tile),
                cols.word.eq(self.word)]

    def stash_input(self, stash):
        return stash.new.index.eq(self.index)


class TopOfChain:
    """The top cell of a ``lean-bram`` chain: the output error writes its lam only in a
    commit's cycle (``err_fire``), so the commit takes the written value, or keeps lam,
    with no lam next register beside it (80 flip-flops of their own on the UP5K)."""

    def next_lam(self, m, lam, lam_next):
        lam_new = Signal.like(lam)
        for i in range(self.n_out):
            m.d.comb += lam_new[i].eq(Mux(self.lam_in.we[i], self.lam_in.value[i], lam[i]))
        return lam_new


class SampleWordCell(TopOfChain, SampleInputs, LeanCell):
    """Cell 1 of a one-layer ``lean-bram`` network."""


class HiddenSampleWordCell(BankedState, SampleInputs, LeanCell):
    """Cell 1 of a deeper ``lean-bram`` network."""


class IceCell(TopOfChain, BankInputs, LeanCell):
    """The top cell of a ``lean-bram`` network of two layers or more."""


class HiddenIceCell(BankedState, BankInputs, LeanCell):
    """A ``lean-bram`` cell between cell 1 and the top."""


def lean_cell_class(config: DyadicConfig, l: int):
    """The class of cell l of a lean configuration."""
    if config.cell == "lean":
        return LeanCell
    hidden = l < config.L
    if l == 1:
        return HiddenSampleWordCell if hidden else SampleWordCell
    return HiddenIceCell if hidden else IceCell
