"""A signed multiplier with registered operands and product: ``p`` is ``a * b`` two cycles on.

On an ECP5 the product register is the MULT18X18D's own output register. The block's site
is fixed, and with a hundred of them in use many sit far from the logic that feeds and
reads them: with the block's register the route out gets a cycle of its own, instead of
sharing the multiplier's cycle with the route in. ``Multiplier``'s operands are fabric
registers: as the block's input registers, the logic that makes them (placed by the cell,
not by the block) would share a cycle with the route in. ``BlockMultiplier`` uses the
block's input registers, for operands that are little more than registers already (a lean
lane's). Elsewhere, and in simulation, the product is a fabric register too; on an iCE40
yosys packs it into the SB_MAC16. (The builds behind this are in boards/README.md.)
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .family import family_of

__all__ = ["Multiplier", "BlockMultiplier", "ECP5_WIDTH", "ICE40_WIDTH"]

ECP5_WIDTH = 18     # MULT18X18D operand width
ICE40_WIDTH = 16    # SB_MAC16 operand width (a wider operand takes two or four)


class Multiplier(wiring.Component):
    """``p`` = ``a`` * ``b`` (signed) with a latency of two cycles.

    The operand registers are reset with the domain (reset-less ones came out of yosys 0.70
    multiply driven in a 116-multiplier ECP5 build); the product register has no reset, so
    that it can be the DSP block's.
    """

    def __init__(self, a_bits: int, b_bits: int, p_bits: int):
        self.a_bits, self.b_bits, self.p_bits = a_bits, b_bits, p_bits
        super().__init__({"a": In(signed(a_bits)), "b": In(signed(b_bits)),
                          "p": Out(signed(p_bits))})

    # the operand registers: fabric flip-flops, or the block's own (``BlockMultiplier``)
    operands_in_block = False

    def elaborate(self, platform):
        m = Module()
        ecp5 = family_of(platform) == "ecp5"
        if ecp5 and max(self.a_bits, self.b_bits) <= ECP5_WIDTH:
            a18 = Signal(signed(ECP5_WIDTH))
            b18 = Signal(signed(ECP5_WIDTH))
            p = Signal(36)
            m.submodules.mult18x18d = self._mult18x18d(a18, b18, p, self.operands_in_block)
            if self.operands_in_block:
                m.d.comb += [a18.eq(self.a), b18.eq(self.b)]
            else:
                m.d.sync += [a18.eq(self.a), b18.eq(self.b)]
            m.d.comb += self.p.eq(p[:self.p_bits])
        else:
            a = Signal(signed(self.a_bits), reset_less=self.operands_in_block)
            b = Signal(signed(self.b_bits), reset_less=self.operands_in_block)
            p = Signal(signed(self.p_bits), reset_less=True)
            m.d.sync += [a.eq(self.a), b.eq(self.b), p.eq(a * b)]
            m.d.comb += self.p.eq(p)
        return m

    @staticmethod
    def _mult18x18d(a18, b18, p, inputs_registered):
        """Signed 18 x 18 -> 36, with the output register (and, if asked, the input
        registers) on CLK0, without reset."""
        inputs = "CLK0" if inputs_registered else "NONE"
        return Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK=inputs, p_REG_INPUTB_CLK=inputs, p_REG_INPUTC_CLK="NONE",
            p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_PIPELINE_CLK="NONE",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            # (B_SHIFT: the library's default, B from the B inputs; prjtrellis's
            # ecppack has no bits for B_INPUT and stops)
            p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED", p_RESETMODE="SYNC",
            p_GSR="DISABLED", p_CAS_MATCH_REG="FALSE",
            i_SIGNEDA=Const(1), i_SIGNEDB=Const(1), i_SOURCEA=Const(0), i_SOURCEB=Const(0),
            i_CLK0=ClockSignal(), i_CE0=Const(1), i_RST0=Const(0),
            **{f"i_A{k}": a18[k] for k in range(ECP5_WIDTH)},
            **{f"i_B{k}": b18[k] for k in range(ECP5_WIDTH)},
            **{f"i_C{k}": Const(0) for k in range(ECP5_WIDTH)},
            **{f"o_P{k}": p[k] for k in range(2 * ECP5_WIDTH)},
        )


class BlockMultiplier(Multiplier):
    """The same product, with the operand registers inside the block on an ECP5 (and
    reset-less elsewhere): a lane whose operands come straight from registers (a block
    RAM's words, a shared operand register) saves 36 fabric flip-flops and their routes."""

    operands_in_block = True
