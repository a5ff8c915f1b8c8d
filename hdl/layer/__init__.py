"""The lean layer cell, built from named parts (docs/design/lean-cells.md).

``cell.LeanCell`` composes: ``issue`` (the tick's passes, one tile op a cycle),
``operands`` (each tile's column and row operands), ``mac_array`` (the ``lane``s, each with
its ``lane_memory``, multiplier, ``gradient`` and ``update`` units, and the ``tree``s),
``finish`` (sums into the next state and the next lam below), ``stash``, ``host_walk`` and
``stats``. Register placement comes from ``firmware_py.contract.retiming``, the
definition the cycle model reads too. The core builds these cells for a configuration
with ``cell: "lean"``, and ``hdl/cell.py``'s for the others. With ``cell: "lean-bram"``
cell 1 is a ``SampleWordCell``: its column operands are read a tile a word from the sample
memory (``operands.SampleColumns``, ``hdl/sample_words.py``) and its stash keeps sample
indices, so no copy of a sample sits in flip-flops.

Only control state carries the domain reset: the issue sequencer, the flags that gate a
write, counters. Data (the state vectors, the stash's entry, picks, pipeline registers)
powers up at its initial value like every FPGA flip-flop and needs none; the reset then
reaches a few hundred flip-flops, not thousands across the die (a routed 85F's critical
path, boards/README.md). The reset holds long enough after the clock locks
(``boards/pll.py``) for the sources it holds to flush every pipeline behind them.
"""

from .cell import (
    HiddenIceCell,
    HiddenSampleWordCell,
    IceCell,
    LeanCell,
    SampleInputs,
    SampleWordCell,
    lean_cell_class,
)

__all__ = ["LeanCell", "SampleWordCell", "HiddenSampleWordCell", "IceCell", "HiddenIceCell",
           "SampleInputs", "lean_cell_class"]
