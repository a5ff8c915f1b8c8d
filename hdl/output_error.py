"""The output error: lam_L <- Euler blend of (s_L - y), y the target of the sample at the top."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from .cell import tree_sum
from .cell_links import TargetLink
from .fixed import euler_blend, saturate

__all__ = ["OutputError", "DirectOutputError", "target_codes"]


def target_codes(config: DyadicConfig, lanes):
    """The target vector (activation codes) from a sample's target lanes: the codes
    themselves, or the one-hot vector of a class label (for one output: the label)."""
    nL, one = config.sizes[-1], config.act.one
    if config.targets == "vector":
        return [lanes[i].as_signed() for i in range(nL)]
    if nL == 1:
        return [Mux(lanes[0] != 0, one, 0)]
    return [Mux(lanes[0] == i, one, 0) for i in range(nL)]


class OutputError(wiring.Component):
    """Writes lam_L in the commit that ends each error tick (``err_fire``).

    The targets of the samples on their way up wait in a line of L entries, one pushed
    at every commit (``target_now``: the sample of the tick that ends), so that the
    target of the sample whose output is at the top comes out as ``target``; in a
    relaxation it is the one sample's. ``sat``: outputs clamped by the last write (late
    by the pipeline's stages, as a cell's counts are).
    """

    registered = True       # with the pipeline, the error and its blend in registers

    def __init__(self, config: DyadicConfig):
        self.config = config
        nL, T = config.sizes[-1], config.target_lanes
        raw = data.ArrayLayout(config.act.bits, T)
        super().__init__({
            "commit": In(1), "err_fire": In(1), "relax": In(1), "dt_shift": In(4),
            "target_now": In(raw), "target": Out(raw),
            "s": In(data.ArrayLayout(signed(config.act.bits), nL)),
            "lam": In(data.ArrayLayout(signed(config.sens.bits), nL)),
            "lam_out": Out(TargetLink(nL, config.sens.bits)),
            "sat": Out(range(nL + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        c, nL = self.config, self.config.sizes[-1]
        line = [Signal.like(self.target_now, name=f"target_line{k}") for k in range(c.L)]
        with m.If(self.commit):
            m.d.sync += [line[0].eq(self.target_now)]
            m.d.sync += [b.eq(a) for a, b in zip(line, line[1:])]
        # relax and dt hold through a run: a register each here, so the target's pick and
        # the blend do not start at the run control's mode across the die (one copy, so
        # unlike ``layer.delay.run_copy`` nothing needs keeping apart)
        relax, dt = Signal(reset_less=True), Signal(4, reset_less=True)
        m.d.sync += [relax.eq(self.relax), dt.eq(self.dt_shift)]
        m.d.comb += self.target.eq(Mux(relax, self.target_now, line[-1]))
        y = target_codes(c, self.target)
        shift = c.sens.frac - c.act.frac
        # s_L, lam_L and y hold still through a tick, so with the pipeline the error and
        # its blend are registered in two steps while it runs (a tick then lasts >= 3
        # cycles)
        stage = m.d.sync if c.pipeline and self.registered else m.d.comb
        overflows = []
        for i in range(nL):
            e = self.s[i] - y[i]
            e = e << shift if shift >= 0 else (e + (1 << (-shift - 1))) >> -shift
            v_sat, of_now = saturate(e, c.sens)
            # (data: reset-less, hdl/layer/__init__.py)
            v = Signal(signed(c.sens.bits), name=f"err{i}", reset_less=True)
            of = Signal(name=f"err_of{i}", reset_less=True)
            if c.fractional_dt:
                blend = Signal(signed(c.sens.bits), name=f"err_blend{i}", reset_less=True)
                stage += [v.eq(v_sat), of.eq(of_now), blend.eq(euler_blend(self.lam[i], v, dt))]
            else:
                # (dt = 1: lam is the error itself, which holds still through the tick as
                # s_L and y do, so it needs no second register to be ready at err_fire)
                blend = v
                stage += [v.eq(v_sat), of.eq(of_now)]
            m.d.comb += [self.lam_out.value[i].eq(blend), self.lam_out.we[i].eq(self.err_fire)]
            overflows.append(of)
        # With the pipeline the count is late: the commit is registered first, and the
        # overflow flags still hold the ending tick's values in the cycle after commit
        # (s_L and y change at commit, the flags one cycle later).
        fired = Signal()
        stage += fired.eq(self.err_fire)
        stage += self.sat.eq(tree_sum(fired & of for of in overflows))
        return m


class DirectOutputError(OutputError):
    """The error without its register, for a top cell that takes it straight into its lam
    at the commit (``layer.cell.TopOfChain``): s_L and y hold still through the tick, so
    the error is ready at ``err_fire`` at the lean-bram devices' clocks (24 MHz on an
    iCE40), and on the UP5K lam's flip-flops then share the error's LUTs (70 logic cells
    fewer)."""

    registered = False
