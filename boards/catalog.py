"""The boards dyadic builds for: ``BOARDS`` maps a name (``make bitstream BOARD=<name>``)
to its ``Board``. Each default configuration is the largest one measured to fit and meet
timing on that board (boards/README.md).

A build's key (``boards.build.design_key``) is what the tools ran, not this file: a
change to one board's entry leaves the other boards' bitstreams current.
"""

from .board import Board

__all__ = ["BOARDS"]

# The bridges' rates (shared/notes/links-and-memories.md): the ULX3S's FT231X runs 3 Mbaud
# (divider 25 at 75 MHz). The iCEBreaker's FT2232H would run 6 Mbaud, but at 24 MHz that
# is 4 clocks a bit, and the receiver's start-bit detection alone costs up to a quarter
# of one: 3 Mbaud (divider 8). The Tang Nano 20K's BL616 runs 3 Mbaud as its sibling's
# BL702 does (divider 9 at 27 MHz), not measured on a 20K here.
# A board's seed is part of its recipe: placement is deterministic for a netlist and a
# seed, and the seeds of one lean 85F netlist spread over 12 MHz (boards/README.md).
# Each ULX3S states its clock: the 25F's and 45F's lean builds meet 72 and 69 MHz, not 75.
_ULX3S = dict(family="ecp5", baud=3_000_000,
              programmers=(("openFPGALoader", "--board", "ulx3s", "{bitstream}"),
                           ("fujprog", "{bitstream}")))
BOARDS = {b.name: b for b in [
    Board("icebreaker", "1BitSquared iCEBreaker (iCE40 UP5K)", "ice40",
          "amaranth_boards.icebreaker:ICEBreakerPlatform", "configs/digits-lean-ice40.json",
          clock_mhz=24.0, dsp=8, bram_kbit=120, logic=5280, spram_kbit=1024, baud=3_000_000,
          programmers=(("iceprog", "{bitstream}"),
                       ("openFPGALoader", "--board", "ice40_generic", "{bitstream}"))),
    Board("ulx3s-12f", "Radiona ULX3S, LFE5U-12F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_12F_Platform", config="configs/digits24-lean-5.json",
          dsp=28, bram_kbit=576, logic=12288, clock_mhz=75.0, **_ULX3S),
    Board("ulx3s-25f", "Radiona ULX3S, LFE5U-25F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_25F_Platform", config="configs/digits-lean-5.json",
          dsp=28, bram_kbit=1008, logic=24288, clock_mhz=72.0, **_ULX3S),
    Board("ulx3s-45f", "Radiona ULX3S, LFE5U-45F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_45F_Platform", config="configs/digits-lean-28.json",
          dsp=72, bram_kbit=1944, logic=43848, clock_mhz=69.0, seed=3, **_ULX3S),
    Board("ulx3s-85f", "Radiona ULX3S, LFE5U-85F", platform_class=
          "amaranth_boards.ulx3s:ULX3S_85F_Platform", config="configs/digits-lean-ecp5.json",
          dsp=156, bram_kbit=3744, logic=83640, clock_mhz=75.0, seed=2, **_ULX3S),
    # no PLL yet: runs from the 27 MHz oscillator
    Board("tangnano20k", "Sipeed Tang Nano 20K (Gowin GW2AR-18)", "gowin",
          "boards.gowin:TangNano20kPlatform", "configs/digits-bram-20.json", clock_mhz=27.0,
          dsp=48, bram_kbit=828, logic=20736, baud=3_000_000,
          programmers=(("openFPGALoader", "--board", "tangnano20k", "{bitstream}"),)),
]}
