"""The accelerator core: a chain of layer cells, its control unit and a command port.

Commands and responses are 32-bit word streams (``hdl.protocol``). The control
unit runs relaxation and streaming batches tick by tick: it ends a tick when
every cell reports ``ready`` and starts the next one in the same cycle.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.config import DyadicConfig

from .cell import LayerCell, tree_sum
from .fixed import block_ram, euler_blend, saturate
from .links import HostTarget
from .protocol import (
    COUNTERS,
    PROTOCOL_VERSION,
    CommandHeader,
    Opcode,
    ResponseHeader,
    Status,
    StreamFlags,
)
from .streams import StreamBuffer

__all__ = ["DyadicCore"]


def above(v, limit):
    """v > limit for a 32-bit word v and a narrow limit: the high bits need no carry chain
    (host arguments are checked with these; a full-width compare costs a carry per bit)."""
    n = len(Value.cast(limit)) if not isinstance(limit, int) else max(limit.bit_length(), 1)
    return (v[n:] != 0) | (v[:n] > limit)


class _State(enum.Enum, shape=4):
    HEADER = 0
    DECODE = 1
    DRAIN = 2
    RESPOND = 3
    SEND_WORDS = 4
    HOST_WRITE = 5
    HOST_READ = 6
    ARG0 = 7
    ARG1 = 8
    SAMPLES = 9
    RUN = 10
    SETUP = 11      # the cycle before a run: its tick conditions are registered


class DyadicCore(wiring.Component):
    """Commands in on ``i_cmd``, responses out on ``o_rsp`` (32-bit words)."""

    i_cmd: In(stream.Signature(32))
    o_rsp: Out(stream.Signature(32))

    def __init__(self, config: DyadicConfig):
        self.config = config
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        c = self.config
        L, sizes = c.L, c.sizes
        n0, nL = sizes[0], sizes[-1]

        cells = [LayerCell(c, l) for l in range(1, L + 1)]
        for l, cell in enumerate(cells, 1):
            m.submodules[f"cell{l}"] = cell
        for lo, hi in zip(cells, cells[1:]):
            wiring.connect(m, lo.above, hi.below)
            wiring.connect(m, hi.lam_out, lo.lam_in)

        # -- samples -------------------------------------------------------------------
        m.submodules.xmem = xmem = Memory(shape=data.ArrayLayout(signed(c.act.bits), n0),
                                          depth=c.max_batch, init=[],
                                          attrs=block_ram(c.act.bits * n0, c.max_batch))
        m.submodules.ymem = ymem = Memory(shape=data.ArrayLayout(signed(c.act.bits), nL),
                                          depth=c.max_batch, init=[],
                                          attrs=block_ram(c.act.bits * nL, c.max_batch))
        x_rd, y_rd = xmem.read_port(), ymem.read_port()
        # (The registered paths with Q are for pipeline 2, the ECP5 designs: the
        # iCEBreaker's pipeline-1 design has no logic to spare.)
        Q = c.pipeline == 2
        x_wr, y_wr = xmem.write_port(granularity=1), ymem.write_port(granularity=1)
        wr_take = Signal()        # the command decoder takes a sample word this cycle
        wr_addr = Signal(range(c.max_batch + 1))
        wr_word = Signal(c.act.bits)
        wr_x = Signal(n0)
        wr_y = Signal(nL)
        m.d.comb += [x_wr.addr.eq(wr_addr), y_wr.addr.eq(wr_addr)]
        m.d.comb += [x_wr.data[k].eq(wr_word) for k in range(n0)]
        m.d.comb += [y_wr.data[k].eq(wr_word) for k in range(nL)]

        # -- command registers ---------------------------------------------------------------
        hdr = Signal(CommandHeader)
        status = Signal(Status)
        rsp_len = Signal(16)
        remaining = Signal(16)
        word_idx = Signal(16)
        fsm_state = Signal(_State)
        next_after_rsp = Signal(_State)
        arg0 = Signal(32)
        n_samples = Signal(range(c.max_batch + 1))
        total = Signal(16)
        room = Signal(signed(18))

        layer_ok = (hdr.layer >= 1) & (hdr.layer <= L)
        lidx = Signal(range(L))
        m.d.comb += lidx.eq(hdr.layer - 1)
        params_len = Array([Const(sizes[l] * sizes[l - 1] + sizes[l], 16) for l in range(1, L + 1)])
        state_len = Array([Const(2 * sizes[l], 16) for l in range(1, L + 1)])

        # identify words
        ident = [PROTOCOL_VERSION, c.config_id, L, *sizes, c.max_batch]
        ident_rom = Array([Const(v, 32) for v in ident])

        # -- counters ------------------------------------------------------------------------
        counters = {name: Signal(c.counter_bits, name=f"cnt_{name}") for name in COUNTERS}
        counter_rom = Array([counters[n] for n in COUNTERS])

        # -- run control ---------------------------------------------------------------------
        relax_mode = Signal()
        t = Signal(range(c.max_batch + 1))    # sample index while samples are written
        # A sample word is written through registers with pipeline 2: the enables of the
        # block RAMs, spread over the die, then start at flip-flops and not at the command
        # decoder. The registers load every cycle and only the one-bit wr_go depends on the
        # decoder: a clear of all the enables fanned its decode out to every sample RAM.
        # A run comes several cycles after the last word's response, so nothing reads early.
        x_hot = Cat(word_idx == k for k in range(n0))
        y_hot = Cat(word_idx == n0 + k for k in range(nL))
        if Q:
            wr_go = Signal()
            m.d.sync += [wr_go.eq(wr_take), wr_addr.eq(t), wr_word.eq(self.i_cmd.payload),
                         wr_x.eq(x_hot), wr_y.eq(y_hot)]
            m.d.comb += [x_wr.en.eq(wr_x & wr_go.replicate(n0)),
                         y_wr.en.eq(wr_y & wr_go.replicate(nL))]
        else:
            m.d.comb += [wr_addr.eq(t), wr_word.eq(self.i_cmd.payload),
                         x_wr.en.eq(Mux(wr_take, x_hot, 0)),
                         y_wr.en.eq(Mux(wr_take, y_hot, 0))]

        upd = Signal()
        lr = Signal(5)
        dt = Signal(4)
        prologue = Signal()
        commit = Signal()
        final = Signal()
        # t_next: the tick the next commit starts (0 at the prologue's commit, then +1 per
        # commit). Every tick condition is t_next against a constant or against lim plus a
        # constant, where lim is the run's length argument (relaxation ticks before the
        # read-out, or the batch size), so d = t_next - lim is kept in a register beside
        # it (set from the argument when the run starts): the conditions are
        # then comparisons of registers with small constants, no carry chain in the path
        # from the run control to the cells.
        t_next = Signal(17)
        d = Signal(signed(len(t_next) + 1))

        def d_below(k):     # t_next < lim + k, for a constant k >= 0
            n = max(k.bit_length(), 1)
            return d[-1] | ((d[n:-1] == 0) & (d[:n] < k))

        def t_from(k):      # t_next >= k
            return above(t_next, k - 1) if k > 0 else Const(1)

        in_run = fsm_state == _State.RUN
        # The tick conditions (from t_next and d) go to every cell. With Q they are
        # registered: t_next and d change only at commit, a tick lasts >= 3 cycles, and
        # a run starts with the SETUP cycle (not counted), so each is ready by the commit it
        # serves, and the commit's paths to the cells start at flip-flops.
        cond = m.d.sync if Q else m.d.comb
        last_tick = Signal()    # the tick that ends is the run's last (read-out or drain)
        cond += last_tick.eq(d == Mux(relax_mode, 1, 2 * L))
        if Q:
            # The commit is a register, predicted a cycle ahead, with a copy for each cell
            # placed beside it: the commit fans out to every lane of the chip, and a
            # fan-out that starts at a logic gate is the long path otherwise. It follows
            # (SETUP is always followed by RUN's prologue commit; a cell is ready next cycle
            # when it says ready_next, unless this cycle commits; and only a commit, the
            # final one, leaves RUN):
            #   commit' = SETUP | (RUN & ~commit & AND(ready_next))
            # Each copy feeds back its own output, so yosys cannot merge the copies.
            ahead = Cat(cell.ctl.ready_next for cell in cells).all()
            setup = fsm_state == _State.SETUP
            cell_commits = [Signal(name=f"commit_cell{l}") for l in range(1, L + 1)]
            for k in [commit, *cell_commits]:
                m.d.sync += k.eq(setup | (in_run & ~k & ahead))
        else:
            m.d.comb += commit.eq(in_run & (prologue | Cat(cell.ctl.ready for cell in cells).all()))
            cell_commits = [commit] * L
        for cell, k in zip(cells, cell_commits):
            m.d.comb += cell.ctl.commit.eq(k)
        m.d.comb += final.eq(commit & ~prologue & last_tick)
        with m.If(commit):
            m.d.sync += [t_next.eq(t_next + 1), d.eq(d + 1)]
        for l, cell in enumerate(cells, 1):
            ctl = cell.ctl
            s_fwd = t_from(l - 1) & d_below(l - 1)
            s_grad = t_from(2 * L + 1 - l) & d_below(2 * L + 1 - l)
            r_read = d == 0
            cond += [
                ctl.fwd.eq(~last_tick & Mux(relax_mode, 1, s_fwd)),
                ctl.bwd.eq(~last_tick & Mux(relax_mode, ~r_read, s_grad)),
                ctl.grad.eq(~last_tick & Mux(relax_mode, r_read, s_grad)),
                ctl.first.eq(Mux(relax_mode, 1, t_next == 2 * L + 1 - l)),
                ctl.update.eq(~relax_mode & upd & (d == 2 * L - l)),
                ctl.relax.eq(relax_mode),
                ctl.readout.eq(relax_mode & r_read),
                ctl.dt_shift.eq(Mux(relax_mode, dt, 0)),
                ctl.lr_shift.eq(lr),
            ]
        # sample memories: at commit, load the sample of the tick that starts
        # With the pipeline the samples are read ahead into registers, as the cells'
        # stashes are (cell.py): block RAM clock-to-output stays off the multiplier path and
        # the output error's. t_next is the next tick's sample all tick long, and 0 (the
        # prologue's sample) before a run starts; t_next - L is the target's, from the
        # setup cycle on.
        y_addr = Mux(relax_mode, 0, t_next - L)
        if c.pipeline:
            x_cur = Signal.like(x_rd.data)
            with m.If(commit):
                m.d.sync += x_cur.eq(x_rd.data)
            m.d.comb += [x_rd.en.eq(1), x_rd.addr.eq(Mux(in_run & ~relax_mode, t_next, 0)),
                         cells[0].below.s.eq(x_cur)]
        else:
            m.d.comb += [x_rd.en.eq(commit), x_rd.addr.eq(Mux(relax_mode, 0, t_next)),
                         cells[0].below.s.eq(x_rd.data)]
        if Q:
            y_cur = Signal.like(y_rd.data)
            with m.If(commit):
                m.d.sync += y_cur.eq(y_rd.data)
            m.d.comb += [y_rd.en.eq(1), y_rd.addr.eq(y_addr)]
        else:
            y_cur = y_rd.data
            m.d.comb += [y_rd.en.eq(commit), y_rd.addr.eq(y_addr)]
        # output error lam_L <- s_L - y, for the tick that ends
        err_fire = Signal()
        err_tick = Signal()
        # (t < relax ticks, or L <= t < batch + L, with t == t_next - 1)
        cond += err_tick.eq(Mux(relax_mode, d_below(1), t_from(L + 1) & d_below(L + 1)))
        m.d.comb += err_fire.eq(commit & ~prologue & err_tick)
        top = cells[-1]
        err_of = []
        ctl_dt = Signal(4)
        m.d.comb += ctl_dt.eq(Mux(relax_mode, dt, 0))
        shift = c.sens.frac - c.act.frac
        # s_L, lam_L and y hold still through a tick, so with the pipeline the error and its
        # blend are registered in two steps while it runs (a tick then lasts >= 3 cycles)
        stage = m.d.sync if c.pipeline else m.d.comb
        for i in range(nL):
            e = top.above.s[i] - y_cur[i]
            e = e << shift if shift >= 0 else (e + (1 << (-shift - 1))) >> -shift
            v_sat, of_now = saturate(e, c.sens)
            v = Signal(signed(c.sens.bits), name=f"err{i}")
            of = Signal(name=f"err_of{i}")
            stage += [v.eq(v_sat), of.eq(of_now)]
            old = top.above.lam[i]
            blend = Signal(signed(c.sens.bits), name=f"err_blend{i}")
            stage += blend.eq(euler_blend(old, v, ctl_dt))
            m.d.comb += [top.lam_in.value[i].eq(blend), top.lam_in.we[i].eq(err_fire)]
            err_of.append(of)

        with m.If(in_run):
            m.d.sync += [prologue.eq(0), counters["cycles"].eq(counters["cycles"] + 1),
                         counters["busy"].eq(counters["busy"]
                                             + tree_sum(cell.stats.busy for cell in cells))]
            with m.If(commit & ~prologue):
                m.d.sync += counters["ticks"].eq(counters["ticks"] + 1)
        for name, kind in (("sat_h", "sat_h"), ("sat_lam", "sat_lam"), ("sat_grad", "sat_grad"),
                           ("sat_weight", "sat_weight")):
            m.d.sync += counters[name].eq(counters[name]
                                          + tree_sum(getattr(cell.stats, kind) for cell in cells))
        # With the pipeline the count is late, as the cells' counts are: the commit (err_fire)
        # is registered first, and the overflow flags still hold the ending tick's values in
        # the cycle after commit (s_L and y change at commit, the flags one cycle later).
        fired = Signal()
        stage += fired.eq(err_fire)
        err_count = Signal(range(nL + 1))
        stage += err_count.eq(tree_sum(fired & of for of in err_of))
        m.d.sync += counters["sat_err"].eq(counters["sat_err"] + err_count)

        # -- host routing to cells -------------------------------------------------------------
        # A transfer's window (offset, count) goes to the cell at start; the cell counts it
        # and says when it is done (writes: every word written).
        host_start = Signal()
        host_target = Signal(HostTarget)
        host_write = Signal()
        host_off = Signal(16)
        host_cnt = Signal(16)
        host_done = Signal()
        m.d.comb += host_done.eq(Cat(cell.host.done for cell in cells).any())
        # With Q a transfer starts in the cell the cycle after the command decoder asks (the
        # cell's handshakes stay low until then): the decoder's checks end at a register.
        # And each cell's host streams pass a StreamBuffer: no combinational path between
        # the decoder and a cell, which may be placed across the die from it.
        host_domain = m.d.sync if Q else m.d.comb
        cell_i, cell_o = [], []
        for l, cell in enumerate(cells, 1):
            host_domain += [cell.host.start.eq(host_start & (hdr.layer == l)),
                            cell.host.target.eq(host_target), cell.host.write.eq(host_write),
                            cell.host.offset.eq(host_off), cell.host.count.eq(host_cnt)]
            if Q:
                m.submodules[f"host_i{l}"] = buf_i = StreamBuffer(32)
                m.submodules[f"host_o{l}"] = buf_o = StreamBuffer(32)
                wiring.connect(m, buf_i.o, cell.host_i)
                wiring.connect(m, cell.host_o, buf_o.i)
                cell_i.append(buf_i.i)
                cell_o.append(buf_o.o)
            else:
                cell_i.append(cell.host_i)
                cell_o.append(cell.host_o)
            m.d.comb += cell_i[-1].payload.eq(self.i_cmd.payload)
        rd_o = Array(cell_o)[lidx]

        # -- command FSM -------------------------------------------------------------------------
        m.d.comb += self.i_cmd.ready.eq(0)
        rsp_hdr = Signal(ResponseHeader)
        m.d.comb += [rsp_hdr.opcode.eq(hdr.opcode), rsp_hdr.status.eq(status),
                     rsp_hdr.length.eq(rsp_len)]

        def respond(st, length=0, after=_State.HEADER):
            m.d.sync += [status.eq(st), rsp_len.eq(length), fsm_state.eq(_State.RESPOND),
                         next_after_rsp.eq(after), word_idx.eq(0)]

        def fail(st):
            m.d.sync += [status.eq(st), rsp_len.eq(0), remaining.eq(hdr.length),
                         fsm_state.eq(_State.DRAIN)]

        with m.Switch(fsm_state):
            with m.Case(_State.HEADER):
                m.d.comb += self.i_cmd.ready.eq(1)
                with m.If(self.i_cmd.valid):
                    m.d.sync += [hdr.eq(self.i_cmd.payload), fsm_state.eq(_State.DECODE)]
            with m.Case(_State.DECODE):
                # the transfer window's bounds, ahead of the argument checks (each is then
                # one comparison on the argument's path): elements in the layer's target,
                # and the last offset a write of this length may start at
                state_op = (hdr.opcode == Opcode.WRITE_STATE) | (hdr.opcode == Opcode.READ_STATE)
                total_now = Mux(state_op, state_len[lidx], params_len[lidx])
                m.d.sync += [total.eq(total_now), room.eq(total_now - (hdr.length - 1))]
                with m.Switch(hdr.opcode):
                    with m.Case(Opcode.IDENTIFY):
                        with m.If(hdr.length != 0):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            respond(Status.OK, len(ident), _State.SEND_WORDS)
                    with m.Case(Opcode.READ_COUNTERS):
                        with m.If(hdr.length != 0):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            respond(Status.OK, len(COUNTERS), _State.SEND_WORDS)
                    with m.Case(Opcode.CLEAR_COUNTERS):
                        with m.If(hdr.length != 0):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [ctr.eq(0) for ctr in counters.values()]
                            respond(Status.OK)
                    with m.Case(Opcode.WRITE_PARAMS, Opcode.WRITE_STATE):
                        with m.If(~layer_ok):
                            fail(Status.BAD_LAYER)
                        with m.Elif(hdr.length < 2):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [remaining.eq(hdr.length), fsm_state.eq(_State.ARG0)]
                    with m.Case(Opcode.READ_PARAMS, Opcode.READ_GRADS, Opcode.READ_STATE):
                        with m.If(~layer_ok):
                            fail(Status.BAD_LAYER)
                        with m.Elif(hdr.length != 2):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [remaining.eq(2), fsm_state.eq(_State.ARG0)]
                    with m.Case(Opcode.WRITE_SAMPLES):
                        with m.If(hdr.length < 2):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [remaining.eq(hdr.length), fsm_state.eq(_State.ARG0)]
                    with m.Case(Opcode.RELAX, Opcode.STREAM):
                        with m.If(hdr.length != 2):
                            fail(Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [remaining.eq(2), fsm_state.eq(_State.ARG0)]
                    with m.Default():
                        fail(Status.BAD_OPCODE)
            with m.Case(_State.DRAIN):
                with m.If(remaining == 0):
                    respond(status)
                with m.Else():
                    m.d.comb += self.i_cmd.ready.eq(1)
                    with m.If(self.i_cmd.valid):
                        m.d.sync += remaining.eq(remaining - 1)
            with m.Case(_State.RESPOND):
                m.d.comb += [self.o_rsp.valid.eq(1), self.o_rsp.payload.eq(rsp_hdr)]
                with m.If(self.o_rsp.ready):
                    with m.If((status != Status.OK) | (next_after_rsp == _State.HEADER)):
                        m.d.sync += fsm_state.eq(_State.HEADER)
                    with m.Else():
                        m.d.sync += fsm_state.eq(next_after_rsp)
                        with m.If(next_after_rsp == _State.HOST_READ):
                            m.d.comb += [host_start.eq(1), host_write.eq(0),
                                         host_off.eq(arg0), host_cnt.eq(rsp_len),
                                         host_target.eq(Mux(
                                             hdr.opcode == Opcode.READ_PARAMS, HostTarget.PARAMS,
                                             Mux(hdr.opcode == Opcode.READ_GRADS,
                                                 HostTarget.GRADS, HostTarget.STATE)))]
            with m.Case(_State.SEND_WORDS):
                m.d.comb += [self.o_rsp.valid.eq(1),
                             self.o_rsp.payload.eq(Mux(hdr.opcode == Opcode.IDENTIFY,
                                                       ident_rom[word_idx],
                                                       counter_rom[word_idx]))]
                with m.If(self.o_rsp.ready):
                    m.d.sync += word_idx.eq(word_idx + 1)
                    with m.If(word_idx == rsp_len - 1):
                        m.d.sync += fsm_state.eq(_State.HEADER)
            with m.Case(_State.HOST_WRITE):
                for l, port in enumerate(cell_i, 1):
                    with m.If(hdr.layer == l):
                        m.d.comb += [port.valid.eq(self.i_cmd.valid),
                                     self.i_cmd.ready.eq(port.ready)]
                with m.If(host_done):
                    respond(Status.OK)
            with m.Case(_State.HOST_READ):
                # the core counts the words it sends: the last may still be on its way
                # from the cell when the cell is done
                m.d.comb += [self.o_rsp.valid.eq(rd_o.valid), self.o_rsp.payload.eq(rd_o.payload)]
                for l, port in enumerate(cell_o, 1):
                    with m.If(hdr.layer == l):
                        m.d.comb += port.ready.eq(self.o_rsp.ready)
                with m.If(self.o_rsp.ready & rd_o.valid):
                    m.d.sync += word_idx.eq(word_idx + 1)
                    with m.If(word_idx == rsp_len - 1):
                        m.d.sync += fsm_state.eq(_State.HEADER)
            with m.Case(_State.ARG0):
                m.d.comb += self.i_cmd.ready.eq(1)
                w = self.i_cmd.payload
                with m.If(self.i_cmd.valid):
                    # reads: a count is in range if it is at most total - offset
                    m.d.sync += [arg0.eq(w), remaining.eq(remaining - 1),
                                 room.eq(total - w[:16])]
                    with m.Switch(hdr.opcode):
                        with m.Case(Opcode.WRITE_SAMPLES):   # w: first sample index
                            with m.If(above(w, c.max_batch - 1)):
                                m.d.sync += [status.eq(Status.BAD_ARGUMENT),
                                             fsm_state.eq(_State.DRAIN)]
                            with m.Else():
                                m.d.sync += [word_idx.eq(0), t.eq(w),
                                             fsm_state.eq(_State.SAMPLES)]
                        with m.Case(Opcode.WRITE_PARAMS, Opcode.WRITE_STATE):  # w: offset
                            with m.If((w[16:] != 0) | (w[:16] > room)):
                                m.d.sync += [status.eq(Status.BAD_ARGUMENT),
                                             fsm_state.eq(_State.DRAIN)]
                            with m.Else():
                                m.d.comb += [host_start.eq(1), host_write.eq(1),
                                             host_target.eq(Mux(
                                                 hdr.opcode == Opcode.WRITE_PARAMS,
                                                 HostTarget.PARAMS, HostTarget.STATE))]
                                m.d.comb += [host_off.eq(w), host_cnt.eq(hdr.length - 1)]
                                m.d.sync += fsm_state.eq(_State.HOST_WRITE)
                        with m.Default():
                            m.d.sync += fsm_state.eq(_State.ARG1)
            with m.Case(_State.ARG1):
                m.d.comb += self.i_cmd.ready.eq(1)
                with m.If(self.i_cmd.valid):
                    w = self.i_cmd.payload
                    f = data.View(StreamFlags, w)
                    is_read = ((hdr.opcode == Opcode.READ_PARAMS)
                               | (hdr.opcode == Opcode.READ_GRADS)
                               | (hdr.opcode == Opcode.READ_STATE))
                    with m.If(is_read):
                        # arg0: offset, w: count
                        with m.If((w == 0) | (w[16:] != 0) | (arg0[16:] != 0)
                                  | (w[:16] > room)):
                            respond(Status.BAD_ARGUMENT)
                        with m.Else():
                            respond(Status.OK, w, _State.HOST_READ)
                    with m.Elif(hdr.opcode == Opcode.RELAX):
                        with m.If((arg0 == 0) | (arg0[16:] != 0) | (w[4:] != 0)):
                            respond(Status.BAD_ARGUMENT)
                        with m.Else():
                            m.d.sync += [relax_mode.eq(1), dt.eq(w)]
                            m.d.sync += [fsm_state.eq(_State.SETUP), t_next.eq(0),
                                         d.eq(-arg0[:17])]
                    with m.Else():
                        with m.If((arg0 == 0) | above(arg0, n_samples) | (f.lr_shift[5:] != 0)):
                            respond(Status.BAD_ARGUMENT)
                        with m.Else():
                            m.d.sync += [relax_mode.eq(0), upd.eq(f.update),
                                         lr.eq(f.lr_shift)]
                            m.d.sync += [fsm_state.eq(_State.SETUP), t_next.eq(0),
                                         d.eq(-arg0[:17])]
            with m.Case(_State.SAMPLES):
                # word_idx: element within the sample; t: sample index (reused as a counter)
                with m.If(remaining == 0):
                    with m.If(word_idx == 0):
                        m.d.sync += n_samples.eq(t)
                        respond(Status.OK)
                    with m.Else():
                        respond(Status.BAD_LENGTH)
                with m.Elif(t == c.max_batch):
                    m.d.sync += [status.eq(Status.BAD_LENGTH), fsm_state.eq(_State.DRAIN)]
                with m.Else():
                    m.d.comb += self.i_cmd.ready.eq(1)
                    with m.If(self.i_cmd.valid):
                        m.d.sync += remaining.eq(remaining - 1)
                        m.d.comb += wr_take.eq(1)
                        with m.If(word_idx == n0 + nL - 1):
                            m.d.sync += [word_idx.eq(0), t.eq(t + 1)]
                        with m.Else():
                            m.d.sync += word_idx.eq(word_idx + 1)
            with m.Case(_State.SETUP):
                m.d.sync += [fsm_state.eq(_State.RUN), prologue.eq(1)]
            with m.Case(_State.RUN):
                with m.If(final):
                    respond(Status.OK)
        return m
