"""The resident set as words (``hdl/sample_words.py``): packed samples in through the row
memory's writer, a tile's inputs out as one word, the label beside it, values back."""

import dataclasses

import numpy as np
from amaranth.hdl import Module, Mux, Signal
from amaranth.sim import Simulator
from test_sample_memory import _cfg, _samples

from firmware_py.contract.protocol import pack_samples, unpack_samples
from hdl.sample_memory import SampleWriter
from hdl.sample_words import WordSampleMemory, WordSampleReader
from sim.amaranth_tb import stream_get, stream_put


def _words_cfg(n0=7, cols=2):
    # 7 inputs on 2 column lanes: 4 words a sample, the last one half empty
    return dataclasses.replace(_cfg(8, "label", sizes=(n0, 3, 3)),
                               multipliers=((2, cols), (1, 1)))


def test_a_tile_of_inputs_is_one_word_and_the_label_its_own_read():
    cfg = _words_cfg()
    rng = np.random.default_rng(5)
    X, Y = _samples(cfg, rng, 10)
    m = Module()
    m.submodules.mem = mem = WordSampleMemory(cfg)
    m.submodules.wr = wr = SampleWriter(cfg)
    m.submodules.rd = rd = WordSampleReader(cfg, mem)
    assert mem.tiles == 4 and mem.tile_bits == 2
    m.d.comb += [mem.wr_addr.eq(wr.wr_addr), mem.wr_en.eq(wr.wr_en), mem.wr_data.eq(wr.wr_data)]
    # the host's reader has the read ports while it is active, a run (here the bench's
    # signals) the rest of the time, as in the core
    probe = {"index": Signal.like(mem.rd_index), "tile": Signal.like(mem.rd_tile),
             "en": Signal(), "label": Signal.like(mem.label_index)}
    m.d.comb += [mem.rd_index.eq(Mux(rd.active, rd.rd_index, probe["index"])),
                 mem.rd_tile.eq(Mux(rd.active, rd.rd_tile, probe["tile"])),
                 mem.rd_en.eq(Mux(rd.active, rd.rd_en, probe["en"])),
                 mem.label_index.eq(Mux(rd.active, rd.rd_index, probe["label"]))]
    m.d.comb += [rd.rd_data.eq(mem.rd_data), rd.label.eq(mem.label)]
    labels = np.argmax(Y, axis=1)

    async def bench(ctx):
        for first, n in ((0, 7), (7, 3), (2, 1)):        # pieces, and a rewrite
            words = pack_samples(cfg, X[first:first + n], Y[first:first + n])
            ctx.set(wr.first, first)
            ctx.set(wr.count, n)
            ctx.set(wr.start, 1)
            await ctx.tick()
            ctx.set(wr.start, 0)
            for w in words:
                await stream_put(ctx, wr.i_words, w)
            await ctx.tick().repeat(2 * cfg.lane_bytes + 4)
            assert ctx.get(wr.done)
        # a run's reads: a tile's two inputs in one word, a cycle after its address
        for i, tj in ((3, 0), (3, 3), (9, 1), (0, 2)):
            ctx.set(probe["index"], i)
            ctx.set(probe["tile"], tj)
            ctx.set(probe["en"], 1)
            ctx.set(probe["label"], i)
            await ctx.tick()
            ctx.set(probe["en"], 0)
            got = [ctx.get(mem.rd_data[b]) for b in range(2)]
            want = [int(X[i, j]) & 0xFF if j < cfg.sizes[0] else None
                    for j in (2 * tj, 2 * tj + 1)]
            assert got[0] == want[0] and (want[1] is None or got[1] == want[1]), (i, tj)
            assert ctx.get(mem.label) == labels[i]
        # the host's read-back: every value, as the row memory's reader sends them
        for first, n in ((0, 10), (4, 2)):
            ctx.set(rd.first, first)
            ctx.set(rd.count, n)
            ctx.set(rd.start, 1)
            await ctx.tick()
            ctx.set(rd.start, 0)
            values = [await stream_get(ctx, rd.o_words)
                      for _ in range(n * (cfg.sizes[0] + cfg.target_lanes))]
            Xr, Tr = unpack_samples(cfg, values, n)
            assert np.array_equal(Xr, X[first:first + n])
            assert np.array_equal(Tr, labels[first:first + n])
            await ctx.tick().repeat(2)
            assert not ctx.get(rd.active)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
