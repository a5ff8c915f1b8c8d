"""The adder tree sums exactly, with its registers where its description says."""

import numpy as np
import pytest
from harness import run_pipe

from hdl.layer.tree import AdderTree


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11])
@pytest.mark.parametrize("registers", [0, 1, 2, 3])
def test_the_tree_sums_after_its_registers(n, registers):
    tree = AdderTree(n, 17, registers)
    assert sum(tree.registers_after()) == registers
    assert tree.registers_after()[-1] >= min(registers, 1)      # the output first
    xs = np.random.default_rng(n).integers(-(1 << 16), 1 << 16, size=(12, n))
    xs[0], xs[1] = -(1 << 16), (1 << 16) - 1                     # the extremes
    seen = run_pipe(tree, [{"inputs": [int(v) for v in x]} for x in xs], ["total"])
    assert [seen[t + registers]["total"] for t in range(len(xs))] == [int(x.sum()) for x in xs]
