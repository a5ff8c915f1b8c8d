"""The finish stages: a row tile's sums -> h, f(h) and its derivative code, blended into
the next state; a column tile's sums (the adjoint) -> the next lam of the cell below.

Sums start at half an LSB, so rounding them is a slice. Each stage takes two registers
after its accumulator (``rt.finish``: h and code; ``rt.state``: the blended next state),
so a result is final ``rt.state_final`` cycles after its tile's issue. A next lam then
crosses ``rt.link`` registers to the cell below.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from ..cell_links import TargetLink
from ..fixed import activate, euler_blend, saturate
from .delay import delayed, run_copy

__all__ = ["RowFinish", "ColumnFinish"]


def _accumulate(m, name, n, bits, valid, first, sums, half):
    accs = [Signal(signed(bits), name=f"{name}{k}", reset_less=True) for k in range(n)]
    with m.If(valid):
        m.d.sync += [acc.eq(Mux(first, half, acc) + sums[k]) for k, acc in enumerate(accs)]
    return accs


def _blend(m, config, old, new, dt, lane):
    """The Euler blend, its shift from the lane's own copy of ``dt``."""
    if not config.fractional_dt:
        return new
    return euler_blend(old, new, run_copy(m, dt, f"dt{lane}_"))


class RowFinish(wiring.Component):
    """Row sums of forward tiles (``valid``, aligned with the sums) -> ``s_next`` and
    ``code_now`` (this tick's derivative codes), row lane a writing neuron ti * R + a.
    ``readout``: codes only, the state keeps its value."""

    def __init__(self, config: DyadicConfig, tiling, n_out: int, act, sum_bits: int):
        self.config, self.tiling, self.n_out, self.act = config, tiling, n_out, act
        self.acc_bits = sum_bits + tiling.tj.bit_length() + 1
        R, vec = tiling.rows, data.ArrayLayout
        super().__init__({
            "valid": In(1), "ti": In(range(tiling.ti)), "first": In(1), "last": In(1),
            "sums": In(vec(signed(sum_bits), R)), "dt": In(4), "readout": In(1),
            "s": In(vec(signed(config.act.bits), n_out)),
            "s_next": Out(vec(signed(config.act.bits), n_out)),
            "code_now": Out(vec(2, n_out)), "saturated": Out(R),
            # a host write of s_i (the datapath is idle): a strobe and a value an element
            "set": In(n_out), "set_value": In(vec(signed(config.act.bits), n_out))})

    def elaborate(self, platform):
        m = Module()
        c, R, TI, N = self.config, self.tiling.rows, self.tiling.ti, self.n_out
        half = (1 << c.weight.frac) >> 1
        accs = _accumulate(m, "acc", R, self.acc_bits, self.valid, self.first, self.sums, half)
        done, ti = Signal(), Signal(range(TI))                 # h and code stage
        m.d.sync += [done.eq(self.valid & self.last), ti.eq(self.ti)]
        blend_now, blend_ti = Signal(), Signal(range(TI))     # the blend stage
        m.d.sync += [blend_now.eq(done & ~self.readout), blend_ti.eq(ti)]
        # (data: only the control above carries the reset, see hdl/layer/__init__.py)
        s_next, code_now = (Signal.like(port, reset_less=True) for port in (self.s_next,
                                                                           self.code_now))
        m.d.comb += [self.s_next.eq(s_next), self.code_now.eq(code_now)]
        for a in range(R):
            h, over = saturate(accs[a] >> c.weight.frac, c.act)
            f_now, code = activate(self.act, h, c.act.one)
            f = Signal(signed(c.act.bits), name=f"f{a}", reset_less=True)
            # the blend's old value is picked beside f (s holds still through the tick), so
            # the blend starts from flip-flops
            s_old = Signal(signed(c.act.bits), name=f"s_old{a}", reset_less=True)
            m.d.sync += [f.eq(f_now),
                         s_old.eq(Array(self.s[t * R + a] if t * R + a < N else Const(0)
                                        for t in range(TI))[ti])]
            new = _blend(m, c, s_old, f, self.dt, a)
            # (lane a holds a neuron in row tiles ti * R + a < N: a constant bound, since
            # ``ti * R`` would be a multiplier)
            m.d.comb += self.saturated[a].eq(done & over & (ti < -(-(N - a) // R)))
            for t in range(TI):
                i = t * R + a
                if i < N:
                    with m.If(done & (ti == t)):
                        m.d.sync += code_now[i].eq(code)
                    with m.If(blend_now & (blend_ti == t)):
                        m.d.sync += s_next[i].eq(new)
                    with m.If(self.set[i]):
                        m.d.sync += s_next[i].eq(self.set_value[i])
        return m


class ColumnFinish(wiring.Component):
    """Column sums of adjoint tiles -> the cell below's next lam (``lam_out``), blended with
    its current ``lam_below``; column lane b writes input tj * C + b (the bias column's
    sum is dropped)."""

    def __init__(self, config: DyadicConfig, tiling, n_in: int, sum_bits: int, link: int = 0):
        self.config, self.tiling, self.n_in, self.link = config, tiling, n_in, link
        self.acc_bits = sum_bits + tiling.ti.bit_length() + 1
        C, vec = tiling.cols, data.ArrayLayout
        super().__init__({
            "valid": In(1), "tj": In(range(tiling.tj)), "first": In(1), "last": In(1),
            "sums": In(vec(signed(sum_bits), C)), "dt": In(4),
            "lam_below": In(vec(signed(config.sens.bits), n_in)),
            "lam_out": Out(TargetLink(n_in, config.sens.bits)), "saturated": Out(C)})

    def elaborate(self, platform):
        m = Module()
        c, C, TJ, M = self.config, self.tiling.cols, self.tiling.tj, self.n_in
        half = (1 << c.weight.frac) >> 1
        accs = _accumulate(m, "acc", C, self.acc_bits, self.valid, self.first, self.sums, half)
        done, tj = Signal(), Signal(range(TJ))
        m.d.sync += [done.eq(self.valid & self.last), tj.eq(self.tj)]
        write, write_tj = Signal(), Signal(range(TJ))
        m.d.sync += [write.eq(done), write_tj.eq(tj)]
        # the link: the cell below's lam registers are far (boards/README.md)
        land = delayed(m, write, self.link, "land", reset_less=False)
        land_tj = delayed(m, write_tj, self.link, "land_tj")
        for b in range(C):
            t_now, over = saturate(accs[b] >> c.weight.frac, c.sens)
            t = Signal(signed(c.sens.bits), name=f"t{b}", reset_less=True)
            # (the old value picked as in RowFinish)
            old = Signal(signed(c.sens.bits), name=f"lam_old{b}", reset_less=True)
            m.d.sync += [t.eq(t_now),
                         old.eq(Array(self.lam_below[k * C + b] if k * C + b < M else Const(0)
                                      for k in range(TJ))[tj])]
            new = delayed(m, _blend(m, c, old, t, self.dt, b), self.link, f"lam_new{b}_")
            m.d.comb += self.saturated[b].eq(done & over & (tj < -(-(M - b) // C)))
            for k in range(TJ):
                j = k * C + b
                if j < M:
                    with m.If(land & (land_tj == k)):
                        m.d.comb += [self.lam_out.value[j].eq(new), self.lam_out.we[j].eq(1)]
        return m
