"""PLL parameter solvers and clock-domain generators for the boards.

The solvers search the same parameter space as IceStorm's ``icepll`` and
Trellis' ``ecppll`` and keep the closest output at or below the request, so a
build never clocks faster than the frequency it was timed for.
"""

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In

__all__ = ["ICE40PLL", "ECP5PLL", "DirectClock", "ice40_pll_params", "ecp5_pll_params", "PLLError"]


class PLLError(ValueError):
    pass


@dataclass(frozen=True)
class ICE40PLLParams:
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_out: float


def ice40_pll_params(f_in: float, f_req: float) -> ICE40PLLParams:
    """SB_PLL40 (SIMPLE feedback): f_out = f_in * (DIVF+1) / ((DIVR+1) * 2^DIVQ)."""
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = f_vco / 2 ** divq
                if f_out <= f_req and (best is None or f_out > best.f_out):
                    # loop-filter range as icepll chooses it from the PFD frequency
                    fr = next(k for k, lim in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 1e12))
                              if f_pfd < lim) + 1
                    best = ICE40PLLParams(divr, divf, divq, fr, f_out)
    if best is None or best.f_out < 16e6:
        raise PLLError(f"no iCE40 PLL setting reaches {f_req / 1e6:.2f} MHz from "
                       f"{f_in / 1e6:.2f} MHz (outputs span 16-275 MHz)")
    return best


@dataclass(frozen=True)
class ECP5PLLParams:
    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_out: float


def ecp5_pll_params(f_in: float, f_req: float) -> ECP5PLLParams:
    """EHXPLLL, CLKOP feedback: f_out = f_in * CLKFB_DIV / CLKI_DIV, VCO = f_out * CLKOP_DIV."""
    best = None
    for clki in range(1, 129):
        f_pfd = f_in / clki
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for clkfb in range(1, 81):
            f_out = f_pfd * clkfb
            if f_out > f_req or not 10e6 <= f_out <= 400e6:
                continue
            for clkop in range(1, 129):
                if 400e6 <= f_out * clkop <= 800e6:
                    if best is None or f_out > best.f_out:
                        best = ECP5PLLParams(clki, clkfb, clkop, f_out)
                    break
    if best is None:
        raise PLLError(f"no ECP5 PLL setting reaches {f_req / 1e6:.2f} MHz from "
                       f"{f_in / 1e6:.2f} MHz")
    return best


HOLD_CYCLES = 16


class _PLLBase(wiring.Component):
    """Drives the clock and reset of ``sync`` (defined by the parent); reset holds until lock."""

    clk_in: In(1)

    def __init__(self, f_in: float, f_req: float):
        self.f_in = f_in
        self.params = self.solve(f_in, f_req)
        self.f_out = self.params.f_out
        super().__init__()

    def take_clock(self, m, port):
        """Feed the PLL from the board oscillator's pin: through an input buffer."""
        m.submodules.clk_buf = buf = io.Buffer("i", port)
        m.d.comb += self.clk_in.eq(buf.i)

    def _domain(self, m, platform, clk_out, lock):
        if platform is not None:
            platform.add_clock_constraint(clk_out, self.f_out)
        # reset is released HOLD_CYCLES after lock (synchronised to the new clock): longer than
        # any reset-less pipeline behind a source it holds (hdl/layer/__init__.py). It comes
        # from a flip-flop, not a LUT: the net reaches every reset across the die.
        locked = Signal(HOLD_CYCLES)
        reset = Signal(init=1)
        m.d.comb += [ClockSignal("sync").eq(clk_out), ResetSignal("sync").eq(reset)]
        m.domains.pll_rst = ClockDomain("pll_rst", reset_less=True, local=True)
        m.d.comb += ClockSignal("pll_rst").eq(clk_out)
        m.d.pll_rst += [locked.eq(Mux(lock, (locked << 1) | 1, 0)), reset.eq(~locked[-1])]


class ICE40PLL(_PLLBase):
    """SB_PLL40_PAD: fed by its own pad, not ``clk_in``. The oscillator pin of an UP5K
    board (pin 35 on the iCEBreaker) is the PLL's input pad, and the PLL output uses
    that pad's input path, so a buffer there leaves the PLL no place (nextpnr: "PLL
    couldn't be placed anywhere")."""
    solve = staticmethod(ice40_pll_params)
    pad = None

    def take_clock(self, m, port):
        self.pad = port

    def elaborate(self, platform):
        m = Module()
        p = self.params
        clk_out, lock = Signal(), Signal()
        if self.pad is None:
            raise ValueError("ICE40PLL needs the oscillator's pad (take_clock)")
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE", p_PLLOUT_SELECT="GENCLK",
            p_DIVR=Const(p.divr, 4), p_DIVF=Const(p.divf, 7), p_DIVQ=Const(p.divq, 3),
            p_FILTER_RANGE=Const(p.filter_range, 3),
            io_PACKAGEPIN=self.pad.io, i_RESETB=Const(1), i_BYPASS=Const(0),
            o_PLLOUTGLOBAL=clk_out, o_LOCK=lock)
        self._domain(m, platform, clk_out, lock)
        return m


class ECP5PLL(_PLLBase):
    solve = staticmethod(ecp5_pll_params)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        clk_out, lock = Signal(), Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=str(self.f_in / 1e6), a_FREQUENCY_PIN_CLKOP=str(p.f_out / 1e6),
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_CLKI_DIV=p.clki_div, p_CLKFB_DIV=p.clkfb_div, p_CLKOP_DIV=p.clkop_div,
            p_CLKOP_CPHASE=p.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            i_CLKI=self.clk_in, i_CLKFB=clk_out, i_RST=Const(0), i_STDBY=Const(0),
            i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(0),
            i_PHASESTEP=Const(0), i_PHASELOADREG=Const(0), i_PLLWAKESYNC=Const(0),
            i_ENCLKOP=Const(0), o_CLKOP=clk_out, o_LOCK=lock)
        self._domain(m, platform, clk_out, lock)
        return m


@dataclass(frozen=True)
class DirectParams:
    f_out: float


def direct_params(f_in: float, f_req: float) -> DirectParams:
    if abs(f_req - f_in) > 1:
        raise PLLError(f"this board runs from its {f_in / 1e6:.0f} MHz oscillator (no PLL); "
                       f"{f_req / 1e6:.2f} MHz was requested")
    return DirectParams(f_in)


class DirectClock(_PLLBase):
    """The oscillator as ``sync``, with the same power-on reset as behind a PLL."""
    solve = staticmethod(direct_params)

    def elaborate(self, platform):
        m = Module()
        self._domain(m, platform, self.clk_in, Const(1))
        return m
