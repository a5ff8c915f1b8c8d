"""The control unit of a run: ticks in lockstep over the chain of layer cells.

A run is a relaxation (``ticks`` ticks on one sample, then a read-out tick), a
streaming batch (B + 2L ticks, a new sample each of the first B) or an evaluation
(B + L + 1 ticks of forward passes only; the last one lets the evaluator finish the
last sample). A tick ends (``commit``) in the cycle every cell and the evaluator say
``ready``, and the next one starts in the same cycle. ``firmware_py.contract.cycles`` is the
cycle contract.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import Opcode, carried_opcodes

from .cell_links import STATE_COMMITS, CellControl

__all__ = ["RunControl", "RunMode", "RunRequest"]


class RunMode(enum.Enum, shape=2):
    RELAX = 0
    STREAM = 1
    EVAL = 2


class RunRequest(wiring.Signature):
    """Start a run; ``final`` is its last commit (a next ``start`` may come in that cycle).

    ``length``: relaxation ticks, or the batch size.
    """

    def __init__(self):
        super().__init__({"start": Out(1), "mode": Out(RunMode), "length": Out(17),
                          "dt_shift": Out(4), "lr_shift": Out(5), "update": Out(1),
                          "final": In(1)})


class RunControl(wiring.Component):
    """Runs requested on ``request``; drives every cell's ``CellControl``.

    To the rest of the core: ``commit`` and ``prologue`` (the commit that starts tick 0),
    ``step`` (the tick that starts takes a new sample), ``err_fire`` (the output error of
    the tick that ends is written) and ``eval_fire`` (it goes to the evaluator instead),
    ``relax`` and ``dt_shift`` of the run, and ``busy`` for every cycle a run occupies.
    ``row_commit`` are copies of ``commit`` for the core's sample row (``state_commit``).
    """

    def __init__(self, config: DyadicConfig):
        self.config = config
        L = config.L
        super().__init__({
            "request": In(RunRequest()),
            "cells": Out(CellControl()).array(L),
            "eval_ready": In(1), "eval_ready_next": In(1),
            "commit": Out(1), "row_commit": Out(1).array(STATE_COMMITS), "prologue": Out(1),
            "step": Out(1), "err_fire": Out(1), "eval_fire": Out(1),
            "relax": Out(1), "dt_shift": Out(4), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c, L = self.config, self.config.L
        req = self.request
        # With pipeline 2 every tick condition and the commit are registers (below).
        Q = c.pipeline == 2
        mode = Signal(RunMode)
        dt = Signal(4)
        lr = Signal(5)
        upd = Signal()
        # (a device without RELAX runs no relaxation: every relaxation path is left out, and
        # its runs are at most a batch, or the resident set, long)
        relaxes = Opcode.RELAX in carried_opcodes(c)
        relax = (mode == RunMode.RELAX) if relaxes else Const(0)
        evaluate = mode == RunMode.EVAL
        commit = self.commit
        prologue = self.prologue
        # t_next: the tick the next commit starts (0 at the prologue's commit, then +1 per
        # commit). Every condition is t_next against a constant, or against lim plus a
        # constant (lim: the request's length), so d = t_next - lim is kept beside it:
        # the conditions are then comparisons of registers with small constants.
        t_next = Signal(17 if relaxes else (max(c.max_batch, c.samples) + 2 * L + 1).bit_length())
        d = Signal(signed(len(t_next) + 1))

        def d_below(k):     # t_next < lim + k, for a constant k >= 0
            n = max(k.bit_length(), 1)
            return d[-1] | ((d[n:-1] == 0) & (d[:n] < k))

        def t_from(k):      # t_next >= k
            if k <= 0:
                return Const(1)
            n = max((k - 1).bit_length(), 1)
            return (t_next[n:] != 0) | (t_next[:n] > k - 1)

        with m.If(commit):     # (before the FSM: a run that starts at a final commit wins)
            m.d.sync += [t_next.eq(t_next + 1), d.eq(d + 1)]

        def load():
            m.d.sync += [mode.eq(req.mode), dt.eq(req.dt_shift), lr.eq(req.lr_shift),
                         upd.eq(req.update & (req.mode == RunMode.STREAM)),
                         t_next.eq(0), d.eq(-req.length)]
            m.next = "SETUP"

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(req.start):
                    load()
            with m.State("SETUP"):          # the tick conditions are registered first
                m.d.comb += self.busy.eq(1)
                m.d.sync += prologue.eq(1)
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += prologue.eq(0)
                with m.If(req.final):
                    with m.If(req.start):
                        load()
                    with m.Else():
                        m.next = "IDLE"
        setup, in_run = fsm.ongoing("SETUP"), fsm.ongoing("RUN")
        m.d.comb += [self.relax.eq(relax), self.dt_shift.eq(Mux(relax, dt, 0))]

        cond = m.d.sync if Q else m.d.comb
        # the tick that ends is the run's last (the conditions below are registered in the
        # same cycle as this one, so they take its input: a run may start the cycle after
        # another one's last commit)
        last_now = d == Mux(relax, 1, Mux(evaluate, L + 1, 2 * L))
        last_tick = Signal()
        cond += last_tick.eq(last_now)
        ready = Cat(*(ctl.ready for ctl in self.cells), self.eval_ready).all()
        if Q:
            # The commit is a register, predicted a cycle ahead, with copies for each cell
            # and for each quarter of a state vector: the commit fans out to every lane of
            # the chip. It follows
            # (SETUP is always followed by RUN's prologue commit; a cell is ready next
            # cycle when it says ready_next, unless this cycle commits; and only a commit,
            # the final one, leaves RUN):
            #   commit' = SETUP | (RUN & ~commit & AND(ready_next))
            # Each copy feeds back its own output, so yosys cannot merge the copies.
            ahead = Cat(*(ctl.ready_next for ctl in self.cells), self.eval_ready_next).all()
            copies = [Signal(name=f"commit_cell{l}") for l in range(1, L + 1)]
            state = [[Signal(name=f"commit_cell{l}_state{g}") for g in range(STATE_COMMITS)]
                     for l in range(1, L + 1)]
            rows = [Signal(name=f"commit_row{g}") for g in range(STATE_COMMITS)]
            for k in [commit, *copies, *sum(state, []), *rows]:
                m.d.sync += k.eq(setup | (in_run & ~k & ahead))
        else:
            m.d.comb += commit.eq(in_run & (prologue | ready))
            copies = [commit] * L
            state = [[commit] * STATE_COMMITS] * L
            rows = [commit] * STATE_COMMITS
        m.d.comb += [r.eq(k) for r, k in zip(self.row_commit, rows)]
        tick_done = commit & ~prologue
        m.d.comb += req.final.eq(tick_done & last_tick)

        for l, (ctl, k, ks) in enumerate(zip(self.cells, copies, state), 1):
            s_fwd = t_from(l - 1) & d_below(l - 1)
            s_grad = t_from(2 * L + 1 - l) & d_below(2 * L + 1 - l) & ~evaluate
            r_read = d == 0
            m.d.comb += [ctl.commit.eq(k), *(a.eq(b) for a, b in zip(ctl.commit_state, ks))]
            cond += [
                ctl.fwd.eq(~last_now & Mux(relax, 1, s_fwd)),
                ctl.bwd.eq(~last_now & Mux(relax, ~r_read, s_grad)),
                ctl.grad.eq(~last_now & Mux(relax, r_read, s_grad)),
                ctl.first.eq(Mux(relax, 1, t_next == 2 * L + 1 - l)),
                ctl.update.eq(~relax & upd & (d == 2 * L - l)),
                ctl.relax.eq(relax),
                ctl.readout.eq(relax & r_read),
                ctl.dt_shift.eq(Mux(relax, dt, 0)),
                ctl.lr_shift.eq(lr),
            ]
        # the output error of the tick that ends (t == t_next - 1): every relaxation tick,
        # or L <= t < B + L
        err_tick = Signal()
        takes = Signal()        # the tick that starts takes a new sample: t_next < B
        cond += [err_tick.eq(Mux(relax, d_below(1), t_from(L + 1) & d_below(L + 1))),
                 takes.eq(~relax & d_below(0))]
        m.d.comb += [self.err_fire.eq(tick_done & err_tick & ~evaluate),
                     self.eval_fire.eq(tick_done & err_tick & evaluate),
                     self.step.eq(commit & takes)]
        return m
