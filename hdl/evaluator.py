"""The evaluator: correct predictions and the summed squared error over an EVALUATE run."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.cycles import EVAL_STAGES

from .output_error import target_codes
from .squarer import squarer_for

__all__ = ["Evaluator", "error_limit"]


def error_limit(config: DyadicConfig) -> int:
    """A bound on |s_i - y_i|: both are activation codes (a label's target, 0 or one)."""
    return 1 << config.act.bits


class Evaluator(wiring.Component):
    """At ``fire`` it takes the top layer's outputs ``s`` and their sample's target, then
    walks the outputs one a cycle: ``loss`` += (s_i - y_i)^2 (activation code units) and
    the prediction (the largest output, the first of equals; for one output, above one
    half) against the target's class; ``correct`` counts the hits. ``ready`` is low while
    a walk is under way, and ``ready_next`` says it ends next cycle.
    """

    def __init__(self, config: DyadicConfig):
        self.config = config
        nL, b = config.sizes[-1], config.act.bits
        self.loss_bits = min(64, 2 * (b + 1) + (nL * config.samples).bit_length())
        super().__init__({
            "clear": In(1), "fire": In(1),
            "s": In(data.ArrayLayout(signed(b), nL)),
            "target": In(data.ArrayLayout(b, config.target_lanes)),
            "ready": Out(1), "ready_next": Out(1),
            "correct": Out(32), "loss": Out(64),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        nL, b = c.sizes[-1], c.act.bits
        s_held = Signal.like(self.s, reset_less=True)
        t_held = Signal.like(self.target, reset_less=True)
        left = Signal(range(nL + EVAL_STAGES + 1))       # cycles until the walk is over
        m.d.comb += [self.ready.eq(left == 0), self.ready_next.eq(left <= 1)]
        with m.If(self.fire):
            m.d.sync += [s_held.eq(self.s), t_held.eq(self.target), left.eq(nL + EVAL_STAGES)]
        with m.Elif(left != 0):
            m.d.sync += left.eq(left - 1)

        # stage A: pick output i
        i = Signal(range(nL + 1))
        a_valid = Signal()
        with m.If(self.fire):
            m.d.sync += [i.eq(0), a_valid.eq(1)]
        with m.Elif(a_valid):
            m.d.sync += i.eq(i + 1)
            with m.If(i == nL - 1):
                m.d.sync += a_valid.eq(0)
        y = target_codes(c, t_held)
        s_i = Signal(signed(b))
        y_i = Signal(signed(b + 1))
        # (a constant table index, not a mux tree, where there is one output)
        m.d.comb += [s_i.eq(s_held[i] if nL > 1 else s_held[0]),
                     y_i.eq(_select(y, i))]
        # stage B: the error; C: its square (the multiplier's two registers) and the
        # running prediction; D: the sums
        e = Signal(signed(b + 2))
        b_valid = Signal()
        b_s = Signal(signed(b))
        b_y = Signal(signed(b + 1))
        b_i = Signal.like(i)
        b_last = Signal()
        m.d.sync += [e.eq(s_i - y_i), b_valid.eq(a_valid), b_s.eq(s_i), b_y.eq(y_i),
                     b_i.eq(i), b_last.eq(a_valid & (i == nL - 1))]
        m.submodules.square = sq = squarer_for(b + 2, error_limit(c))
        m.d.comb += sq.a.eq(e)
        best = Signal(signed(b))
        best_i = Signal.like(i)
        best_y = Signal(signed(b + 1))
        best_yi = Signal.like(i)
        c_valid, c_last = Signal(), Signal()
        d_valid, d_last = Signal(), Signal()
        m.d.sync += [c_valid.eq(b_valid), c_last.eq(b_last),
                     d_valid.eq(c_valid), d_last.eq(c_last)]
        with m.If(b_valid):
            with m.If((b_i == 0) | (b_s > best)):
                m.d.sync += [best.eq(b_s), best_i.eq(b_i)]
            with m.If((b_i == 0) | (b_y > best_y)):
                m.d.sync += [best_y.eq(b_y), best_yi.eq(b_i)]
        if nL == 1:       # one output: class 1 above one half
            half = c.act.one >> 1
            predicted, actual = best > half, best_y > half
        else:
            predicted = best_i
            actual = t_held[0] if c.targets == "label" else best_yi
        hit = Signal()
        m.d.sync += hit.eq(predicted == actual)
        correct = Signal(range(c.samples + 1))
        loss = Signal(self.loss_bits)
        m.d.comb += [self.correct.eq(correct), self.loss.eq(loss)]
        with m.If(self.clear):
            m.d.sync += [correct.eq(0), loss.eq(0)]
        with m.Else():
            with m.If(d_valid):
                m.d.sync += loss.eq(loss + sq.p)
            with m.If(d_last):
                m.d.sync += correct.eq(correct + hit)
        return m


def _select(values, i):
    """values[i] for a Python list of values and an index signal."""
    out = values[-1]
    for k in range(len(values) - 2, -1, -1):
        out = Mux(i == k, values[k], out)
    return out
