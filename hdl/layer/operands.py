"""The operands of a tile: one per column lane (s below, the stashed s, or the update's
shift operand) and one per row lane (d = f'(h) lam). Each is picked the cycle after its
tile's issue (``retiming.PICK``), from that tile's index, and registered until it is due
(``rt.address + rt.memory`` cycles after the issue). Picking a cycle after the issue keeps
every pick at or before the commit that ends the tick, while this tick's state still holds
still.

Where the operand waits a cycle or more after its pick (``rt.address`` >= 1), the pick
takes two: the tile's value is picked into a register, and the choice by the op (or the
derivative code) is made from it the next cycle. The tile pick gathers a vector placed by
the cell that makes it, the choice feeds lanes across the die: in one cycle the pair was
the 45F's critical path (boards/README.md). Each lane's tile index (and op) is a copy of
its own: one index register steering every lane's pick across the die was the routed
85F's. A column operand feeds one lane in every row of lanes, over several DSP rows: the
pick is made once and registered in a copy for each group of ``ROW_GROUP`` rows (one
register driving eleven multipliers over three DSP rows was the routed 85F's critical
path; a whole pick a group cost 1,940 LUT4 and was slower).
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.retiming import PICK, Retiming

from ..fixed import apply_fprime
from ..tile_memory import COPY_ATTR
from .delay import delayed
from .lane import LaneOp, operand_bits
from .mac_array import row_groups
from .state_banks import column_tile_place

__all__ = ["ColumnOperands", "SampleColumns", "BankColumns", "RowOperands", "BankRows"]


def _tile_pick(values, lanes: int, tiles: int, lane: int, tile, fill=lambda i: Const(0)):
    """Lane ``lane``'s value in tile ``tile`` of a vector laid out ``lanes`` per tile."""
    return Array(values[t * lanes + lane] if t * lanes + lane < len(values)
                 else fill(t * lanes + lane) for t in range(tiles))[tile]


class ColumnOperands(wiring.Component):
    """Column lane b of tile tj: input j = tj * C + b of the forward pass (``s`` below,
    the bias column's 1.0 at j = M, 0 beyond), of the gradient pass (the stashed s, or
    ``s`` in relaxation), the update's ``shift``, or for a host read 1 in ``host_col``."""

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, n_in: int):
        self.config, self.rt, self.tiling, self.n_in = config, rt, tiling, n_in
        vec = data.ArrayLayout(signed(config.act.bits), n_in)
        super().__init__({
            "op": In(LaneOp), "tj": In(range(tiling.tj)), "relax": In(1),
            "s": In(vec), "stash": In(vec), "shift": In(signed(config.grad_bits)),
            "host_col": In(range(tiling.cols)),
            # a copy for each group of ROW_GROUP rows of lanes
            "col": Out(data.ArrayLayout(
                data.ArrayLayout(signed(operand_bits(config)), tiling.cols),
                row_groups(tiling)))})

    def elaborate(self, platform):
        m = Module()
        C, TJ, M, one = self.tiling.cols, self.tiling.tj, self.n_in, self.config.act.one
        later = self.rt.address + self.rt.memory - PICK - 1
        staged = later >= 1
        bias = lambda j: Const(one if j == M else 0)       # noqa: E731
        for b in range(C):
            tj = delayed(m, self.tj, PICK, f"tj{b}_", attrs={COPY_ATTR: 1})
            x = _tile_pick([self.s[j] for j in range(M)], C, TJ, b, tj, bias)
            g = Mux(self.relax, x,
                    _tile_pick([self.stash[j] for j in range(M)], C, TJ, b, tj, bias))
            if staged:
                x, g = delayed(m, x, 1, f"x{b}_"), delayed(m, g, 1, f"g{b}_")
            op = delayed(m, self.op, PICK + staged, f"op{b}_", attrs={COPY_ATTR: 1})
            host = (op == LaneOp.READ_W) | (op == LaneOp.READ_G)   # 1 in the host's column
            choice = Mux(op == LaneOp.FORWARD, x,
                         Mux(op == LaneOp.UPDATE, self.shift, Mux(host, self.host_col == b, g)))
            for k in range(row_groups(self.tiling)):
                pick = Signal(signed(operand_bits(self.config)), name=f"col{b}_{k}",
                              reset_less=True, attrs={COPY_ATTR: 1})
                m.d.sync += pick.eq(choice)
                m.d.comb += self.col[k][b].eq(delayed(m, pick, later - staged,
                                                      f"col{b}_{k}_"))
        return m


