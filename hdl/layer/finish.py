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

from ..cell_links import TargetLink, TileTargetLink
from ..fixed import activate, euler_blend, saturate
from .delay import delayed, run_copy
from .state_banks import column_tile_place

__all__ = ["RowFinish", "RowTileFinish", "ColumnFinish", "ColumnTileFinish"]


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
            **self.state_ports(),
            "code_now": Out(vec(2, n_out)), "saturated": Out(R),
            **self.set_ports()})

    # -- where the next state goes: registers here, block RAM in ``RowTileFinish`` ------
    def state_ports(self):
        vec = data.ArrayLayout(signed(self.config.act.bits), self.n_out)
        return {"s": In(vec), "s_next": Out(vec)}

    def set_ports(self):
        """A host write of s_i (the datapath is idle): a strobe and a value an element."""
        return {"set": In(self.n_out),
                "set_value": In(data.ArrayLayout(signed(self.config.act.bits), self.n_out))}

    def old_state(self, a, ti):
        """Row lane a's s in row tile ti, the blend's old value."""
        R, N = self.tiling.rows, self.n_out
        return Array(self.s[t * R + a] if t * R + a < N else Const(0)
                     for t in range(self.tiling.ti))[ti]

    def store(self, m, i, t, new, blend_now, blend_ti):
        """Neuron i's blended result (row tile t), due when ``blend_now`` for ``blend_ti``."""
        with m.If(blend_now & (blend_ti == t)):
            m.d.sync += self._s_next[i].eq(new)
        with m.If(self.set[i]):
            m.d.sync += self._s_next[i].eq(self.set_value[i])

    def store_tile(self, m, a, new, blend_now, blend_ti):
        """Row lane a's blended result for a store that takes a row tile at once."""

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
        # (made in a generator, so named ``$like``: renaming them would change every lean
        # board's netlist, left for the next full rebuild)
        ports = (self.s_next, self.code_now) if "s_next" in self.signature.members else \
            (self.code_now,)
        *s_next, code_now = (Signal.like(port, reset_less=True) for port in ports)
        self._s_next = s_next[0] if s_next else None
        m.d.comb += [port.eq(reg) for port, reg in zip(ports, (*s_next, code_now))]
        for a in range(R):
            h, over = saturate(accs[a] >> c.weight.frac, c.act)
            f_now, code = activate(self.act, h, c.act.one)
            f = Signal(signed(c.act.bits), name=f"f{a}", reset_less=True)
            # the blend's old value is picked beside f (s holds still through the tick), so
            # the blend starts from flip-flops
            s_old = Signal(signed(c.act.bits), name=f"s_old{a}", reset_less=True)
            m.d.sync += [f.eq(f_now), s_old.eq(self.old_state(a, ti))]
            new = _blend(m, c, s_old, f, self.dt, a)
            # (lane a holds a neuron in row tiles ti * R + a < N: a constant bound, since
            # ``ti * R`` would be a multiplier)
            m.d.comb += self.saturated[a].eq(done & over & (ti < -(-(N - a) // R)))
            for t in range(TI):
                i = t * R + a
                if i < N:
                    with m.If(done & (ti == t)):
                        m.d.sync += code_now[i].eq(code)
                    self.store(m, i, t, new, blend_now, blend_ti)
            self.store_tile(m, a, new, blend_now, blend_ti)
            self.code_tile(m, a, code, done, ti)
        return m

    def code_tile(self, m, a, code, done, ti):
        """Row lane a's derivative code, final when ``done`` for row tile ``ti`` (here only
        in ``code_now``)."""


class RowTileFinish(RowFinish):
    """``RowFinish`` handing each finished row tile to a block RAM (``StateBanks``): ``wr``
    with row tile ``wr_ti``'s R results. It keeps no s: the blend takes dt = 1
    (``fractional_dt`` false), which needs no old value."""

    def __init__(self, config: DyadicConfig, tiling, n_out: int, act, sum_bits: int):
        if config.fractional_dt:
            raise ValueError("a row tile finish blends with dt = 1 only (fractional_dt false)")
        super().__init__(config, tiling, n_out, act, sum_bits)

    def state_ports(self):
        R, T = self.tiling.rows, self.tiling.ti
        return {"wr": Out(1), "wr_ti": Out(range(T)),
                "wr_data": Out(data.ArrayLayout(signed(self.config.act.bits), R)),
                # and the row tile's codes, for the stash's block RAM (``stash.CodeRing``)
                "code_wr": Out(1), "code_ti": Out(range(T)),
                "code_word": Out(data.ArrayLayout(2, R))}

    def set_ports(self):
        return {}

    def old_state(self, a, ti):
        return Const(0)

    def store(self, m, i, t, new, blend_now, blend_ti):
        pass

    def store_tile(self, m, a, new, blend_now, blend_ti):
        m.d.comb += [self.wr.eq(blend_now), self.wr_ti.eq(blend_ti), self.wr_data[a].eq(new)]

    def code_tile(self, m, a, code, done, ti):
        m.d.comb += [self.code_wr.eq(done), self.code_ti.eq(ti), self.code_word[a].eq(code)]


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
            **self.target_ports(), "saturated": Out(C)})

    # -- where the next lam goes: the registers below here, their block RAM in
    # ``ColumnTileFinish`` ------------------------------------------------------------------
    def target_ports(self):
        sens = self.config.sens.bits
        return {"lam_below": In(data.ArrayLayout(signed(sens), self.n_in)),
                "lam_out": Out(TargetLink(self.n_in, sens))}

    def old_value(self, b, tj):
        """Column lane b's lam below in column tile tj, the blend's old value."""
        C, M = self.tiling.cols, self.n_in
        return Array(self.lam_below[k * C + b] if k * C + b < M else Const(0)
                     for k in range(self.tiling.tj))[tj]

    def send(self, m, b, new, land, land_tj):
        """Column lane b's next lam, landing below when ``land`` for tile ``land_tj``."""
        C, M = self.tiling.cols, self.n_in
        for k in range(self.tiling.tj):
            j = k * C + b
            if j < M:
                with m.If(land & (land_tj == k)):
                    m.d.comb += [self.lam_out.value[j].eq(new), self.lam_out.we[j].eq(1)]

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
            m.d.sync += [t.eq(t_now), old.eq(self.old_value(b, tj))]
            new = delayed(m, _blend(m, c, old, t, self.dt, b), self.link, f"lam_new{b}_")
            m.d.comb += self.saturated[b].eq(done & over & (tj < -(-(M - b) // C)))
            self.send(m, b, new, land, land_tj)
        return m


class ColumnTileFinish(ColumnFinish):
    """``ColumnFinish`` writing the next lam into the block RAM of the cell below
    (``StateBanks``, ``rows_below`` elements a word): column tile tj's C results are
    elements (tj % K) C .. of word tj // K (K = rows_below / C). The blend takes dt = 1,
    so no lam below is read."""

    def __init__(self, config: DyadicConfig, tiling, n_in: int, sum_bits: int, link: int,
                 rows_below: int):
        if config.fractional_dt:
            raise ValueError("a column tile finish blends with dt = 1 only "
                             "(fractional_dt false)")
        if rows_below % tiling.cols:
            raise ValueError(f"the {tiling.cols} column lanes must divide the {rows_below} "
                             f"elements of a word below")
        self.rows_below = rows_below
        super().__init__(config, tiling, n_in, sum_bits, link)

    def target_ports(self):
        return {"lam_out": Out(TileTargetLink(self.n_in, self.rows_below,
                                              self.config.sens.bits))}

    def old_value(self, b, tj):
        return Const(0)

    def send(self, m, b, new, land, land_tj):
        C, M, R = self.tiling.cols, self.n_in, self.rows_below
        word, at = column_tile_place(M, R, C, self.tiling.tj, land_tj)
        if b == 0:
            m.d.comb += self.lam_out.word.eq(word)
        for o in range(R // C):
            m.d.comb += [self.lam_out.value[o * C + b].eq(new),
                         self.lam_out.mask[o * C + b].eq(land & (at == o) &
                                                         (land_tj <= (M - 1 - b) // C))]
