"""The host's access to a cell while its datapath is idle: the walk over a target's
elements in protocol order, each moved through the cell's own datapath.

PARAMS is W row-major, then b; GRADS is G_W, then G_b; STATE is s, then lam (see
``cell_links.HostAccess``). W and G live in the lanes' memories, b and G_b as the bias
column (input M). A read issues READ_W or READ_G at the element's tile with 1 in its
column: its row lane's adder tree then carries the word, and no select over every lane
is needed. A write issues WRITE_W, and the lane marked by ``lane`` takes the word. s and
lam are read and written at their registers. Elements before ``offset`` are skipped
(they move no data); ``done`` follows the last of ``count``.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import Retiming

from ..cell_links import HostAccess, HostTarget
from .lane import LaneOp
from .mac_array import ROW_GROUP

__all__ = ["HostWalk", "BankedHostWalk", "ParamsWalk", "BankedParamsWalk"]


class HostWalk(wiring.Component):
    carries_state = True        # STATE is a target (``ParamsOnly``: it is not)

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, n_out: int, n_in: int,
                 sum_bits: int):
        self.config, self.rt, self.tiling = config, rt, tiling
        self.n_out, self.n_in = n_out, n_in
        T, vec = tiling, data.ArrayLayout
        super().__init__({
            "host": In(HostAccess()),
            "host_i": In(stream.Signature(32)), "host_o": Out(stream.Signature(32)),
            # to the datapath: one op, then the row sums it makes
            "issue": Out(1), "op": Out(LaneOp), "addr": Out(range(T.tiles)),
            "col": Out(range(T.cols)), "lane": Out(T.multipliers),
            "word": Out(signed(config.master.bits)),
            "row_sum": In(vec(signed(sum_bits), T.rows)),
            # the state registers
            **self.state_ports(),
            "set_s": Out(1), "set_lam": Out(1), "index": Out(range(n_out)),
            "value": Out(32)})

    def elaborate(self, platform):
        m = Module()
        T, N, M, rt = self.tiling, self.n_out, self.n_in, self.rt
        R, C = T.rows, T.cols

        # the element: (ti, a) its row, (tj, b) its column; ``vec``: the vector phase
        target, write, vec = Signal(HostTarget), Signal(), Signal()
        ti, a = Signal(range(T.ti)), Signal(range(R))
        tj, b = Signal(range(T.tj)), Signal(range(C))
        i = Signal(range(N))
        total = N * M + N
        skip, left = Signal(range(total + 1)), Signal(range(total + 1))
        state = (target == HostTarget.STATE) if self.carries_state else Const(0)
        last_row = (ti == (N - 1) // R) & (a == (N - 1) % R)
        last_col = (tj == (M - 1) // C) & (b == (M - 1) % C)

        def next_row():
            m.d.sync += [i.eq(i + 1), a.eq(Mux(a == R - 1, 0, a + 1)),
                         ti.eq(Mux(a == R - 1, ti + 1, ti))]

        def advance():
            """On to the next element in protocol order."""
            with m.If(~vec & ~state & ~last_col):            # along a row of W
                m.d.sync += [b.eq(Mux(b == C - 1, 0, b + 1)), tj.eq(Mux(b == C - 1, tj + 1, tj))]
            with m.Elif(~vec & ~state):                        # the row's end
                m.d.sync += [b.eq(0), tj.eq(0)]
                with m.If(last_row):
                    m.d.sync += [vec.eq(1), i.eq(0), a.eq(0), ti.eq(0),
                                 tj.eq(M // C), b.eq(M % C)]   # the bias column
                with m.Else():
                    next_row()
            with m.Elif(~vec & state & (i == N - 1)):          # s done: on to lam
                m.d.sync += [vec.eq(1), i.eq(0), a.eq(0), ti.eq(0)]
            with m.Else():
                next_row()

        # The datapath sees the walk's op from registers, one cycle after the FSM issues
        # it: the op fans out to every lane's copy across the die, and the FSM's decode in
        # front of that route was the routed 85F's critical path (boards/README.md). The
        # host walk is outside the cycle model, so the cycle is free.
        issue, op = Signal(), Signal(LaneOp)
        m.d.sync += self.issue.eq(issue)        # (control)
        for name, value in (("op", op),
                            ("addr", Array(Const(t * T.tj, range(T.tiles))
                                              for t in range(T.ti))[ti] + tj),
                            ("col", b),
                            # (a one-hot decode: ``a * C + b`` would be a multiplier)
                            ("lane", Cat((a == k // C) & (b == k % C)
                                            for k in range(T.multipliers)))):
            port = getattr(self, name)
            reg = Signal.like(port, name=f"{name}_reg", reset_less=True)
            m.d.sync += reg.eq(value)
            m.d.comb += port.eq(reg)
        m.d.comb += self.index.eq(i)
        # The word moved: a register here. A walk without the state (``ParamsOnly``) keeps
        # none: a read's word stays in its pick register, and the host's word on ``host_i``,
        # taken only once it has landed.
        if self.carries_state:
            word = Signal(32, reset_less=True)
            m.d.comb += self.host_o.payload.eq(word)
        else:
            word = self.host_i.payload
        m.d.comb += [self.value.eq(word), self.word.eq(word[:self.config.master.bits])]
        # every pick across the cell is made in two steps, a group by the index's low bits
        # into registers and then the group: one pick of N state registers, and later of R
        # row sums from trees spread over the die, was the routed 85F's critical path
        # (boards/README.md). A group of rows is one DSP row of a floorplanned die (``ROW_GROUP``).
        def pick(name, values, index, size):
            groups = [Signal(values[0].shape(), name=f"{name}_group{g}", reset_less=True)
                      for g in range((len(values) + size - 1) // size)]
            low = size.bit_length() - 1
            for g, reg in enumerate(groups):
                members = [values[j] for j in range(size * g, min(len(values), size * g + size))]
                m.d.sync += reg.eq(Array(members)[index[:low]] if len(members) > 1
                                   else members[0])
            return Array(groups)[index[low:]] if len(groups) > 1 else groups[0]

        # and the group's pick into a register too, so that the word register's load (the
        # state machine's decode) starts from flip-flops
        state_word = Signal(32, reset_less=True)
        if self.carries_state:
            m.d.sync += state_word.eq(Mux(vec, self.lam_element(m, pick, i, ti, a).as_signed(),
                                          self.s_element(m, pick, i, ti, a).as_signed()))
        row_word = Signal(32, reset_less=True)
        row_pick = pick("row_sum", [self.row_sum[k] for k in range(R)], a, ROW_GROUP).as_signed()
        reading = Signal()      # (the word is due: it holds from here until it is sent)
        if self.carries_state:
            m.d.sync += row_word.eq(row_pick)
        else:
            with m.If(~reading):
                m.d.sync += row_word.eq(row_pick)
            m.d.comb += self.host_o.payload.eq(row_word)
        # a word's wait counts from the FSM's issue: + 1 for the op's register, + 2 for the
        # picks' registers
        wait = Signal(range(max(rt.product_at + rt.tree + 3, rt.land + 1) + 1))
        done = Signal()
        m.d.sync += done.eq(0)
        m.d.comb += self.host.done.eq(done)
        moved = Signal()          # this element's data has moved
        m.d.comb += moved.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.host.start):
                    m.d.sync += [target.eq(self.host.target), write.eq(self.host.write),
                                 vec.eq(0), ti.eq(0), a.eq(0), tj.eq(0), b.eq(0), i.eq(0),
                                 skip.eq(self.host.offset), left.eq(self.host.count)]
                    m.next = "NEXT"
            with m.State("NEXT"):
                with m.If(skip != 0):
                    m.d.sync += skip.eq(skip - 1)
                    advance()
                with m.Elif(left == 0):
                    m.d.sync += done.eq(1)      # seen while idle: a new window may start
                    m.next = "IDLE"
                with m.Elif(write):
                    m.next = "TAKE"
                if self.carries_state:
                    with m.Elif(state):
                        m.d.sync += wait.eq(2)
                        m.next = "PICK"
                with m.Else():
                    m.d.comb += [issue.eq(1), op.eq(Mux(target == HostTarget.GRADS,
                                                       LaneOp.READ_G, LaneOp.READ_W))]
                    m.d.sync += wait.eq(rt.product_at + rt.tree + 3)   # + the picks
                    m.next = "READ"
            if self.carries_state:
                with m.State("PICK"):        # i's group, then the word, into registers
                    m.d.sync += wait.eq(wait - 1)
                    with m.If(wait == 1):
                        m.d.sync += word.eq(state_word)
                        m.next = "SEND"
            with m.State("READ"):            # the word comes down its row lane's tree
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 1):
                    if self.carries_state:
                        m.d.sync += word.eq(row_word)
                    else:
                        m.d.comb += reading.eq(1)
                    m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += self.host_o.valid.eq(1)
                if not self.carries_state:
                    m.d.comb += reading.eq(1)
                with m.If(self.host_o.ready):
                    m.d.comb += moved.eq(1)
                    m.next = "NEXT"
            with m.State("TAKE"):
                if self.carries_state:
                    m.d.comb += self.host_i.ready.eq(1)
                with m.If(self.host_i.valid):
                    if self.carries_state:
                        m.d.sync += word.eq(self.host_i.payload)
                    m.next = "STORE"
            with m.State("STORE"):
                with m.If(state):
                    m.d.comb += [self.set_s.eq(~vec), self.set_lam.eq(vec), moved.eq(1)]
                    m.next = "NEXT"
                with m.Elif(target == HostTarget.PARAMS):
                    m.d.comb += [issue.eq(1), op.eq(LaneOp.WRITE_W)]
                    m.d.sync += wait.eq(rt.land + 1)
                    m.next = "LAND"
                with m.Else():               # G is never written by the host
                    m.d.comb += moved.eq(1)
                    m.next = "NEXT"
            with m.State("LAND"):            # the word and its lane hold still until it lands
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 1):
                    m.d.comb += moved.eq(1)
                    m.next = "NEXT"
        if not self.carries_state:          # the host's word is taken once it has moved
            m.d.comb += self.host_i.ready.eq(moved & write)
        with m.If(moved):
            m.d.sync += left.eq(left - 1)
            advance()
        return m

    # -- where s and lam are read: their registers here, block RAM words in ``BankedHostWalk``
    def state_ports(self):
        vec = data.ArrayLayout
        return {"s": In(vec(signed(self.config.act.bits), self.n_out)),
                "lam": In(vec(signed(self.config.sens.bits), self.n_out))}

    def s_element(self, m, pick, i, ti, a):
        """s_i, a cycle after i is set (``pick``: a group's pick into registers)."""
        return pick("s", self.s, i, 8)

    def lam_element(self, m, pick, i, ti, a):
        return pick("lam", self.lam, i, 8)


class BankedHostWalk(HostWalk):
    """The walk of a cell whose s and lam are in block RAM (``StateBanks``): element i of
    either is element ``s_lane`` of word ``s_ti`` of its current bank, read a cycle after
    the walk reaches it; a write goes there too (the cell takes ``set_s`` or ``set_lam``
    with ``s_ti`` and ``s_lane``)."""

    def state_ports(self):
        T, vec = self.tiling, data.ArrayLayout
        return {"s_word": In(vec(signed(self.config.act.bits), T.rows)),
                "lam_word": In(vec(signed(self.config.sens.bits), T.rows)),
                "s_ti": Out(range(T.ti)), "s_lane": Out(range(T.rows))}

    def s_element(self, m, pick, i, ti, a):
        # (both banks are read at the element's row tile and lane)
        m.d.comb += [self.s_ti.eq(ti), self.s_lane.eq(a)]
        return Array(self.s_word[k] for k in range(self.tiling.rows))[a]

    def lam_element(self, m, pick, i, ti, a):
        return Array(self.lam_word[k] for k in range(self.tiling.rows))[a]


class ParamsOnly:
    """A walk over PARAMS and GRADS only, for a device without host access to s and lam
    (``config.state_access`` false: its decoder refuses READ_STATE and WRITE_STATE). It
    picks no state element and strobes no state write; on an iCE40 UP5K the picks and the
    per-element writes of both cells' s and lam were some 370 logic cells."""

    carries_state = False


class ParamsWalk(ParamsOnly, HostWalk):
    pass


class BankedParamsWalk(ParamsOnly, BankedHostWalk):
    pass
