"""The command decoder: command words in, checks, dispatch, response words out.

A command's fixed arguments are collected first and checked together; a command
that fails a check is drained and answered with the reason (``Status`` of
``firmware_py.contract.protocol``), having changed nothing. Then the decoder moves the
payload to where it goes (a cell, the sample memory, the epoch plan), or starts a job
and waits for it.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import (
    COUNTERS,
    MAX_EPOCHS,
    PROTOCOL_VERSION,
    CommandHeader,
    Opcode,
    ResponseHeader,
    SampleShape,
    Status,
    StreamFlags,
    carried_opcodes,
    pack,
    sample_lanes,
)

from .arg_checks import WIDTH, ArgumentChecks
from .cell_links import HostAccess, HostTarget
from .epoch_sequencer import JobMode, JobRequest

__all__ = ["CommandDecoder"]

ARGS = 5    # the most fixed arguments a command has (TRAIN)


class _After(enum.Enum, shape=3):
    """Where the decoder goes once a response header is sent."""

    HEADER = 0
    SEND_WORDS = 1
    HOST_READ = 2
    SAMPLE_READ = 3


def _times(v, k: int):
    """v * k for a constant k, as shifts and adds (no multiplier is inferred)."""
    terms = [v << j for j in range(k.bit_length()) if (k >> j) & 1]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


class CommandDecoder(wiring.Component):
    """Commands on ``i_cmd``, responses on ``o_rsp``; the other ports reach the parts of
    the core (see ``hdl.core``)."""

    def __init__(self, config: DyadicConfig):
        self.config = config
        super().__init__({
            "i_cmd": In(stream.Signature(32)), "o_rsp": Out(stream.Signature(32)),
            # a layer cell's memories: the window, and its words both ways
            "host": Out(HostAccess()), "host_layer": Out(8),
            "host_o": Out(stream.Signature(32)), "host_i": In(stream.Signature(32)),
            # the sample memory: its writer and reader
            "sample_write": Out(1), "sample_read": Out(1), "sample_first": Out(16),
            "sample_count": Out(17), "sample_written": In(1),
            "sample_o": Out(stream.Signature(32)), "sample_i": In(stream.Signature(32)),
            "job": Out(JobRequest()),
            "counters_clear": Out(1),
            "counters": In(data.ArrayLayout(32, len(COUNTERS))),
            "eval_clear": Out(1), "correct": In(32), "loss": In(64),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        L, sizes = c.L, c.sizes
        cmd, rsp = self.i_cmd, self.o_rsp

        hdr = Signal(CommandHeader)
        status = Signal(Status)
        rsp_len = Signal(16)
        after = Signal(_After)
        remaining = Signal(16)          # payload words not yet taken
        word_idx = Signal(16)
        nargs = Signal(range(ARGS + 1))
        k = Signal(range(ARGS + 1))
        a = [Signal(16, name=f"arg{j}") for j in range(ARGS)]
        big = Signal(ARGS)              # argument j had bits above 16
        shape_ok = Signal()
        total = Signal(16)              # elements in the layer's target
        end = Signal(17)                # the end of a window: a0 + a1, or a0 + words written
        words = Signal(17)              # words that a1 packed samples take
        values = Signal(WIDTH)          # their values (what READ_SAMPLES sends)
        resident = Signal(range(c.samples + 1))
        epoch = Signal(range(MAX_EPOCHS + 1))
        plan_bad = Signal()
        plan_half = Signal()
        stride = Signal(16)

        layer_ok = (hdr.layer >= 1) & (hdr.layer <= L)
        lidx = Signal(range(L))
        m.d.comb += lidx.eq(hdr.layer - 1)
        params_len = Array([Const(sizes[l] * sizes[l - 1] + sizes[l], 16) for l in range(1, L + 1)])
        state_len = Array([Const(2 * sizes[l], 16) for l in range(1, L + 1)])
        ident = [PROTOCOL_VERSION, c.config_id, L, *sizes, c.max_batch, c.samples]
        ident_rom = Array([Const(v, 32) for v in ident])
        shape = pack(SampleShape, inputs=sizes[0], outputs=sizes[-1])

        rsp_hdr = Signal(ResponseHeader)
        m.d.comb += [rsp_hdr.opcode.eq(hdr.opcode), rsp_hdr.status.eq(status),
                     rsp_hdr.length.eq(rsp_len)]
        op = hdr.opcode
        write_op = (op == Opcode.WRITE_PARAMS) | (op == Opcode.WRITE_STATE)
        m.submodules.checks = checks = ArgumentChecks(c)
        m.d.comb += [checks.opcode.eq(op), checks.operands.a0.eq(a[0]),
                     checks.operands.a1.eq(a[1]), checks.operands.a2.eq(a[2]),
                     checks.operands.a4.eq(a[4]), checks.operands.end.eq(end),
                     checks.operands.words.eq(words), checks.operands.values.eq(values),
                     checks.operands.remaining.eq(remaining),
                     checks.operands.resident.eq(resident), checks.operands.total.eq(total),
                     checks.operands.epochs2.eq(a[4] << 1)]
        # the StreamFlags word's fields (its high half must be zero)
        fl = Mux(op == Opcode.TRAIN, a[3], a[2])
        fl_view = data.View(StreamFlags, Cat(fl, Const(0, 16)))
        fl_bad = fl_view.lr_shift[5:] != 0
        m.d.comb += [self.job.first.eq(a[0]), self.job.count.eq(a[1]),
                     self.job.batch.eq(a[2]), self.job.epochs.eq(a[4]),
                     self.job.dt_shift.eq(a[2]), self.job.lr_shift.eq(fl_view.lr_shift),
                     self.job.update.eq(fl_view.update),
                     self.job.mode.eq(Mux(op == Opcode.RELAX, JobMode.RELAX,
                                          Mux(op == Opcode.STREAM, JobMode.STREAM,
                                              Mux(op == Opcode.EVALUATE, JobMode.EVAL,
                                                  JobMode.TRAIN)))),
                     self.sample_first.eq(a[0]), self.sample_count.eq(a[1]),
                     self.host_layer.eq(hdr.layer)]

        def respond(st, length=0, then=_After.HEADER):
            m.d.sync += [status.eq(st), rsp_len.eq(length), after.eq(then), word_idx.eq(0)]
            m.next = "RESPOND"

        def fail(st):
            m.d.sync += status.eq(st)
            m.next = "DRAIN"

        with m.FSM(name="decoder"):
            with m.State("HEADER"):
                m.d.comb += cmd.ready.eq(1)
                with m.If(cmd.valid):
                    m.d.sync += [hdr.eq(cmd.payload), remaining.eq(cmd.payload[16:]), k.eq(0),
                                 big.eq(0)]
                    m.next = "DECODE"

            with m.State("DECODE"):
                n = hdr.length
                m.d.sync += total.eq(Mux((op == Opcode.WRITE_STATE) | (op == Opcode.READ_STATE),
                                         state_len[lidx], params_len[lidx]))

                def takes(count, length_ok, layer=False):
                    bad_layer = ~layer_ok if layer else Const(0)
                    with m.If(bad_layer):
                        fail(Status.BAD_LAYER)
                    with m.Elif(~length_ok):
                        fail(Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += nargs.eq(count)
                        m.next = "ARGS" if count else "CHECK"

                # (opcode groups: arguments, whether the length fits, whether a layer is named)
                shapes = [((Opcode.IDENTIFY, Opcode.READ_COUNTERS, Opcode.CLEAR_COUNTERS),
                           (0, n == 0)),
                          ((Opcode.WRITE_PARAMS, Opcode.WRITE_STATE), (1, n >= 2, True)),
                          ((Opcode.READ_PARAMS, Opcode.READ_GRADS, Opcode.READ_STATE),
                           (2, n == 2, True)),
                          ((Opcode.WRITE_SAMPLES,), (3, n >= 3)),
                          ((Opcode.READ_SAMPLES,), (2, n == 2)),
                          ((Opcode.RELAX, Opcode.STREAM), (3, n == 3)),
                          ((Opcode.EVALUATE,), (2, n == 2)),
                          ((Opcode.TRAIN,), (5, n >= 5))]
                with m.Switch(op):
                    for ops, form in shapes:      # (the others are refused as BAD_OPCODE)
                        if here := _carried(c, *ops):
                            with m.Case(*here):
                                takes(*form)
                    with m.Default():
                        fail(Status.BAD_OPCODE)

            with m.State("ARGS"):
                m.d.comb += cmd.ready.eq(1)
                with m.If(cmd.valid):
                    w = cmd.payload
                    m.d.sync += [remaining.eq(remaining - 1), k.eq(k + 1),
                                 big.eq(big | ((w[16:] != 0).replicate(ARGS)
                                               & (Const(1, ARGS) << k)))]
                    for j in range(ARGS):
                        with m.If(k == j):
                            m.d.sync += a[j].eq(w[:16])
                    with m.If(k == 2):
                        m.d.sync += shape_ok.eq(w == shape)
                    with m.If(k == nargs - 1):
                        m.next = "CHECK"

            with m.State("CHECK"):          # the flags, and the sums the checks compare
                shape_arg = (op == Opcode.WRITE_SAMPLES).replicate(ARGS) & (1 << 2)
                lr_op = (op == Opcode.STREAM) | (op == Opcode.TRAIN)
                m.d.sync += [end.eq(a[0] + Mux(write_op, remaining, a[1])),
                             words.eq((_times(a[1], c.record_bytes) + 3) >> 2),
                             values.eq(_times(a[1], sample_lanes(c)))]
                with m.If((op == Opcode.WRITE_SAMPLES) & ~shape_ok):
                    fail(Status.BAD_SHAPE)
                with m.Elif((big & ~shape_arg).any() | (lr_op & fl_bad)):
                    fail(Status.BAD_ARGUMENT)
                with m.Else():
                    m.next = "CHECKS"

            with m.State("CHECKS"):
                with m.If(checks.status != Status.OK):
                    fail(checks.status)
                with m.Else():
                    m.next = "DISPATCH"

            with m.State("DISPATCH"):       # the command passed every check
                with m.Switch(op):
                    with m.Case(Opcode.IDENTIFY):
                        respond(Status.OK, len(ident), _After.SEND_WORDS)
                    with m.Case(Opcode.READ_COUNTERS):
                        respond(Status.OK, len(COUNTERS), _After.SEND_WORDS)
                    with m.Case(Opcode.CLEAR_COUNTERS):
                        m.d.comb += self.counters_clear.eq(1)
                        respond(Status.OK)
                    with m.Case(Opcode.WRITE_PARAMS, Opcode.WRITE_STATE):
                        m.d.comb += [self.host.start.eq(1), self.host.write.eq(1),
                                     self.host.target.eq(Mux(op == Opcode.WRITE_PARAMS,
                                                             HostTarget.PARAMS,
                                                             HostTarget.STATE)),
                                     self.host.offset.eq(a[0]), self.host.count.eq(remaining)]
                        m.next = "HOST_WRITE"
                    with m.Case(Opcode.READ_PARAMS, Opcode.READ_GRADS, Opcode.READ_STATE):
                        respond(Status.OK, a[1], _After.HOST_READ)
                    with m.Case(Opcode.WRITE_SAMPLES):
                        m.d.comb += self.sample_write.eq(1)
                        m.next = "SAMPLES"
                    with m.Case(Opcode.READ_SAMPLES):
                        respond(Status.OK, values, _After.SAMPLE_READ)
                    with m.Case(Opcode.RELAX, Opcode.STREAM):
                        m.d.comb += self.job.start.eq(1)
                        m.next = "RUN"
                    with m.Case(Opcode.EVALUATE):
                        m.d.comb += [self.job.start.eq(1), self.eval_clear.eq(1)]
                        m.next = "RUN"
                    with m.Case(Opcode.TRAIN):
                        m.d.sync += [epoch.eq(0), plan_bad.eq(0), plan_half.eq(0)]
                        m.next = "PLAN"

            with m.State("DRAIN"):
                with m.If(remaining == 0):
                    respond(status)
                with m.Else():
                    m.d.comb += cmd.ready.eq(1)
                    with m.If(cmd.valid):
                        m.d.sync += remaining.eq(remaining - 1)

            with m.State("RESPOND"):
                m.d.comb += [rsp.valid.eq(1), rsp.payload.eq(rsp_hdr)]
                with m.If(rsp.ready):
                    with m.Switch(after):
                        with m.Case(_After.HEADER):
                            m.next = "HEADER"
                        with m.Case(_After.SEND_WORDS):
                            m.next = "SEND_WORDS"
                        with m.Case(_After.HOST_READ):
                            m.d.comb += [self.host.start.eq(1), self.host.offset.eq(a[0]),
                                         self.host.count.eq(rsp_len),
                                         self.host.target.eq(Mux(
                                             op == Opcode.READ_PARAMS, HostTarget.PARAMS,
                                             Mux(op == Opcode.READ_GRADS, HostTarget.GRADS,
                                                 HostTarget.STATE)))]
                            m.next = "HOST_READ"
                        with m.Case(_After.SAMPLE_READ):
                            m.d.comb += self.sample_read.eq(1)
                            m.next = "SAMPLE_READ"

            with m.State("SEND_WORDS"):
                results = Array([self.correct, self.loss[:32], self.loss[32:]])
                with m.Switch(op):
                    with m.Case(Opcode.IDENTIFY):
                        m.d.comb += rsp.payload.eq(ident_rom[word_idx])
                    with m.Case(Opcode.READ_COUNTERS):
                        m.d.comb += rsp.payload.eq(Array(self.counters)[word_idx])
                    with m.Default():
                        m.d.comb += rsp.payload.eq(results[word_idx])
                m.d.comb += rsp.valid.eq(1)
                with m.If(rsp.ready):
                    m.d.sync += word_idx.eq(word_idx + 1)
                    with m.If(word_idx == rsp_len - 1):
                        m.next = "HEADER"

            with m.State("HOST_WRITE"):
                _forward(m, cmd, self.host_o)
                with m.If(self.host.done):
                    respond(Status.OK)

            with m.State("HOST_READ"):
                # the decoder counts the words it sends: the last may still be on its way
                # from the cell when the cell is done
                _forward(m, self.host_i, rsp)
                _count_out(m, rsp, word_idx, rsp_len)

            with m.State("SAMPLES"):
                _forward(m, cmd, self.sample_o)
                with m.If(self.sample_written):
                    m.d.sync += resident.eq(Mux(end > resident, end, resident))
                    respond(Status.OK)

            with m.State("SAMPLE_READ"):
                _forward(m, self.sample_i, rsp)
                _count_out(m, rsp, word_idx, rsp_len)

            with m.State("PLAN"):           # E x (stride, offset), each below the count
                with m.If(remaining == 0):
                    with m.If(plan_bad):
                        respond(Status.BAD_ARGUMENT)
                    with m.Else():
                        m.d.comb += self.job.start.eq(1)
                        m.next = "RUN"
                with m.Else():
                    m.d.comb += cmd.ready.eq(1)
                    with m.If(cmd.valid):
                        w = cmd.payload
                        m.d.sync += [remaining.eq(remaining - 1), plan_half.eq(~plan_half),
                                     plan_bad.eq(plan_bad | (w[16:] != 0) | (w[:16] >= a[1]))]
                        with m.If(~plan_half):
                            m.d.sync += stride.eq(w)
                        with m.Else():
                            m.d.comb += [self.job.plan_we.eq(1),
                                         self.job.plan_addr.eq(epoch),
                                         self.job.plan_data.stride.eq(stride),
                                         self.job.plan_data.offset.eq(w)]
                            m.d.sync += epoch.eq(epoch + 1)

            with m.State("RUN"):
                with m.If(self.job.done):
                    with m.If(op == Opcode.EVALUATE):
                        respond(Status.OK, 3, _After.SEND_WORDS)
                    with m.Else():
                        respond(Status.OK)
        return m


def _carried(config, *ops):
    """Those of ``ops`` a device of ``config`` executes (``carried_opcodes``)."""
    carried = carried_opcodes(config)
    return [op for op in ops if op in carried]


def _count_out(m, rsp, word_idx, rsp_len):
    """Counts the response words sent; back to HEADER after the last."""
    with m.If(rsp.ready & rsp.valid):
        m.d.sync += word_idx.eq(word_idx + 1)
        with m.If(word_idx == rsp_len - 1):
            m.next = "HEADER"


def _forward(m, src, dst):
    """Words from stream ``src`` to stream ``dst``, in the current state."""
    m.d.comb += [dst.valid.eq(src.valid), dst.payload.eq(src.payload), src.ready.eq(dst.ready)]
