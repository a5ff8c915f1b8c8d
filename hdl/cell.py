"""One layer cell: the pipeline stage that owns W_l and does both Euler updates.

Per tick the cell runs up to three passes over its weight matrix, one tile of
``rows x cols`` weights per cycle on ``rows * cols`` multipliers:

- forward  h = W s_{l-1} + b, row tiles outer (rows finish early, feeding s_l);
- adjoint  W^T d for the layer below, column tiles outer (columns finish early);
- gradient G += d s_{l-1}^T (and, on the last sample, W -= lr * G), row-major.

Pipeline: issue (memory address) -> MAC (products, accumulate, G/W write-back)
-> finish (round, saturate, activate, Euler blend into the *next* state). With
``pipeline`` set, registers split MAC (products | accumulate), the SGD step
(G write-back | shift, subtract | W write) and finish (activate | blend). The
control unit ends a tick (``commit``) once every cell's results are final; then
the next state becomes the current one in all cells at once (lockstep, Jacobi).
``firmware_py.contract.cycles.cell_work`` is the cycle contract of one tick.
"""

import operator

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.cycles import gap_slots

from .cell_links import CellControl, CellStats, HostAccess, HostTarget, TargetLink, VectorLink
from .family import family_of
from .fixed import (
    activate,
    apply_fprime,
    block_ram,
    euler_blend,
    minus_rounded,
    round_finish,
    round_prepare,
    rshift_round_var,
    saturate,
)
from .multiplier import Multiplier
from .tile_memory import TileMemory

__all__ = ["LayerCell"]


def tree(values, op=operator.add):
    """Balanced tree of ``op`` (a Python ``sum`` would build a chain as deep as the list)."""
    values = list(values)
    while len(values) > 1:
        values = [op(values[k], values[k + 1]) if k + 1 < len(values) else values[k]
                  for k in range(0, len(values), 2)]
    return values[0] if values else Const(0)


STATS_GROUP = 16   # with pipeline 2, saturation flags are counted in registered groups this size


def tree_sum(values):
    """Balanced adder tree."""
    return tree(values)


class Pass(enum.Enum, shape=2):
    NONE = 0
    FWD = 1
    BWD = 2
    GRAD = 3