class SampleColumns(wiring.Component):
    """Cell 1's column operands read from the sample memory (``hdl/sample_words.py``), as
    ``ColumnOperands`` picks them from the row it is given: column lane b of tile tj is
    input j = tj * C + b of sample ``index`` (this tick's) or ``index_stash`` (the gradient
    pass's, outside relaxation), the bias column's 1.0 at j = M, 0 beyond.

    The word is asked for when ``ColumnOperands`` picks, a cycle after the issue (an issue
    in a commit's cycle reads the new tick's index and stash), and comes the cycle after:
    the memory's read register takes the place of the staged pick's, so the operand must
    wait at least that long (``rt.address + rt.memory >= PICK + 2``)."""

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, n_in: int):
        if rt.address + rt.memory < PICK + 2:
            raise ValueError("a column read from the sample memory needs Retiming.address + "
                             f"Retiming.memory >= {PICK + 2}")
        self.config, self.rt, self.tiling, self.n_in = config, rt, tiling, n_in
        super().__init__({
            "op": In(LaneOp), "tj": In(range(tiling.tj)), "relax": In(1),
            **self.source_ports(),
            "shift": In(signed(config.grad_bits)), "host_col": In(range(tiling.cols)),
            "col": Out(data.ArrayLayout(
                data.ArrayLayout(signed(operand_bits(config)), tiling.cols),
                row_groups(tiling)))})

    # -- where the words come from: the sample memory here, a state's banks below --------
    def source_ports(self):
        c, T = self.config, self.tiling
        return {"index": In(range(c.samples)), "index_stash": In(range(c.samples)),
                "word_index": Out(range(c.samples)), "word_tile": Out(range(T.tj)),
                "word": In(data.ArrayLayout(c.act.bits, T.cols))}

    def address(self, m, tj, stashed):
        """The word of tile ``tj`` (of the stashed sample if ``stashed``)."""
        m.d.comb += [self.word_tile.eq(tj),
                     self.word_index.eq(Mux(stashed, self.index_stash, self.index))]

    def element(self, tj, b):
        """Column lane b's input in the word read for tile ``tj``."""
        return self.word[b].as_signed()

    def elaborate(self, platform):
        m = Module()
        C, M, one = self.tiling.cols, self.n_in, self.config.act.one
        later = self.rt.address + self.rt.memory - PICK - 1
        tj, op = delayed(m, self.tj, PICK, "tj"), delayed(m, self.op, PICK, "op")
        self.address(m, tj, (op == LaneOp.GRADIENT) & ~self.relax)
        tj, op = delayed(m, tj, 1, "tj_read"), delayed(m, op, 1, "op_read")
        host = (op == LaneOp.READ_W) | (op == LaneOp.READ_G)       # 1 in the host's column
        for b in range(C):
            # lane b holds an input up to tile (M - 1 - b) // C; the bias is input M
            x = Mux(tj <= (M - 1 - b) // C, self.element(tj, b),
                    (tj == M // C) * one if b == M % C else 0)
            choice = Mux((op == LaneOp.FORWARD) | (op == LaneOp.GRADIENT), x,
                         Mux(op == LaneOp.UPDATE, self.shift, host & (self.host_col == b)))
            for k in range(row_groups(self.tiling)):
                pick = Signal(signed(operand_bits(self.config)), name=f"col{b}_{k}",
                              reset_less=True)
                m.d.sync += pick.eq(choice)
                m.d.comb += self.col[k][b].eq(delayed(m, pick, later - 1, f"col{b}_{k}_"))
        return m


class BankColumns(SampleColumns):
    """The column operands of a cell whose inputs are the s of the cell below kept in block
    RAM (``state_banks.StateBanks``, R elements a word): tile tj's C inputs are elements
    (tj % K) C .. of word tj // K (K = R / C, so a tile never spans two words), in the
    current ``bank`` or, for the gradient pass outside relaxation, the stashed one."""

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, n_in: int, rows_below: int,
                 banks: int):
        if rows_below % tiling.cols:
            raise ValueError(f"the {tiling.cols} column lanes must divide the {rows_below} "
                             f"elements of a word below")
        self.rows_below, self.banks = rows_below, banks
        self.per_word = rows_below // tiling.cols
        super().__init__(config, rt, tiling, n_in)

    def source_ports(self):
        B, words = self.banks, -(-self.n_in // self.rows_below)
        return {"bank": In(range(B)), "bank_stash": In(range(B)),
                "rd_bank": Out(range(B)), "rd_word": Out(range(words)),
                "word": In(data.ArrayLayout(signed(self.config.act.bits), self.rows_below))}

    def _place(self, tj):
        return column_tile_place(self.n_in, self.rows_below, self.tiling.cols,
                                 self.tiling.tj, tj)

    def address(self, m, tj, stashed):
        m.d.comb += [self.rd_bank.eq(Mux(stashed, self.bank_stash, self.bank)),
                     self.rd_word.eq(self._place(tj)[0])]

    def element(self, tj, b):
        K, C = self.per_word, self.tiling.cols
        if K == 1:
            return self.word[b]
        return Array(self.word[o * C + b] for o in range(K))[self._place(tj)[1]]


class RowOperands(wiring.Component):
    """Row lane a of tile ti: d_i = f'(h_i) lam_i, i = ti * R + a (0 beyond the layer),
    from the stashed derivative codes, or this tick's in relaxation."""

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, n_out: int, act):
        self.config, self.rt, self.tiling, self.n_out, self.act = config, rt, tiling, n_out, act
        super().__init__({
            "ti": In(range(tiling.ti)), "relax": In(1),
            **self.lam_ports(),
            "code_now": In(data.ArrayLayout(2, n_out)),
            "code_stash": In(self.stash_layout()),
            "row": Out(data.ArrayLayout(signed(config.sens.bits), tiling.rows))})

    def elaborate(self, platform):
        m = Module()
        R, TI, N = self.tiling.rows, self.tiling.ti, self.n_out
        later = self.rt.address + self.rt.memory - PICK - 1
        staged = later >= 1
        for a in range(R):
            ti = delayed(m, self.ti, PICK, f"ti{a}_", attrs={COPY_ATTR: 1})
            lam = self.lam_pick(m, a, ti)
            now = _tile_pick([self.code_now[i] for i in range(N)], R, TI, a, ti)
            code = self.code_pick(m, a, ti, now)
            if staged:
                lam, code = self.staged_lam(m, a, lam), self.staged_code(m, a, code, now)
            d = Signal(signed(self.config.sens.bits), name=f"d{a}", reset_less=True)
            m.d.sync += d.eq(apply_fprime(self.act, code, lam))
            m.d.comb += self.row[a].eq(delayed(m, d, later - staged, f"d{a}_"))
        return m

    # -- where lam comes from: registers here, a block RAM's word in ``BankRows`` ---------
    def lam_ports(self):
        return {"lam": In(data.ArrayLayout(signed(self.config.sens.bits), self.n_out))}

    def lam_pick(self, m, a, ti):
        """Row lane a's lam in row tile ``ti``, picked a cycle after the issue."""
        return _tile_pick([self.lam[i] for i in range(self.n_out)], self.tiling.rows,
                          self.tiling.ti, a, ti)

    def staged_lam(self, m, a, lam):
        return delayed(m, lam, 1, f"lam{a}_")

    # -- where the stashed codes come from: the stash's registers here, its block RAM's
    # word in ``BankRows`` -------------------------------------------------------------------
    def stash_layout(self):
        return data.ArrayLayout(2, self.n_out)

    def code_pick(self, m, a, ti, now):
        """Row lane a's code in row tile ``ti``, picked a cycle after the issue."""
        R, TI, N = self.tiling.rows, self.tiling.ti, self.n_out
        return Mux(self.relax, now, _tile_pick([self.code_stash[i] for i in range(N)], R, TI,
                                               a, ti))

    def staged_code(self, m, a, code, now):
        return delayed(m, code, 1, f"code{a}_")


class BankRows(RowOperands):
    """The row operands of a cell whose lam is in block RAM (``state_banks.StateBanks``, a
    row tile a word): word ``ti`` is asked for when ``RowOperands`` picks and comes the
    cycle after, in place of the staged pick."""

    def __init__(self, config: DyadicConfig, rt: Retiming, tiling, n_out: int, act):
        if rt.address + rt.memory < PICK + 2:
            raise ValueError("a row operand read from block RAM needs Retiming.address + "
                             f"Retiming.memory >= {PICK + 2}")
        super().__init__(config, rt, tiling, n_out, act)

    def lam_ports(self):
        T = self.tiling
        return {"lam_word": Out(range(T.ti)),
                "lam": In(data.ArrayLayout(signed(self.config.sens.bits), T.rows))}

    def lam_pick(self, m, a, ti):
        if a == 0:
            m.d.comb += self.lam_word.eq(ti)
        return None

    def staged_lam(self, m, a, lam):
        return self.lam[a]

    # the stashed codes are word ``lam_word`` of the stash's block RAM (``stash.CodeRing``),
    # read beside lam
    def stash_layout(self):
        return data.ArrayLayout(2, self.tiling.rows)

    def code_pick(self, m, a, ti, now):
        return None

    def staged_code(self, m, a, code, now):
        return Mux(self.relax, delayed(m, now, 1, f"code{a}_"), self.code_stash[a])
