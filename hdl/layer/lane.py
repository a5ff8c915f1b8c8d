"""One multiplier lane: its W/G words, its operand pick, the multiplier, and the two
write-backs (gradient and update). Everything else a lane needs is shared by its row or
column (operands, trees) or by the cell (shift operand, statistics)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import LEAN_OPERAND_BITS, DyadicConfig
from firmware_py.contract.retiming import Retiming

from ..fixed import saturate
from ..multiplier import BlockMultiplier
from ..tile_memory import COPY_ATTR
from .delay import delayed
from .gradient import GradientUnit
from .lane_memory import LaneMemory
from .update import ArrayUpdate

__all__ = ["Lane", "SummingLane", "LaneOp", "operand_bits", "check_widths", "lane_for"]


def operand_bits(config: DyadicConfig) -> int:
    """A lane multiplier's operands: as wide as the widest value it multiplies (G and the
    update's shift operand, the master weight, s, d). 18 bits fill an ECP5 MULT18X18D; 16
    or fewer fit one iCE40 SB_MAC16, where 18 would take two."""
    return max(config.grad_bits, config.master.bits, config.act.bits, config.sens.bits)


def check_widths(config: DyadicConfig):
    """G (an update's multiplicand) and the master weight must fit a multiplier operand."""
    if operand_bits(config) > LEAN_OPERAND_BITS:
        raise ValueError(f"G ({config.grad_bits} bits) and the master weight "
                         f"({config.master.bits} bits) must fit the {LEAN_OPERAND_BITS}-bit "
                         "multiplier")


class LaneOp(enum.Enum, shape=3):
    FORWARD = 0     # W x column operand (s of the layer below)
    ADJOINT = 1     # W x row operand (d), summed down the column
    GRADIENT = 2    # d x column operand (the stashed s), into G
    UPDATE = 3      # G x column operand (the cell's shift operand), into W
    READ_W = 4      # master W x column operand (1 in the host's column): W into the row sum
    READ_G = 5      # G x column operand: G into the row sum
    WRITE_W = 6     # the host's word into the W of the lane marked ``host_here``


class Lane(wiring.Component):
    """Issue ``op`` at ``addr``; ``row`` and ``col`` are due ``rt.address + rt.memory``
    cycles later; ``p`` comes ``rt.product_at`` cycles after the issue, and a G or W word
    is readable ``rt.land`` cycles after it. ``memory``: the lane memory's class;
    ``adjoint``: the lane takes ADJOINT ops."""

    def __init__(self, config: DyadicConfig, rt: Retiming, depth: int,
                 memory=LaneMemory, adjoint: bool = True):
        self.config, self.rt, self.depth, self.adjoint = config, rt, depth, adjoint
        check_widths(config)
        self.operand_bits = operand_bits(config)
        self.p_bits = 2 * self.operand_bits
        self.memory = memory(config, rt, depth)
        super().__init__({
            "issue": In(1), "op": In(LaneOp), "addr": In(range(depth)), "clear_g": In(1),
            "row": In(signed(config.sens.bits)), "col": In(signed(self.operand_bits)),
            "host_word": In(signed(config.master.bits)), "host_here": In(1),
            "p": Out(signed(self.p_bits)), "g_saturated": Out(1), "w_saturated": Out(1)})
        # for testbenches: an issue reads the word a write-back writes in the same cycle
        # (the cycle contract makes none; the board build relies on it: lane_memory.py)
        self.collision = Signal()

    def elaborate(self, platform):
        m = Module()
        rt, c = self.rt, self.config
        m.submodules.memory = mem = self.memory
        m.submodules.mult = mult = BlockMultiplier(self.operand_bits, self.operand_bits,
                                                    self.p_bits)
        # a gradient product d x s is no wider than its operands
        grad_p = c.sens.bits + c.act.bits
        m.submodules.gradient = grad = GradientUnit(c, rt, grad_p)
        m.submodules.update = upd = ArrayUpdate(c, rt, self.p_bits)
        op, a, b = self.operands(m, mem)
        # the multiplier has one operand and one product register; more are added around it
        p = delayed(m, mult.p, rt.product - 1, "p")
        m.d.comb += [mult.a.eq(delayed(m, a, rt.operand - 1, "a")),
                     mult.b.eq(delayed(m, b, rt.operand - 1, "b")), self.p.eq(p)]

        # write-back: the word read, beside its product (a host write: the host's word, which
        # holds still while the walk waits for it to land)
        m.d.comb += [grad.g.eq(delayed(m, mem.g, rt.multiply, "g")), grad.p.eq(p[:grad_p]),
                     upd.w.eq(delayed(m, mem.w, rt.multiply, "w")), upd.p.eq(p)]
        self.write_back(m, mem, op, grad.g_new, grad.saturated, upd.w_new, upd.saturated)
        return m

    def operands(self, m, mem):
        """The op and the multiplier's operands, when the words arrive."""
        rt, c = self.rt, self.config
        m.d.comb += [mem.rd_addr.eq(self.addr), mem.clear_g.eq(self.clear_g)]
        at_read = rt.address + rt.memory
        # (only ``issued`` needs a reset: it gates every write; the op beside it need not)
        # Each lane keeps its own op: merged across a row, one register drove the operand
        # selects of lanes spread along a DSP row (the routed 85F's critical path).
        op = delayed(m, self.op, at_read, "op", attrs={COPY_ATTR: 1})
        w_op = mem.w >> c.weight_guard          # the operand: guard bits dropped (floor)
        a = Mux(op == LaneOp.GRADIENT, self.row,
                Mux((op == LaneOp.UPDATE) | (op == LaneOp.READ_G), mem.g,
                    Mux(op == LaneOp.READ_W, mem.w, w_op)))
        # (only a cell with an adjoint pass, above the first, multiplies W by d)
        b = Mux(op == LaneOp.ADJOINT, self.row, self.col) if self.adjoint else self.col
        return op, a, b

    def write_back(self, m, mem, op, g_new, g_saturated, w_new, w_saturated):
        """G's and W's new values into the memory, ``rt.product_at + rt.writeback`` after
        the issue, with their saturation flags."""
        rt = self.rt
        back = rt.product_at + rt.writeback
        issued = delayed(m, self.issue, back, "issued", reset_less=False)
        back_op = delayed(m, op, rt.multiply + rt.writeback, "back_op", attrs={COPY_ATTR: 1})
        m.d.comb += [mem.wr_addr.eq(delayed(m, self.addr, back, "wr_addr")),
                     mem.wr_g.eq(issued & (back_op == LaneOp.GRADIENT)),
                     mem.wr_w.eq(issued & ((back_op == LaneOp.UPDATE) |
                                           (back_op == LaneOp.WRITE_W) & self.host_here)),
                     mem.g_data.eq(g_new),
                     mem.w_data.eq(Mux(back_op == LaneOp.WRITE_W, self.host_word, w_new)),
                     self.g_saturated.eq(mem.wr_g & g_saturated),
                     self.w_saturated.eq(issued & (back_op == LaneOp.UPDATE) & w_saturated),
                     self.collision.eq(self.issue & (self.op != LaneOp.WRITE_W) &
                                       (mem.wr_w | mem.wr_g) & (mem.wr_addr == self.addr))]


class SummingLane(Lane):
    """The same lane, its write-back sum made by the multiplier's own adder: the product
    register holds ``addend + a x b``, where the addend is G for a gradient, W 2^S plus the
    rounding constant for an update (``update.py``: the step is then that sum >> S), and 0
    for every other op. On an iCE40 yosys puts the addend's register, the adder and the sum
    register into the SB_MAC16 (its C/D registers and accumulator), so W and G need not be
    carried beside the product: a lane keeps only a sum's saturation in the fabric."""

    def elaborate(self, platform):
        m = Module()
        rt, c = self.rt, self.config
        m.submodules.memory = mem = self.memory
        op, a, b = self.operands(m, mem)
        S = c.grad_bits - 1
        scaled_w = Cat(Const((1 << (S - 1)) - 1, S), mem.w).as_signed()   # W 2^S + 2^(S-1) - 1
        addend = Mux(op == LaneOp.GRADIENT, mem.g, Mux(op == LaneOp.UPDATE, scaled_w, 0))
        # (reset-less registers: yosys takes only those into an SB_MAC16)
        a_r, b_r, c_r = (delayed(m, v, rt.operand, name) for v, name in
                         ((a, "a"), (b, "b"), (addend, "addend")))
        total = delayed(m, c_r + a_r * b_r, rt.product, "total")
        m.d.comb += self.p.eq(total)     # (the addend is 0 for every op a tree sums)
        g_new, g_sat = saturate(total, c.grad)
        w_new, w_sat = saturate(total >> S, c.master)
        self.write_back(m, mem, op, *(delayed(m, v, rt.writeback, name) for v, name in
                                      ((g_new, "g_new"), (g_sat, "g_sat"), (w_new, "w_new"),
                                       (w_sat, "w_sat"))))
        return m


def lane_for(config: DyadicConfig):
    """The lane of a cell: the summing lane for the ``lean-bram`` cells' devices (the iCE40,
    whose SB_MAC16 has the adder; the GW2A), the plain one elsewhere (an ECP5's
    MULT18X18D has none, and its boards' netlists stay as built)."""
    return SummingLane if config.cell == "lean-bram" else Lane
