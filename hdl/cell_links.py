"""Named signatures of the links between layer cells and their control unit.

Activations flow up the chain (``VectorLink``), sensitivity targets flow down
(``TargetLink``); the core drives each cell through a ``CellControl``.
"""

from amaranth.hdl import signed
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["VectorLink", "TargetLink", "TileTargetLink", "CellControl", "HostTarget",
           "HostAccess", "CellStats", "STATE_COMMITS", "state_commit"]

# The commit loads every state register of a vector (a cell's s and lam, the core's sample
# row), and those sit beside the lanes that make or read them, over the whole die: a copy
# of the commit for each quarter of those lanes.
STATE_COMMITS = 4


def state_commit(commits, lane, lanes):
    """The copy of the commit for an element beside lane ``lane`` of ``lanes`` (element
    i of a vector worked on ``lanes`` at a time sits beside lane i % lanes)."""
    return commits[lane * STATE_COMMITS // lanes]


class VectorLink(wiring.Signature):
    """A layer's state, readable by the cell above during the whole tick.

    ``s`` feeds the forward pass above; ``lam`` lets the cell above Euler-blend the
    sensitivity targets it sends down (one blend unit per column lane up there,
    instead of one per neuron here).
    """

    def __init__(self, n: int, width: int = 16, sens_width: int = 16):
        self.n, self.width, self.sens_width = n, width, sens_width
        super().__init__({"s": Out(data.ArrayLayout(signed(width), n)),
                          "lam": Out(data.ArrayLayout(signed(sens_width), n))})

    def __eq__(self, other):
        return isinstance(other, VectorLink) and \
            (self.n, self.width, self.sens_width) == (other.n, other.width, other.sens_width)


class TargetLink(wiring.Signature):
    """Next sensitivities (already Euler-blended) written into the layer below, one strobe
    per element."""

    def __init__(self, n: int, width: int = 16):
        self.n, self.width = n, width
        super().__init__({"value": Out(data.ArrayLayout(signed(width), n)), "we": Out(n)})

    def __eq__(self, other):
        return isinstance(other, TargetLink) and (self.n, self.width) == (other.n, other.width)


class TileTargetLink(wiring.Signature):
    """Next sensitivities written into the block RAM of the layer below
    (``hdl/layer/state_banks.py``): the elements ``mask`` of word ``word``, ``rows``
    elements a word."""

    def __init__(self, n: int, rows: int, width: int = 16):
        self.key = (n, rows, width)
        super().__init__({"mask": Out(rows), "word": Out(range(-(-n // rows))),
                          "value": Out(data.ArrayLayout(signed(width), rows))})

    def __eq__(self, other):
        return isinstance(other, TileTargetLink) and self.key == other.key


class CellControl(wiring.Signature):
    """From the control unit: ``commit`` ends a tick and starts the next with these flags.

    ``commit`` drives the cell's issue; ``commit_state`` are copies of it for what a commit
    loads elsewhere in the cell: its state vectors (``state_commit``), the stash, the flags.
    """

    def __init__(self):
        super().__init__({
            "commit": Out(1), "commit_state": Out(1).array(STATE_COMMITS),
            "fwd": Out(1), "bwd": Out(1), "grad": Out(1),
            "first": Out(1),     # grad pass clears the accumulators (first sample, read-out)
            "update": Out(1),    # grad pass also applies W -= lr * G (last sample of a batch)
            "relax": Out(1),     # use the current s_{l-1} and codes, not the stash
            "readout": Out(1),   # forward pass computes codes only, no state update
            "dt_shift": Out(4),
            "lr_shift": Out(5),    # 0..31
            "ready": In(1),      # the cell's work allows the tick to end this cycle
            "ready_next": In(1),  # ready next cycle, if this cycle does not commit
        })


class HostTarget(enum.Enum, shape=2):
    PARAMS = 0   # W (row-major master codes), then b
    GRADS = 1    # G_W, then G_b; read-only (no command writes them: a write stores nothing)
    STATE = 2    # s, then lam


class HostAccess(wiring.Signature):
    """Host access to one cell's memories while the datapath is idle.

    At ``start`` the cell takes the window: it walks the target's row-major order
    (matrix, then vector) from element 0, skips the elements before ``offset`` (they move
    no data), moves ``count`` elements through its host_i / host_o, and then raises
    ``done`` for a cycle. The core has checked that the window fits the target.
    """

    def __init__(self):
        super().__init__({
            "start": Out(1), "target": Out(HostTarget), "write": Out(1),
            "offset": Out(16), "count": Out(16),
            "done": In(1),
        })


class CellStats(wiring.Signature):
    """Per-cycle event counts a cell reports to the counters."""

    def __init__(self, lanes: int):
        w = (lanes + 1).bit_length()
        super().__init__({name: Out(w + 1) for name in
                          ("busy", "sat_h", "sat_lam", "sat_grad", "sat_weight")})
