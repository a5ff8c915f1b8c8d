"""Registers by count: a component takes its depths from a ``Retiming`` and builds them here,
so no component branches on a pipeline depth."""

from amaranth.hdl import Signal, Value

__all__ = ["delayed"]


def delayed(m, value, n: int, name: str = "d", **kwargs):
    """``value`` after ``n`` sync registers (``n`` = 0: the value itself)."""
    value = Value.cast(value)
    for k in range(n):
        reg = Signal(value.shape(), name=f"{name}{k}", **kwargs)
        m.d.sync += reg.eq(value)
        value = reg
    return value
