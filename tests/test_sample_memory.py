"""The resident set's memory and its host ports: packed samples in, rows, values back."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from firmware_py.contract.config import DyadicConfig
from firmware_py.contract.fixedpoint import QFormat
from firmware_py.contract.protocol import pack_samples, unpack_samples
from firmware_py.model.network import parse_activations
from hdl.sample_memory import SampleMemory, SampleReader, SampleWriter, SinglePortSampleMemory
from sim.amaranth_tb import stream_get, stream_put


def _cfg(bits, targets, sizes=(5, 3, 3)):
    q = QFormat(bits, bits - 3)
    return DyadicConfig(sizes, parse_activations("relu", 2), act=q, weight=q, sens=q,
                        weight_guard=4, grad_bits=max(2 * (bits - 3) + 2, 16), max_batch=4,
                        max_samples=10, targets=targets)


def _samples(cfg, rng, n):
    q = cfg.act
    X = rng.integers(q.min, q.max + 1, (n, cfg.sizes[0]))
    nL = cfg.sizes[-1]
    Y = (np.eye(nL, dtype=np.int64)[rng.integers(0, nL, n)] * q.one if cfg.targets == "label"
         else rng.integers(q.min, q.max + 1, (n, nL)))
    return X, Y


async def write_in_pieces(ctx, cfg, wr, X, Y):
    """All of X, Y through ``SampleWriter`` ``wr``: in pieces, and one sample rewritten."""
    for first, n in ((0, 7), (7, 3), (2, 1)):
        words = pack_samples(cfg, X[first:first + n], Y[first:first + n])
        ctx.set(wr.first, first)
        ctx.set(wr.count, n)
        ctx.set(wr.start, 1)
        await ctx.tick()
        ctx.set(wr.start, 0)
        for w in words:
            await stream_put(ctx, wr.i_words, w)
        await ctx.tick().repeat(2 * cfg.lane_bytes + 4)    # the last word's bytes
        assert ctx.get(wr.done)


async def read_back(ctx, cfg, rd, X, Y):
    """Two windows read back through reader ``rd``: every value as written."""
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
        want = Y[first:first + n]
        if cfg.targets == "label":
            want = np.argmax(want, axis=1)
        assert np.array_equal(Tr, want)
        await ctx.tick().repeat(2)
        assert not ctx.get(rd.active)


@pytest.mark.parametrize("bits, targets", [(8, "label"), (8, "vector"), (12, "vector"),
                                           (16, "label"), (18, "vector")])
def test_packed_samples_in_rows_out(bits, targets):
    """Whatever the format's width, the writer unpacks what the host packs (samples across
    word boundaries, pad bytes dropped) into rows, and the reader gives each value back."""
    cfg = _cfg(bits, targets)
    rng = np.random.default_rng(bits)
    X, Y = _samples(cfg, rng, 10)
    m = Module()
    m.submodules.mem = mem = SampleMemory(cfg)
    m.submodules.wr = wr = SampleWriter(cfg)
    m.submodules.rd = rd = SampleReader(cfg)
    m.d.comb += [mem.wr_addr.eq(wr.wr_addr), mem.wr_en.eq(wr.wr_en), mem.wr_data.eq(wr.wr_data),
                 mem.rd_addr.eq(rd.rd_addr), mem.rd_en.eq(rd.rd_en), rd.rd_data.eq(mem.rd_data)]

    async def bench(ctx):
        await write_in_pieces(ctx, cfg, wr, X, Y)
        await read_back(ctx, cfg, rd, X, Y)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_an_8_bit_sample_is_a_byte_a_value_on_the_wire():
    cfg = _cfg(8, "label", sizes=(64, 32, 10))
    X, Y = _samples(cfg, np.random.default_rng(0), 3)
    assert cfg.record_bytes == 65                      # 64 pixels and a label
    assert len(pack_samples(cfg, X, Y)) == -(-3 * 65 // 4)


def test_the_ice40_variant_reads_nothing_while_it_writes():
    """On an iCE40 the memory is SPRAM, one port: the address is the writer's while it
    writes, and a read asked for then is not made (the row read before stays)."""
    from amaranth.hdl import Fragment

    from hdl.verilog import FamilyPlatform
    cfg = _cfg(8, "label")
    mem = SampleMemory.for_platform(cfg, FamilyPlatform("ice40"))
    assert isinstance(mem, SinglePortSampleMemory)
    other = SampleMemory.for_platform(cfg, FamilyPlatform("ecp5"))
    assert type(other) is SampleMemory
    Fragment.get(other, FamilyPlatform("ecp5"))        # (elaborated: it is used)

    async def bench(ctx):
        for row, value in ((3, 7), (5, 9)):
            ctx.set(mem.wr_addr, row)
            ctx.set(mem.wr_data, value)
            ctx.set(mem.wr_en, 1)
            await ctx.tick()
        ctx.set(mem.wr_en, 0)
        ctx.set(mem.rd_addr, 3)
        ctx.set(mem.rd_en, 1)
        await ctx.tick()
        assert ctx.get(mem.rd_data.x[0]) == 7
        ctx.set(mem.rd_addr, 5)              # a read and a write in one cycle: no read
        ctx.set(mem.wr_addr, 6)
        ctx.set(mem.wr_en, 1)
        await ctx.tick()
        assert ctx.get(mem.rd_data.x[0]) == 7
        ctx.set(mem.wr_en, 0)
        await ctx.tick()
        assert ctx.get(mem.rd_data.x[0]) == 9

    sim = Simulator(mem)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