class LayerCell(wiring.Component):
    """Layer l of the chain; see the module docstring for the schedule."""

    def __init__(self, config: DyadicConfig, l: int):
        self.config, self.l = config, l
        self.n_out, self.n_in = config.sizes[l], config.sizes[l - 1]
        self.act = config.activations[l - 1]
        self.tiling = config.tiling(l)
        self.stash_depth = 2 * (config.L - l) + 1
        super().__init__({
            "ctl": In(CellControl()),
            "below": In(VectorLink(self.n_in, config.act.bits, config.sens.bits)),
            "above": Out(VectorLink(self.n_out, config.act.bits, config.sens.bits)),
            "lam_in": In(TargetLink(self.n_out, config.sens.bits)),
            "lam_out": Out(TargetLink(self.n_in, config.sens.bits)),
            "host": In(HostAccess()),
            "host_i": In(stream.Signature(32)),
            "host_o": Out(stream.Signature(32)),
            "stats": Out(CellStats(self.tiling.multipliers)),
        })

    def elaborate(self, platform):
        m = Module()
        c, T = self.config, self.tiling
        N, M, R, C = self.n_out, self.n_in, T.rows, T.cols
        TI, TJ, TT = T.ti, T.tj, T.tiles
        act_f, sens_f, w_f = c.act, c.sens, c.weight
        guard, master, grad_f = c.weight_guard, c.master, c.grad
        P = min(c.pipeline, 1)   # products, SGD and blend stages registered
        Q = int(c.pipeline == 2)  # and the multiplier operands (hdl/multiplier.py)
        LM = P + Q                # registers between the memory read and stage M
        act = self.act
        ctl = self.ctl

        # -- memories ------------------------------------------------------------------
        # W feeds the multipliers, and G the gradient adders, in the cycle they are read.
        # With the pipeline on an ECP5 both go to distributed RAM (a flip-flop's
        # clock-to-output, against a block RAM's 5.6 ns); an iCE40 has no distributed RAM,
        # and its block RAM is quick enough for its clock.
        fast = P and family_of(platform) == "ecp5"

        def tile_attrs(bits):
            return {"ram_style": "distributed"} if fast else block_ram(bits * R * C, TT)

        # With Q there, a bank per row of lanes, each with its own read address register
        # (hdl/tile_memory.py).
        banks = R if fast and Q else 1
        m.submodules.wmem = wmem = TileMemory(signed(master.bits), R * C, TT, banks=banks,
                                              attrs=tile_attrs(master.bits))
        # Transparent: a one-tile cell may read a tile in the cycle its last update lands.
        m.submodules.gmem = gmem = TileMemory(signed(grad_f.bits), R * C, TT, banks=banks,
                                              attrs=tile_attrs(grad_f.bits), transparent=True)
        stash_layout = data.StructLayout({"s": data.ArrayLayout(signed(act_f.bits), M),
                                          "code": data.ArrayLayout(2, N)})
        m.submodules.stash = stash = Memory(shape=stash_layout, depth=self.stash_depth, init=[],
                                          attrs=block_ram(stash_layout.size, self.stash_depth))
        st_rd, st_wr = stash.read_port(), stash.write_port()

        # -- registers -----------------------------------------------------------------
        vec = data.ArrayLayout

        def reg(value, name, reset_less=False):
            """``value`` one cycle later."""
            r = Signal(Value.cast(value).shape(), name=name, reset_less=reset_less)
            m.d.sync += r.eq(value)
            return r

        s = Signal(vec(signed(act_f.bits), N))
        s_next = Signal(vec(signed(act_f.bits), N))
        lam = Signal(vec(signed(sens_f.bits), N))
        lam_next = Signal(vec(signed(sens_f.bits), N))
        code_now = Signal(vec(2, N))
        bias = Signal(vec(signed(master.bits), N))
        gbias = Signal(vec(signed(grad_f.bits), N))
        m.d.comb += [self.above.s.eq(s), self.above.lam.eq(lam)]

        # tick flags, latched at commit
        f_fwd = Signal()
        f_bwd = Signal()
        f_grad = Signal()
        f_first = Signal()
        f_update = Signal()
        f_relax = Signal()
        f_readout = Signal()
        f_dt = Signal(4)
        f_lr = Signal(5)
        steps = c.update_steps(self.l)    # serial weight update, one step a cycle
        serial = steps > 0
        need = Signal(range(4 * TT + 12 + steps))
        cnt = Signal(range(4 * TT + 12 + steps))
        ready = Signal()
        bwd_en = ctl.bwd if self.l > 1 else Const(0)

        def gap_count(fwd, bwd, grd, relax):
            """``cycles.gap_slots`` for these flags (its constants folded here)."""
            gb, gg = (gap_slots(TI, TJ, b, g, LM) for b, g in ((True, False), (False, True)))
            return Mux(relax & fwd, Mux(bwd, Mux(grd, max(gb, gg), gb), Mux(grd, gg, 0)), 0)

        def vmax(a, b):
            return Mux(a > b, a, b)

        with m.If(ctl.commit):
            m.d.sync += [f_fwd.eq(ctl.fwd), f_bwd.eq(bwd_en), f_grad.eq(ctl.grad),
                         f_first.eq(ctl.first), f_update.eq(ctl.update),
                         f_relax.eq(ctl.relax), f_readout.eq(ctl.readout),
                         f_dt.eq(ctl.dt_shift), f_lr.eq(ctl.lr_shift), cnt.eq(1)]
            # need = cell_work(...)[1], built from the flags
            fwd, bwd, grd = ctl.fwd, bwd_en, ctl.grad
            gap = gap_count(fwd, bwd, grd, ctl.relax)
            # (Mux, not *, so that no multiplier is inferred)
            issue = Mux(fwd, TT, 0) + Mux(bwd, TT, 0) + Mux(grd, TT, 0) + gap
            state_end = Mux(fwd, TT, 0) + Mux(bwd, TT, 0) + Mux(bwd, gap, 0)
            n = Mux(fwd | bwd, vmax(state_end + 1 + P + LM, issue), issue)
            if LM + 1 - TT > 0:     # short gradient pass: write-backs land before re-reads
                n = Mux(grd, vmax(n, issue + (LM + 1 - TT)), n)
            if serial:              # the serial update lands by the end of the tick
                n = Mux(grd & ctl.update, vmax(n, issue + LM + steps + 3 + Q), n)
            elif LM + 2 * P:        # the weight update lands by the end of the tick
                n = Mux(grd & ctl.update, vmax(n, issue + LM + 2 * P), n)
            if P:                   # the core's output error takes three cycles (core.py)
                n = vmax(n, 3)
            m.d.sync += [need.eq(n), ready.eq(n <= 1)]
        with m.Elif(cnt < need):
            m.d.sync += [cnt.eq(cnt + 1), ready.eq(cnt + 1 >= need)]
        # ready == (cnt >= need) & (cnt >= 1), kept in a register: it gates the commit of
        # every cell, so a comparator there would start the longest path of the chip
        m.d.comb += [ctl.ready.eq(ready), ctl.ready_next.eq(ready | (cnt + 1 == need))]

        # -- stage 0: issue ------------------------------------------------------------
        # Pass order forward, [gap], adjoint, gradient; the first tile issues in the commit
        # cycle with the new flags, so there are no idle slots between ticks.
        # A tick ends only after its last issue slot, which leaves the tile counters at 0
        # and no gap pending: the first tile's address needs nothing from the commit.
        p_reg = Signal(Pass)
        ti_cur = Signal(range(TI))
        tj_cur = Signal(range(TJ))
        gap_max = gap_slots(TI, TJ, True, True, LM)
        gap_cur = Signal(range(gap_max + 1))   # idle slots left before the adjoint/gradient passes
        p_cur = Signal(Pass)
        g_fwd = Signal()
        g_bwd = Signal()
        g_grad = Signal()
        g_gap = Signal.like(gap_cur)
        with m.If(ctl.commit):
            m.d.comb += [g_fwd.eq(ctl.fwd), g_bwd.eq(bwd_en), g_grad.eq(ctl.grad),
                         g_gap.eq(gap_count(ctl.fwd, bwd_en, ctl.grad, ctl.relax))]
            m.d.comb += p_cur.eq(Mux(ctl.fwd, Pass.FWD, Mux(bwd_en, Pass.BWD,
                                 Mux(ctl.grad, Pass.GRAD, Pass.NONE))))
        with m.Else():
            m.d.comb += [g_fwd.eq(f_fwd), g_bwd.eq(f_bwd), g_grad.eq(f_grad),
                         g_gap.eq(gap_count(f_fwd, f_bwd, f_grad, f_relax)),
                         p_cur.eq(p_reg)]

        issue_valid = (p_cur != Pass.NONE) & (gap_cur == 0)
        last_tile = Signal()
        m.d.comb += last_tile.eq(Mux(p_cur == Pass.BWD, (tj_cur == TJ - 1) & (ti_cur == TI - 1),
                                     (ti_cur == TI - 1) & (tj_cur == TJ - 1)))
        next_pass = Signal(Pass)
        with m.Switch(p_cur):
            with m.Case(Pass.FWD):
                m.d.comb += next_pass.eq(Mux(g_bwd, Pass.BWD, Mux(g_grad, Pass.GRAD, Pass.NONE)))
            with m.Case(Pass.BWD):
                m.d.comb += next_pass.eq(Mux(g_grad, Pass.GRAD, Pass.NONE))
            with m.Default():
                m.d.comb += next_pass.eq(Pass.NONE)
        m.d.sync += p_reg.eq(p_cur)
        with m.If(gap_cur != 0):
            m.d.sync += gap_cur.eq(gap_cur - 1)
        with m.Elif(issue_valid):
            with m.If(last_tile):
                m.d.sync += [p_reg.eq(next_pass), ti_cur.eq(0), tj_cur.eq(0),
                             gap_cur.eq(Mux(p_cur == Pass.FWD, g_gap, 0))]
            with m.Elif(p_cur == Pass.BWD):  # column tiles outer
                with m.If(ti_cur == TI - 1):
                    m.d.sync += [ti_cur.eq(0), tj_cur.eq(tj_cur + 1)]
                with m.Else():
                    m.d.sync += ti_cur.eq(ti_cur + 1)
            with m.Else():                   # row tiles outer
                with m.If(tj_cur == TJ - 1):
                    m.d.sync += [tj_cur.eq(0), ti_cur.eq(ti_cur + 1)]
                with m.Else():
                    m.d.sync += tj_cur.eq(tj_cur + 1)

        # tile address ti * TJ + tj, from a small constant table (no multiplier)
        addr_of = Array([Const(ti * TJ, range(TT)) for ti in range(TI)])
        issue_addr = Signal(range(TT))
        m.d.comb += issue_addr.eq(addr_of[ti_cur] + tj_cur)

        # stage 1 registers
        s1_valid = Signal()
        s1_pass = Signal(Pass)
        s1_ti = Signal(range(TI))
        s1_tj = Signal(range(TJ))
        s1_addr = Signal(range(TT))
        m.d.sync += [s1_valid.eq(issue_valid), s1_pass.eq(p_cur), s1_ti.eq(ti_cur),
                     s1_tj.eq(tj_cur), s1_addr.eq(issue_addr)]

        # -- host access FSM (datapath idle) --------------------------------------------
        h_active = Signal()
        h_write = Signal()
        h_target = Signal(HostTarget)
        h_vec = Signal()          # second phase: the vector (b, G_b, lam)
        h_ti = Signal(range(TI))
        h_a = Signal(range(R))
        h_tj = Signal(range(TJ))
        h_b = Signal(range(C))
        h_i = Signal(range(N))
        h_phase = Signal(range(3 + Q))  # reads: address, select (two cycles with Q), send;
        #                                  writes with Q: take the word, write it
        # tile address ti * TJ + tj and lane a * C + b, counted along with them: the host
        # read path (the lane select of a wide tile) starts at a flip-flop
        h_addr = Signal(range(TT))
        h_lane = Signal(range(R * C))
        h_onehot = Cat(h_lane == k for k in range(R * C))
        h_row_last = (h_ti == (N - 1) // R) & (h_a == (N - 1) % R)
        h_col_last = (h_tj == (M - 1) // C) & (h_b == (M - 1) % C)
        h_matrix = (h_target != HostTarget.STATE) & ~h_vec
        h_elem_last = Signal()
        m.d.comb += h_elem_last.eq(Mux(h_matrix, h_row_last & h_col_last, h_i == N - 1))
        h_advance = Signal()
        # The window: elements left to skip before the offset, then to move. Each cell
        # counts its own, so the handshakes it gates stay inside the cell (counters in the
        # core would be a round trip across the die). h_skip == (h_off != 0) and
        # h_last == ~h_skip & (h_cnt == 1) at all times, kept in registers.
        total = max(N * M + N, 2 * N)
        h_off = Signal(range(total + 1))
        h_cnt = Signal(range(total + 1))
        h_skip = Signal()
        h_last = Signal()
        off, count = self.host.offset[:len(h_off)], self.host.count[:len(h_cnt)]
        with m.If(self.host.start):
            m.d.sync += [h_active.eq(1), h_write.eq(self.host.write),
                         h_target.eq(self.host.target), h_vec.eq(0), h_ti.eq(0), h_a.eq(0),
                         h_tj.eq(0), h_b.eq(0), h_i.eq(0), h_phase.eq(0), h_addr.eq(0),
                         h_lane.eq(0), h_off.eq(off), h_cnt.eq(count),
                         h_skip.eq(off != 0), h_last.eq((off == 0) & (count == 1))]
        # The position after this element. With Q it is worked out a cycle ahead into
        # registers and an advance only loads it, so the walk's compares and carries are not
        # in series with the handshake. A word takes two cycles or
        # more, and a skip waits for h_fresh, so the registers are never stale when loaded.
        walk = [h_vec, h_ti, h_a, h_tj, h_b, h_i, h_addr, h_lane, h_off, h_cnt, h_skip,
                h_last]
        nxt = {id(w): Signal.like(w, name=f"{w.name}_next") for w in walk}

        def n(w):
            return nxt[id(w)]
        ahead = m.d.sync if Q else m.d.comb
        ahead += [n(w).eq(w) for w in walk]
        with m.If(h_skip):
            ahead += [n(h_off).eq(h_off - 1), n(h_skip).eq(h_off != 1),
                      n(h_last).eq((h_off == 1) & (h_cnt == 1))]
        with m.Else():
            ahead += [n(h_cnt).eq(h_cnt - 1), n(h_last).eq(h_cnt == 2)]
        with m.If(h_elem_last):
            ahead += [n(h_vec).eq(1), n(h_i).eq(0)]   # on to b, G_b or lam
        with m.Elif(h_matrix):
            with m.If(h_col_last):      # (tj is TJ - 1 here)
                ahead += [n(h_tj).eq(0), n(h_b).eq(0)]
                with m.If(h_a == R - 1):
                    ahead += [n(h_a).eq(0), n(h_ti).eq(h_ti + 1), n(h_addr).eq(h_addr + 1),
                              n(h_lane).eq(0)]
                with m.Else():
                    ahead += [n(h_a).eq(h_a + 1), n(h_addr).eq(h_addr - (TJ - 1)),
                              n(h_lane).eq(h_lane + (C - (M - 1) % C))]
            with m.Elif(h_b == C - 1):
                ahead += [n(h_b).eq(0), n(h_tj).eq(h_tj + 1), n(h_addr).eq(h_addr + 1),
                          n(h_lane).eq(h_lane - (C - 1))]
            with m.Else():
                ahead += [n(h_b).eq(h_b + 1), n(h_lane).eq(h_lane + 1)]
        with m.Else():
            ahead += n(h_i).eq(h_i + 1)
        h_fresh = Signal(init=1) if Q else Const(1)
        if Q:
            m.d.sync += h_fresh.eq(~self.host.start & ~(h_active & h_advance))
        m.d.sync += self.host.done.eq(h_advance & h_last)   # (h_advance only while active)
        with m.If(h_active & h_advance):
            m.d.sync += [w.eq(n(w)) for w in walk]
            with m.If(h_last):
                m.d.sync += h_active.eq(0)
        # writes: one word per cycle (two with Q); reads: address, then select into a
        # register, then send (three or four cycles per word: the link's bytes take far
        # longer)
        h_word = Signal(32)
        with m.If(h_active & h_skip):
            m.d.comb += h_advance.eq(h_fresh)      # skip to the window
        with m.Elif(h_active & h_write):
            if Q:
                # the word is taken into a register and written the cycle after, so the
                # write enable of every lane starts at this cell's flip-flops, not at the
                # core's command decoder
                with m.If(h_phase == 0):
                    m.d.comb += self.host_i.ready.eq(1)
                    with m.If(self.host_i.valid):
                        m.d.sync += [h_word.eq(self.host_i.payload), h_phase.eq(1)]
                with m.Else():
                    m.d.comb += h_advance.eq(1)
                    m.d.sync += h_phase.eq(0)
            else:
                m.d.comb += [self.host_i.ready.eq(1), h_advance.eq(self.host_i.valid),
                             h_word.eq(self.host_i.payload)]
        with m.Elif(h_active & ~h_write):
            with m.If(h_phase != 2 + Q):
                m.d.sync += h_phase.eq(h_phase + 1)
            with m.Else():
                m.d.comb += [self.host_o.valid.eq(1), h_advance.eq(self.host_o.ready)]
                with m.If(self.host_o.ready):
                    m.d.sync += h_phase.eq(0)
        # Host writes to the vectors enter through the datapath's lane values, so a
        # register needs no second data input (only its enable sees the host).
        h_we = Signal()
        m.d.comb += h_we.eq(h_active & h_write & ~h_skip
                            & ((h_phase == 1) if Q else self.host_i.valid))
        h_we_b = h_we & h_vec & (h_target == HostTarget.PARAMS)
        h_we_s = h_we & ~h_vec & (h_target == HostTarget.STATE)
        h_we_lam = h_we & h_vec & (h_target == HostTarget.STATE)
        # The host's reads and the serial weight update (never at once) share one lane
        # select on the tile memories and one element select on the bias vectors (the host
        # reads s and lam through the same kind of select). With Q it takes two cycles and
        # starts at flip-flops: the index is taken a cycle ahead (the update's stage A; the
        # host's holds still), each group of 8 picks by its low bits into a register that is
        # cleared unless the group is picked, and the next cycle the word is an OR of the
        # groups: on a wide tile neither a select over every lane nor the index's mux in
        # front of a group's pick has a cycle to itself otherwise.
        rd_lane = Signal(range(R * C))
        rd_i = Signal(range(N))
        m.d.comb += [rd_lane.eq(h_lane), rd_i.eq(h_i)]

        def select(words, idx, name):
            if not Q:
                return Array(words)[idx]
            lo, groups = reg(idx[:3], f"{name}_lo"), []
            for g in range(0, len(words), 8):
                grp = Signal(Value.cast(words[0]).shape(), name=f"{name}_grp{g // 8}")
                pick = Array(words[g:g + 8])[lo]
                if len(words) > 8:
                    pick = Mux(reg(idx[3:] == g // 8, f"{name}_hit{g // 8}"), pick, 0)
                m.d.sync += grp.eq(pick)
                groups.append(grp)
            return tree(groups, operator.or_)

        w_sel = select([wmem.rd_data[k] for k in range(R * C)], rd_lane, "w_sel")
        g_sel = select([gmem.rd_data[k] for k in range(R * C)], rd_lane, "g_sel")
        b_sel = select([bias[i] for i in range(N)], rd_i, "b_sel")
        gb_sel = select([gbias[i] for i in range(N)], rd_i, "gb_sel")
        s_sel = select([s[i] for i in range(N)], rd_i, "s_sel")
        lam_sel = select([lam[i] for i in range(N)], rd_i, "lam_sel")
        # STATE's first phase is the s vector: treat h_vec == 0 as "s", 1 as "lam". With
        # pipeline 2 the word is registered (loaded every cycle: its inputs hold still while
        # it waits to be sent), so the lane select of a wide tile ends at a flip-flop, not in
        # the framer. (Only there: the iCEBreaker's pipeline-1 design has no logic to spare.)
        h_rdata = Signal(32)
        rdata_domain = m.d.sync if Q else m.d.comb
        with m.Switch(h_target):
            with m.Case(HostTarget.PARAMS):
                rdata_domain += h_rdata.eq(Mux(h_vec, b_sel, w_sel))
            with m.Case(HostTarget.GRADS):
                rdata_domain += h_rdata.eq(Mux(h_vec, gb_sel, g_sel))
            with m.Case(HostTarget.STATE):
                rdata_domain += h_rdata.eq(Mux(h_vec, lam_sel, s_sel))
        m.d.comb += self.host_o.payload.eq(h_rdata)

        # -- stage 1: multiply ----------------------------------------------------------------
        # G is first needed in stage M: with P it is read a stage later, so the block RAM's
        # own output register is the stage register (the read is transparent and later than
        # before, so it sees every write-back the earlier read saw)
        ua_valid = Signal()  # serial update, stage A
        ua_tile = Signal(range(TT))
        g_issue = reg(s1_addr, "g_issue") if Q else s1_addr if P else issue_addr
        m.d.comb += [wmem.rd_addr.eq(Mux(h_active, h_addr, Mux(ua_valid, ua_tile, issue_addr))),
                     gmem.rd_addr.eq(Mux(h_active, h_addr,
                                      Mux(ua_valid, ua_tile, g_issue)))]
        w_tile, g_tile = wmem.rd_data, gmem.rd_data
        is_grad = s1_valid & (s1_pass == Pass.GRAD)
        # The stash entry of this tick. With P it is read ahead into a register: the block
        # RAM's clock-to-output (about 6 ns on an ECP5) then stays off the multiplier path.
        # The entry for the next tick sits at ptr all tick long (it is overwritten only at
        # commit) and a pipelined tick lasts at least three cycles, so the read of the
        # cycle before commit already holds it.
        if P:
            st_cur = Signal(stash_layout)
            with m.If(ctl.commit):
                m.d.sync += st_cur.eq(st_rd.data)
        else:
            st_cur = st_rd.data
        st_s, st_code = st_cur.s, st_cur.code
        # d = f'(h) * lam, from this tick's codes (relaxation) or the stash (streaming). With
        # P the choice is made into a register (code_cur, kept below): one level less in
        # front of the multipliers.
        code_cur = Signal(vec(2, N)) if P else None
        d = [Signal(signed(sens_f.bits), name=f"d{i}") for i in range(N)]
        for i in range(N):
            code = code_cur[i] if P else Mux(f_relax, code_now[i], st_code[i])
            m.d.comb += d[i].eq(apply_fprime(act, code, lam[i]))
        s_grad = [Mux(f_relax, self.below.s[j], st_s[j]) for j in range(M)]

        def pick(values, width, n_tiles, per_tile, tile_sel, lane):
            table = [values[t * per_tile + lane] if t * per_tile + lane < width else Const(0)
                     for t in range(n_tiles)]
            return Array(table)[tile_sel]

        d_row = [pick(d, N, TI, R, s1_ti, a) for a in range(R)]
        s_col = [pick(self.below.s, M, TJ, C, s1_tj, b) for b in range(C)]
        sg_col = [pick(s_grad, M, TJ, C, s1_tj, b) for b in range(C)]
        # op1 is a weight or d, op2 is an activation or d
        op1_bits, op2_bits = max(w_f.bits, sens_f.bits), max(act_f.bits, sens_f.bits)
        prod_bits = op1_bits + op2_bits
        prod = [[Signal(signed(prod_bits), name=f"p{a}_{b}") for b in range(C)]
                for a in range(R)]
        for a in range(R):
            for b in range(C):
                w_op = (w_tile[a * C + b] >> guard)[:w_f.bits].as_signed()
                op1 = Mux(is_grad, d_row[a], w_op)
                op2 = Mux(s1_pass == Pass.FWD, s_col[b], sg_col[b] if self.l == 1 else
                          Mux(s1_pass == Pass.BWD, d_row[a], sg_col[b]))
                if Q:   # operands and product registered (the product in an ECP5 DSP block)
                    mul = Multiplier(op1_bits, op2_bits, prod_bits)
                    m.submodules[f"mul{a}_{b}"] = mul
                    m.d.comb += [mul.a.eq(op1), mul.b.eq(op2), prod[a][b].eq(mul.p)]
                else:
                    m.d.comb += prod[a][b].eq(op1.as_signed() * op2.as_signed())

        # -- stage M: accumulate and write back (stage 1 itself, or one register later) ------
        def registered(value, name, n=1, reset_less=False):
            """``value`` n register stages later when P = 1; ``value`` itself when P = 0."""
            for k in range(n if P else 0):
                value = reg(value, f"{name}_{k}", reset_less)
            return value

        def staged(value, name):
            """``value`` in stage M (``LM`` registers after the memory read)."""
            return registered(value, f"m_{name}", 1 + Q)

        m_valid, m_pass = staged(s1_valid, "valid"), staged(s1_pass, "pass")
        m_ti, m_tj, m_addr = staged(s1_ti, "ti"), staged(s1_tj, "tj"), staged(s1_addr, "addr")
        # first tile of a row / column sum, staged beside the indices: the accumulators'
        # mux selects then start at a flip-flop (they fan out to every bit of every sum)
        m_tj0, m_ti0 = staged(s1_tj == 0, "tj0"), staged(s1_ti == 0, "ti0")
        # flags travel with the data: with P the last tile's write-back may fall after commit
        m_first, m_update = staged(f_first, "first"), staged(f_update, "update")
        m_lr = staged(f_lr, "lr")
        # (no reset: a product register without one can be the DSP's own output register;
        # with Q the multiplier has it)
        m_prod = [[prod[a][b] if Q else registered(prod[a][b], f"m_p{a}_{b}", reset_less=True)
                   for b in range(C)] for a in range(R)]
        m_g = [g_tile[k] for k in range(R * C)]
        m_d = [staged(d_row[a], f"d{a}") for a in range(R)]
        m_fwd, m_bwd, m_grad = (m_valid & (m_pass == p) for p in (Pass.FWD, Pass.BWD, Pass.GRAD))

        # rshift_round(acc, w.frac) == (acc + half) >> w.frac: the sums start at half an
        # LSB, so finishing them is a slice, not a rounding adder. (Free for the bias: its
        # low bits are zero.)
        half = (1 << w_f.frac) >> 1
        # accumulators just wide enough for the largest sum (they never wrap)
        prod_max = 1 << (prod_bits - 2)
        fwd_max = M * prod_max + (1 << (w_f.bits - 1 + act_f.frac)) + half
        acc_r = [Signal(signed(fwd_max.bit_length() + 1), name=f"acc_r{a}") for a in range(R)]
        acc_c = [Signal(signed((N * prod_max + half).bit_length() + 1), name=f"acc_c{b}")
                 for b in range(C)]
        bias_op = [pick([(bias[i] >> guard)[:w_f.bits].as_signed() << act_f.frac
                         for i in range(N)], N, TI, R, m_ti, a) for a in range(R)]
        bias_op = [v | half if half < (1 << act_f.frac) else v + half for v in bias_op]
        with m.If(m_fwd):
            for a in range(R):
                rowsum = tree_sum(m_prod[a][b] for b in range(C))
                m.d.sync += acc_r[a].eq(Mux(m_tj0, bias_op[a], acc_r[a]) + rowsum)
        with m.If(m_bwd):
            for b in range(C if self.l > 1 else 0):     # cell 1 has no adjoint pass
                colsum = tree_sum(m_prod[a][b] for a in range(R))
                m.d.sync += acc_c[b].eq(Mux(m_ti0, half, acc_c[b]) + colsum)

        # gradient write-back in stage M, and the SGD step on the batch's last sample: in
        # stage M too (P = 0), or over two more stages (P = 1): U1 shifts the new gradient
        # by the learning rate, U2 subtracts, saturates and writes W.
        # step = G >> (grad.frac - master.frac + lr): the constant part is wiring
        lr_off = grad_f.frac - master.frac
        rows_ok = Array([Const(min(R, N - ti * R), range(R + 1)) for ti in range(TI)])
        cols_ok = Array([Const(min(C, M - tj * C), range(C + 1)) for tj in range(TJ)])

        def later(value, name, n=1):
            """``value`` n stages after M (U1, U2)."""
            return registered(value, f"u_{name}", n)

        def sgd_step(g, lr_lo, lr_hi, name):
            """round(g / 2^(lr_off + lr)). With P the shift is split:
            by ``lr_hi``, a multiple of 8, one stage ahead, by ``lr_lo`` < 8 the stage
            after (the SGD's path is a shifter, a subtractor and a saturation; half the
            shifter moves a stage up)."""
            if lr_hi is None:
                return rshift_round_var(g, lr_lo, 31, lr_off)
            coarse = round_prepare(g, lr_off) >> Cat(Const(0, 3), lr_hi)
            return round_finish(later(coarse, name) >> lr_lo)

        sat_g = []
        sat_w = []
        g_new = [Signal(signed(grad_f.bits), name=f"g_new{k}") for k in range(R * C)]
        for a in range(R):
            for b in range(C):
                k = a * C + b
                lane_ok = (a < rows_ok[m_ti]) & (b < cols_ok[m_tj])
                g_sum = Mux(m_first, 0, m_g[k]) + m_prod[a][b]
                g_sat, g_of = saturate(g_sum, grad_f)
                m.d.comb += [g_new[k].eq(g_sat), gmem.wr_data[k].eq(g_new[k])]
                sat_g.append(m_grad & lane_ok & g_of)
        m.d.comb += [gmem.wr_addr.eq(m_addr), gmem.wr_en.eq(Mux(m_grad, (1 << R * C) - 1, 0))]

        def row_write(vec, a, hit, value, host_we=None):
            """Row lane a's element of ``vec`` in row tile ti <- value when hit(ti), or any
            element on a host write to it."""
            for ti in range(TI):
                i = ti * R + a
                if i < N:
                    with m.If(hit(ti) if host_we is None else hit(ti) | (host_we & (h_i == i))):
                        m.d.sync += vec[i].eq(value)

        # bias gradients, once per row (first column tile), one unit per row lane
        bias_here = []
        for a in range(R):
            here = m_grad & m_tj0 & (a < rows_ok[m_ti])
            gb_old = pick([gbias[i] for i in range(N)], N, TI, R, m_ti, a)
            gb_sat, gb_of = saturate(Mux(m_first, 0, gb_old) + (m_d[a] << act_f.frac), grad_f)
            row_write(gbias, a, lambda ti, here=here: here & (m_ti == ti), gb_sat)
            sat_g.append(here & gb_of)
            bias_here.append((here, gb_sat))

        if not serial:
            # the SGD step on the batch's last sample, in every lane: in stage M too
            # (P = 0), or over two more stages (P = 1): U1 shifts the new gradient by the
            # learning rate, U2 subtracts, saturates and writes W
            v_upd = later(m_grad & m_update, "upd", 2)
            v_addr, v_ti = later(m_addr, "addr", 2), later(m_ti, "ti", 2)
            u_lr, u_ti = later(m_lr, "lr"), later(m_ti, "ti")
            lr_hi = m_lr[3:] if P else None
            lr_lo = u_lr[:3] if P else u_lr
            for a in range(R):
                for b in range(C):
                    k = a * C + b
                    lane_ok = (a < rows_ok[m_ti]) & (b < cols_ok[m_tj])
                    step = sgd_step(g_new[k], lr_lo, lr_hi, f"g{k}")
                    m_w = staged(w_tile[k], f"w{k}")
                    w_sat, w_of = saturate(later(m_w, f"w{k}") - step, master)
                    m.d.comb += wmem.wr_data[k].eq(later(w_sat, f"w_new{k}"))
                    sat_w.append(v_upd & later(later(lane_ok, f"ok{k}") & w_of, f"w_of{k}"))
            m.d.comb += [wmem.wr_addr.eq(v_addr), wmem.wr_en.eq(Mux(v_upd, (1 << R * C) - 1, 0))]
            for a, (here, gb_sat) in enumerate(bias_here):
                b_step = sgd_step(gb_sat, lr_lo, lr_hi, f"gb{a}")
                v_here = later(here & m_update, f"bias_upd{a}", 2)
                # (a row's bias is updated once per tick, so it is read in U1 and written
                # in U2)
                b_old = pick([bias[i] for i in range(N)], N, TI, R, u_ti, a)
                b_new, b_of_now = saturate(b_old - b_step, master)
                b_sat, b_of = later(b_new, f"b_new{a}"), later(b_of_now, f"b_of{a}")
                row_write(bias, a, lambda ti, v_here=v_here: v_here & (v_ti == ti),
                          Mux(h_we_b, h_word, b_sat), h_we_b)
                sat_w.append(v_here & b_of)
        else:
            # -- serial weight update: one SGD unit, every tile lane then every bias -------
            # Stages: A addresses the tile, B selects the lane (or bias) and shifts by the
            # learning rate's multiple of 8, C shifts the rest, rounds, subtracts and
            # saturates, D writes (with Q, B takes two cycles: the shared select). A starts
            # the cycle after the last gradient write-back.
            ua_lane = Signal(range(R * C))
            ua_i = Signal(range(N))
            ua_bias = Signal()
            start = m_grad & m_update & (m_addr == TT - 1)
            with m.If(start):
                m.d.sync += [ua_valid.eq(1), ua_bias.eq(0), ua_tile.eq(0), ua_lane.eq(0),
                             ua_i.eq(0)]
            with m.Elif(ua_valid & ua_bias):
                m.d.sync += ua_i.eq(ua_i + 1)
                with m.If(ua_i == N - 1):
                    m.d.sync += ua_valid.eq(0)
            with m.Elif(ua_valid):
                m.d.sync += ua_lane.eq(ua_lane + 1)
                with m.If(ua_lane == R * C - 1):
                    m.d.sync += [ua_lane.eq(0), ua_tile.eq(ua_tile + 1)]
                    with m.If(ua_tile == TT - 1):
                        m.d.sync += ua_bias.eq(1)
            ub_valid, ub_bias, ub_tile, ub_lane, ub_i = (reg(v, f"ub_{n}") for v, n in (
                (ua_valid, "valid"), (ua_bias, "bias"), (ua_tile, "tile"), (ua_lane, "lane"),
                (ua_i, "i")))
            # (with Q the selects take their index a cycle ahead, from stage A)
            with m.If(ua_valid if Q else ub_valid):
                m.d.comb += [rd_lane.eq(ua_lane if Q else ub_lane),
                             rd_i.eq(ua_i if Q else ub_i)]
            if Q:       # the selects' second cycle
                ub_valid, ub_bias, ub_tile, ub_lane, ub_i = (reg(v, f"ub2_{n}") for v, n in (
                    (ub_valid, "valid"), (ub_bias, "bias"), (ub_tile, "tile"),
                    (ub_lane, "lane"), (ub_i, "i")))

            coarse = reg(round_prepare(Mux(ub_bias, gb_sel, g_sel), lr_off)
                         >> Cat(Const(0, 3), f_lr[3:]), "uc_coarse")
            uc = [reg(v, f"uc_{n}") for v, n in (
                (ub_valid, "valid"), (ub_bias, "bias"), (ub_tile, "tile"), (ub_lane, "lane"),
                (ub_i, "i"), (Mux(ub_bias, b_sel, w_sel), "w"))]
            uc_valid, uc_bias, uc_tile, uc_lane, uc_i, uc_w = uc
            w_new, w_of = saturate(minus_rounded(uc_w, coarse >> f_lr[:3]), master)
            ud = [reg(v, f"ud_{n}") for v, n in (
                (uc_valid, "valid"), (uc_bias, "bias"), (uc_tile, "tile"), (uc_lane, "lane"),
                (uc_i, "i"), (w_new, "w"), (uc_valid & w_of, "of"))]
            ud_valid, ud_bias, ud_tile, ud_lane, ud_i, ud_w, ud_of = ud
            m.d.comb += [wmem.wr_addr.eq(ud_tile),
                         wmem.wr_en.eq(Mux(ud_valid & ~ud_bias,
                                        Cat(ud_lane == k for k in range(R * C)), 0))]
            for k in range(R * C):
                m.d.comb += wmem.wr_data[k].eq(ud_w)
            b_val = Mux(h_we_b, h_word, ud_w)
            for i in range(N):
                with m.If((ud_valid & ud_bias & (ud_i == i)) | (h_we_b & (h_i == i))):
                    m.d.sync += bias[i].eq(b_val)
            sat_w.append(ud_of)

        # -- stage 2: finish rows (forward) and columns (adjoint) -------------------------
        s2_fwd = Signal()
        s2_bwd = Signal()
        s2_ti = Signal(range(TI))
        s2_tj = Signal(range(TJ))
        m.d.sync += [s2_fwd.eq(m_fwd & (m_tj == TJ - 1)), s2_bwd.eq(m_bwd & (m_ti == TI - 1)),
                     s2_ti.eq(m_ti), s2_tj.eq(m_tj)]
        s_next_new = Signal(vec(signed(act_f.bits), N))
        code_new = Signal(vec(2, N))
        lam_next_new = Signal(vec(signed(sens_f.bits), N))
        m.d.comb += [s_next_new.eq(s_next), code_new.eq(code_now), lam_next_new.eq(lam_next)]
        # With P the Euler blend is one stage later (3): activation and blend together are
        # the longest path of a small FPGA. The derivative codes stay in stage 2, so the
        # relaxation gap (cycles.gap_slots) does not grow.
        s3_fwd, s3_bwd = registered(s2_fwd, "s3_fwd"), registered(s2_bwd, "s3_bwd")
        s3_ti, s3_tj = registered(s2_ti, "s3_ti"), registered(s2_tj, "s3_tj")
        sat_h = []
        for a in range(R):
            h, h_of = saturate(acc_r[a] >> w_f.frac, act_f)
            f, code = activate(act, h, act_f.one)
            f = registered(f, f"f{a}")
            # one Euler blend per row lane (not per neuron): the old s of this lane's row,
            # picked a stage ahead (s holds still until commit, which waits for stage 3)
            s_old = registered(pick([s[i] for i in range(N)], N, TI, R, s2_ti, a), f"s_old{a}")
            blend = Signal(signed(act_f.bits), name=f"blend{a}")
            m.d.comb += blend.eq(euler_blend(s_old, f, f_dt) if c.fractional_dt else f)
            s_val = Mux(h_we_s, h_word, blend)
            for ti in range(TI):
                i = ti * R + a
                if i >= N:
                    continue
                with m.If(s2_fwd & (s2_ti == ti)):
                    m.d.comb += code_new[i].eq(code)
                with m.If((s3_fwd & (s3_ti == ti) & ~f_readout) | (h_we_s & (h_i == i))):
                    m.d.comb += s_next_new[i].eq(s_val)
            sat_h.append(s2_fwd & h_of & (a < rows_ok[s2_ti]))
        sat_lam = []
        for b in range(C if self.l > 1 else 0):
            t, t_of = saturate(acc_c[b] >> w_f.frac, sens_f)
            t = registered(t, f"t{b}")
            # Euler blend with the old lam of the layer below, one unit per column lane
            old = registered(pick([self.below.lam[j] for j in range(M)], M, TJ, C, s2_tj, b),
                             f"lam_old{b}")
            nxt = Signal(signed(sens_f.bits), name=f"lam_blend{b}")
            m.d.comb += nxt.eq(euler_blend(old, t, f_dt) if c.fractional_dt else t)
            for tj in range(TJ):
                j = tj * C + b
                if j >= M:
                    continue
                with m.If(s3_bwd & (s3_tj == tj)):
                    m.d.comb += [self.lam_out.value[j].eq(nxt), self.lam_out.we[j].eq(1)]
            sat_lam.append(s2_bwd & t_of & (b < cols_ok[s2_tj]))
        # next sensitivities from above (blended there)
        for i in range(N):
            with m.If(self.lam_in.we[i]):
                m.d.comb += lam_next_new[i].eq(self.lam_in.value[i])
            with m.If(h_we_lam & (h_i == i)):
                m.d.comb += lam_next_new[i].eq(h_word)
        m.d.sync += [s_next.eq(s_next_new), code_now.eq(code_new), lam_next.eq(lam_next_new)]
        # With P no code is made in a commit cycle (stage 2 is two cycles before the tick may
        # end), so with Q commit takes code_now, a register, instead of the fresh codes' mux.
        code_final = code_now if Q else code_new
        # code_cur == Mux(f_relax, code_now, st_code) at all times; with Q, in relaxation, it
        # follows code_now a cycle later instead (cycles.gap_slots waits for it): the codes'
        # fresh mux then feeds one register, not two placed apart (the stash's and the
        # multipliers' sides of the chip).
        if P:
            with m.If(ctl.commit):
                m.d.sync += code_cur.eq(Mux(ctl.relax, code_final, st_rd.data.code))
            with m.Elif(f_relax):
                m.d.sync += code_cur.eq(code_now if Q else code_new)

        # -- commit: next state becomes current; stash keeps this tick's pair -------------
        ptr = Signal(range(self.stash_depth))
        m.d.comb += [st_wr.addr.eq(ptr), st_rd.addr.eq(ptr), st_rd.en.eq(1 if P else ctl.commit),
                     st_wr.en.eq(ctl.commit),
                     st_wr.data.s.eq(self.below.s), st_wr.data.code.eq(code_final)]
        with m.If(ctl.commit):
            m.d.sync += ptr.eq(Mux(ptr == self.stash_depth - 1, 0, ptr + 1))
        # Host writes land in s_next / lam_next and are copied like a commit: while the
        # datapath is idle the current and next state are equal (the last event was a commit).
        with m.If(ctl.commit | h_we_s | h_we_lam):
            m.d.sync += [s.eq(s_next_new), lam.eq(lam_next_new)]

        # host writes to W (datapath idle; G is never written by the host, so G's write
        # port is the datapath's alone)
        with m.If(h_we & ~h_vec & (h_target == HostTarget.PARAMS)):
            m.d.comb += [wmem.wr_addr.eq(h_addr), wmem.wr_en.eq(h_onehot)]
            for k in range(R * C):
                m.d.comb += wmem.wr_data[k].eq(h_word)

        # -- statistics ----------------------------------------------------------------------
        lanes_ok = Array([Array([Const(min(R, N - ti * R) * min(C, M - tj * C), range(R * C + 1))
                                 for tj in range(TJ)]) for ti in range(TI)])
        m.d.comb += self.stats.busy.eq(Mux(s1_valid, lanes_ok[s1_ti][s1_tj], 0))
        # saturation counts only add up to totals, so with P they arrive two cycles late: the
        # flags are registered, then counted (a count over every lane is an adder tree, which
        # would otherwise follow the gradient adders). With Q a count over more than 16 lanes
        # takes one more cycle: groups of 16 are counted and registered first, as an adder
        # tree over 100 lanes spread across the die does not fit a 75 MHz cycle on the ECP5.
        stats_domain = m.d.sync if P else m.d.comb
        for port, flags in ((self.stats.sat_h, sat_h), (self.stats.sat_lam, sat_lam),
                            (self.stats.sat_grad, sat_g), (self.stats.sat_weight, sat_w)):
            if P and flags:
                flags = list(reg(Cat(flags), f"{port.name}_flags"))
            if Q and len(flags) > STATS_GROUP:
                flags = [reg(tree_sum(flags[k:k + STATS_GROUP]), f"{port.name}_{k // STATS_GROUP}")
                         for k in range(0, len(flags), STATS_GROUP)]
            stats_domain += port.eq(tree_sum(flags))
        return m


