"""Registers by count: a component takes its depths from a ``Retiming`` and builds them here,
so no component branches on a pipeline depth."""

from amaranth.hdl import Signal, Value

from ..tile_memory import COPY_ATTR

__all__ = ["delayed", "run_copy"]


def delayed(m, value, n: int, name: str = "d", *, reset_less: bool = True, **kwargs):
    """``value`` after ``n`` sync registers (``n`` = 0: the value itself).

    Reset-less unless told: a datum in flight means nothing after a reset, while a reset
    net reaching every pipeline register of a hundred lanes is one of a big design's
    widest nets (boards/README.md). A flag that gates a write passes
    ``reset_less=False``."""
    value = Value.cast(value)
    for k in range(n):
        reg = Signal(value.shape(), name=f"{name}{k}", reset_less=reset_less, **kwargs)
        m.d.sync += reg.eq(value)
        value = reg
    return value


def run_copy(m, value, name: str):
    """A kept copy of a value that holds through a run (dt, the update's shift),
    placed beside the logic it feeds: one register fanning out across the die was a routed
    85F's critical path (boards/README.md). The copy is a cycle late; such a value changes
    only at a run's start, cycles before its first use."""
    return delayed(m, value, 1, name, attrs={COPY_ATTR: 1})
