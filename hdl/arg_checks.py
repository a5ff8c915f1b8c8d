"""The checks a command's arguments must pass, as data, and the unit that makes them.

Each command's checks are a list of comparisons between its arguments and what the
device holds; the first that fails names the refusal.
"""

from typing import NamedTuple

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.protocol import MAX_EPOCHS, Opcode, Status, carried_opcodes

__all__ = ["ArgumentChecks", "Operands", "CHECKS", "Check"]

WIDTH = 18      # every operand: 16-bit arguments, their sums, and 2 x 16-bit


class Check(NamedTuple):
    """The command is refused with ``status`` when ``x`` is ``fails`` than ``y``:
    "above" (x > y), "not above" (x <= y) or "other" (x != y)."""

    x: str
    fails: str
    y: str
    status: Status


def _c(x, fails, y, status):
    return Check(x, fails, y, status)


_NA, _NR = Status.BAD_ARGUMENT, Status.NOT_RESIDENT
_WINDOW = [_c("a1", "not above", "zero", _NA), _c("end", "above", "total", _NA)]

# Operands: a0..a4 the arguments in order; end = a0 + the window's count (a1, or the words
# of a write); words, the words a1 packed samples take; values, their values (a1 times a
# sample's lanes, what READ_SAMPLES sends); epochs2 = 2 * a4; remaining, the
# payload words after the arguments; resident, the samples loaded; total, the elements of
# the layer's target. Beyond these, the decoder refuses an argument above 16 bits
# (BAD_ARGUMENT), a learning-rate shift above 31 and samples of other widths (BAD_SHAPE).
CHECKS = {
    Opcode.WRITE_PARAMS: [_c("end", "above", "total", _NA)],
    Opcode.WRITE_STATE: [_c("end", "above", "total", _NA)],
    Opcode.READ_PARAMS: _WINDOW,
    Opcode.READ_GRADS: _WINDOW,
    Opcode.READ_STATE: _WINDOW,
    Opcode.WRITE_SAMPLES: [_c("a1", "not above", "zero", _NA),
                           _c("a0", "above", "resident", _NR),      # no gap in the set
                           _c("end", "above", "samples", Status.NO_ROOM),
                           _c("remaining", "other", "words", Status.BAD_LENGTH)],
    Opcode.READ_SAMPLES: [_c("a1", "not above", "zero", _NA),
                          _c("values", "above", "max_words", _NA),
                          _c("end", "above", "resident", _NR)],
    Opcode.RELAX: [_c("a1", "not above", "zero", _NA),
                   _c("a2", "above", "max_dt", _NA),
                   _c("resident", "not above", "a0", _NR)],
    Opcode.STREAM: [_c("a1", "not above", "zero", Status.BAD_BATCH),
                    _c("a1", "above", "max_batch", Status.BAD_BATCH),
                    _c("end", "above", "resident", _NR)],
    Opcode.EVALUATE: [_c("a1", "not above", "zero", _NA),
                      _c("end", "above", "resident", _NR)],
    Opcode.TRAIN: [_c("a1", "not above", "zero", _NA),
                   _c("end", "above", "resident", _NR),
                   _c("a2", "not above", "zero", Status.BAD_BATCH),
                   _c("a2", "above", "a1", Status.BAD_BATCH),
                   _c("a2", "above", "max_batch", Status.BAD_BATCH),
                   _c("a4", "not above", "zero", _NA),
                   _c("a4", "above", "max_epochs", _NA),
                   _c("remaining", "other", "epochs2", Status.BAD_LENGTH)],
}

Operands = data.StructLayout({name: WIDTH for name in ("a0", "a1", "a2", "a4", "end", "words",
                                                       "values", "remaining", "resident",
                                                       "total", "epochs2")})


class ArgumentChecks(wiring.Component):
    """The checks of ``opcode`` on ``operands``, all at once (each distinct comparison is
    made once and shared): ``status`` is OK, or the first failed check's."""

    def __init__(self, config: DyadicConfig):
        self.config = config
        super().__init__({"opcode": In(Opcode, init=Opcode.IDENTIFY),
                          "operands": In(Operands), "status": Out(Status)})

    def elaborate(self, platform):
        m = Module()
        c = self.config
        consts = {"zero": 0, "samples": c.samples, "max_batch": c.max_batch,
                  "max_epochs": MAX_EPOCHS, "max_dt": c.max_dt_shift,
                  "max_words": 0xFFFF}

        def value(name):
            return Const(consts[name], WIDTH) if name in consts else self.operands[name]

        failed = {}         # (x, fails, y) -> the comparison's signal, made once

        def fails(ch):
            key = (ch.x, ch.fails, ch.y)
            if key not in failed:
                x, y = value(ch.x), value(ch.y)
                cmp = {"above": x > y, "not above": x <= y, "other": x != y}[ch.fails]
                failed[key] = Signal(name=f"{ch.x}_{ch.fails.replace(' ', '_')}_{ch.y}")
                m.d.comb += failed[key].eq(cmp)
            return failed[key]

        carried = carried_opcodes(c)
        commands = {op: checks for op, checks in CHECKS.items() if op in carried}
        for checks in commands.values():    # (outside the switch: they are shared)
            for ch in checks:
                fails(ch)
        m.d.comb += self.status.eq(Status.OK)
        with m.Switch(self.opcode):
            for opcode, checks in commands.items():
                with m.Case(opcode):
                    for ch in reversed(checks):      # the first failed check wins
                        with m.If(fails(ch)):
                            m.d.comb += self.status.eq(ch.status)
        return m
