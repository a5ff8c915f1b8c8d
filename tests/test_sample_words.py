"""The resident set as words (``hdl/sample_words.py``): packed samples in through the row
memory's writer (naming its lanes by number), a tile's inputs out as one word, the label
beside it, values back."""

import dataclasses

import numpy as np
from amaranth.hdl import Module, Mux, Signal
from amaranth.sim import Simulator
from test_sample_memory import _cfg, _samples, read_back, write_in_pieces

from hdl.sample_words import LaneSampleWriter, WordSampleMemory, WordSampleReader


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
    m.submodules.wr = wr = LaneSampleWriter(cfg)
    m.submodules.rd = rd = WordSampleReader(cfg, mem)
    assert mem.tiles == 4 and mem.tile_bits == 2
    m.d.comb += [mem.wr_addr.eq(wr.wr_addr), mem.wr_lane.eq(wr.wr_lane),
                 mem.wr_en.eq(wr.wr_en), mem.wr_data.eq(wr.wr_data)]
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
        await write_in_pieces(ctx, cfg, wr, X, Y)
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
        await read_back(ctx, cfg, rd, X, Y)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
