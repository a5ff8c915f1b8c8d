"""A hidden iCE40 cell's state in block RAM (``hdl/layer/state_banks.py``): banks a tick
each, the next one current at a commit only when written, the host's element writes in the
current one, and enough banks that the next is never one a stash still reads."""

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.layer.state_banks import StateBanks, banks_below

N, R, B = 7, 3, 4          # 3 words a bank, the last one a third full


async def _read(ctx, banks, bank, word):
    ctx.set(banks.rd_bank, bank)
    ctx.set(banks.rd_word, word)
    await ctx.tick()
    return [ctx.get(banks.rd_data[k]) for k in range(R)]


async def _write(ctx, banks, word, values, mask=(1 << R) - 1):
    ctx.set(banks.wr_word, word)
    ctx.set(banks.wr_mask, mask)
    for k, v in enumerate(values):
        ctx.set(banks.wr_data[k], int(v))
    await ctx.tick()
    ctx.set(banks.wr_mask, 0)


def test_a_commit_makes_the_written_bank_current_and_keeps_the_rest():
    banks = StateBanks(N, R, B, 8)
    rng = np.random.default_rng(3)
    ticks = [rng.integers(-128, 128, (3, R)) for _ in range(6)]

    async def bench(ctx):
        assert ctx.get(banks.bank) == 0
        for t, words in enumerate(ticks[:5]):
            for w in range(3):
                await _write(ctx, banks, w, words[w])
            ctx.set(banks.commit, 1)
            await ctx.tick()
            ctx.set(banks.commit, 0)
            assert ctx.get(banks.bank) == (t + 1) % B
        # each bank holds its tick: the last B - 1 ticks are all still there
        for back in range(B - 1):
            t = 4 - back
            for w in range(3):
                assert await _read(ctx, banks, (t + 1) % B, w) == list(ticks[t][w]), (t, w)
        # a tick that writes nothing keeps the current bank
        ctx.set(banks.commit, 1)
        await ctx.tick()
        ctx.set(banks.commit, 0)
        assert ctx.get(banks.bank) == 5 % B
        # a write in the commit's own cycle counts (the lam below lands as a tick ends)
        ctx.set(banks.wr_word, 1)
        ctx.set(banks.wr_mask, 0b010)
        ctx.set(banks.wr_data[1], 77)
        ctx.set(banks.commit, 1)
        await ctx.tick()
        ctx.set(banks.commit, 0)
        ctx.set(banks.wr_mask, 0)
        assert ctx.get(banks.bank) == 6 % B
        assert (await _read(ctx, banks, 6 % B, 1))[1] == 77

    _run(banks, bench)


def test_the_host_writes_an_element_of_the_current_bank_and_reads_it_back():
    banks = StateBanks(N, R, B, 8)

    async def bench(ctx):
        for w in range(3):
            await _write(ctx, banks, w, [10 * w + k for k in range(R)])
        ctx.set(banks.commit, 1)
        await ctx.tick()
        ctx.set(banks.commit, 0)
        # element 5 = word 1, lane 2; the others keep their values
        ctx.set(banks.set, 1)
        ctx.set(banks.set_ti, 1)
        ctx.set(banks.set_lane, 2)
        ctx.set(banks.set_value, -5)
        await ctx.tick()
        ctx.set(banks.set, 0)
        ctx.set(banks.host, 1)
        ctx.set(banks.host_ti, 1)
        await ctx.tick()
        assert [ctx.get(banks.rd_data[k]) for k in range(R)] == [10, 11, -5]
        ctx.set(banks.host, 0)

    _run(banks, bench)


@pytest.mark.parametrize("L", [2, 3, 4])
def test_the_next_bank_is_never_one_the_stash_above_still_reads(L):
    """Cell l + 1's stash of depth D gives its gradient the bank of D + 1 ticks ago and keeps
    the D since; the next bank must be none of those nor the current one, however the
    commits advance (a bank only when written)."""
    for l in range(1, L):
        banks, depth = banks_below(SimpleNamespace(L=L), l), 2 * (L - l - 1) + 1
        rng = np.random.default_rng(l)
        cur, history = 0, [0] * (depth + 1)   # the banks of the last depth + 1 ticks
        for _ in range(200):
            nxt = (cur + 1) % banks
            assert nxt != cur and nxt not in history, (L, l)
            history = [cur] + history[:-1]
            if rng.random() < 0.8:
                cur = nxt


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()

