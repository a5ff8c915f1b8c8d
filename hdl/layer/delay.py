"""Registers by count: a component takes its depths from a ``Retiming`` and builds them here,
so no component branches on a pipeline depth."""

from amaranth.hdl import Signal, Value

__all__ = ["delayed"]


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
