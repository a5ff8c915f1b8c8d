"""Physical probes: partial designs built on a board to measure a risk (timing, logic) before
the full design exists. Nothing here is part of a board's bitstream."""
