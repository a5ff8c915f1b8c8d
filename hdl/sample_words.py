"""The resident set as words: a sample's inputs a column tile a word, for a cell 1 that
reads its column operands from the sample memory (``"cell": "lean-bram"``).

Word {i, tj} holds inputs ``tj * C`` .. ``tj * C + C - 1`` of sample i (C: cell 1's
column lanes), so that a tile's column operands are one read: on an iCE40 UP5K, C = 2 codes
of 8 bits fill the SPRAM's 16-bit word, and the 64 inputs of digits take 32 words a sample
(1,800 samples in the four SPRAMs). A sample's words start at a power of two, so the
address is the index and the tile side by side, with no multiplier. The labels have their
own small memory, so that the output error's read never meets cell 1's on the SPRAM's one
port. The writer (``LaneSampleWriter``) is the row memory's, a lane a cycle, naming the
lane by its number rather than by an enable of each.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from .sample_memory import MEMORY_NAME, SampleWriter

__all__ = ["WordSampleMemory", "WordSampleReader", "LaneSampleWriter", "LABEL_WORDS"]

# The labels' memory: written only by WRITE_SAMPLES and read by runs and read-backs, which
# never overlap it, so the board build declares a collision undefined (boards/build.py).
LABEL_WORDS = "label_words"


class LaneSampleWriter(SampleWriter):
    """``SampleWriter`` with the lane written as ``wr_lane`` and one ``wr_en``: the word
    memory addresses a word by the lane's number (a shift), where a one-hot enable of the
    65 lanes would be decoded back into it."""

    def enable_ports(self):
        return {"wr_lane": Out(range(self.lanes)), "wr_en": Out(1)}

    def enables(self, lane):
        return [self.wr_lane.eq(lane), self.wr_en.eq(1)]


class WordSampleMemory(wiring.Component):
    """Written a lane a cycle (lane ``wr_lane`` of sample ``wr_addr`` with ``wr_en``);
    read a word (``rd_index``, ``rd_tile``) and a label (``label_index``) a cycle, each one
    cycle after its address. One port: a read asked for in a cycle that writes is not
    made."""

    def __init__(self, config: DyadicConfig):
        if config.targets != "label":
            raise ValueError("a word sample memory keeps label targets")
        self.config = config
        self.cols = config.tiling(1).cols
        self.lanes = config.sizes[0] + config.target_lanes
        self.tiles = -(-config.sizes[0] // self.cols)               # words a sample
        self.tile_bits = (self.tiles - 1).bit_length()
        self.index_bits = (config.samples - 1).bit_length()
        b = config.act.bits
        self.word = data.ArrayLayout(b, self.cols)
        super().__init__({
            "wr_addr": In(range(config.samples)), "wr_lane": In(range(self.lanes)),
            "wr_en": In(1), "wr_data": In(b),
            "rd_index": In(range(config.samples)), "rd_tile": In(range(max(self.tiles, 2))),
            "rd_en": In(1), "rd_data": Out(self.word),
            "label_index": In(range(config.samples)), "label": Out(b)})

    def elaborate(self, platform):
        m = Module()
        c, C, n0 = self.config, self.cols, self.config.sizes[0]
        depth = c.samples << self.tile_bits
        # (the row memory's name: the board build's script finds the sample memory by it,
        # to drop the all-zero contents that would keep it out of the SPRAM)
        m.submodules[MEMORY_NAME] = words = Memory(shape=self.word, depth=depth, init=[])
        m.submodules[LABEL_WORDS] = labels = Memory(shape=c.act.bits, depth=c.samples, init=[])
        wr, rd = words.write_port(granularity=1), words.read_port()    # (a code)
        lane = self.wr_lane
        writing = self.wr_en & (lane < n0)
        t = self.tile_bits
        at = Mux(writing, Cat((lane // C)[:t], self.wr_addr), Cat(self.rd_tile[:t], self.rd_index))
        m.d.comb += [wr.addr.eq(at), rd.addr.eq(at), rd.en.eq(self.rd_en & ~writing),
                     wr.en.eq(Mux(writing, 1 << (lane % C), 0)),
                     wr.data.eq(Cat(self.wr_data for _ in range(C))),
                     self.rd_data.eq(rd.data)]
        lwr, lrd = labels.write_port(), labels.read_port()
        m.d.comb += [lwr.addr.eq(self.wr_addr), lwr.en.eq(self.wr_en & (lane == n0)),
                     lwr.data.eq(self.wr_data), lrd.addr.eq(self.label_index),
                     self.label.eq(lrd.data)]
        return m


class WordSampleReader(wiring.Component):
    """Samples ``first`` .. ``first + count - 1`` on ``o_words``, a lane a word, as
    ``SampleReader`` sends them: each input read from its word, then the label."""

    def __init__(self, config: DyadicConfig, memory: WordSampleMemory):
        self.config, self.cols = config, memory.cols
        self.lanes = memory.lanes
        super().__init__({
            "start": In(1), "first": In(16), "count": In(17), "active": Out(1),
            "o_words": Out(stream.Signature(32)),
            "rd_index": Out(range(config.samples)), "rd_tile": Out(memory.rd_tile.shape()),
            "rd_en": Out(1), "rd_data": In(memory.word), "label": In(config.act.bits)})

    def elaborate(self, platform):
        m = Module()
        C, n0 = self.cols, self.config.sizes[0]
        left = Signal(17)
        lane = Signal(range(self.lanes))
        value = Signal(self.config.act.bits, reset_less=True)
        m.d.comb += [self.rd_tile.eq(lane // C), self.o_words.payload.eq(value)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.rd_index.eq(self.first), left.eq(self.count),
                                 lane.eq(0)]
                    m.next = "READ"
            with m.State("READ"):           # the word (and the label) come the next cycle
                m.d.comb += [self.active.eq(1), self.rd_en.eq(1)]
                m.next = "TAKE"
            with m.State("TAKE"):
                m.d.comb += self.active.eq(1)
                m.d.sync += value.eq(Mux(lane == n0, self.label,
                                         self.rd_data.as_value().word_select(lane % C,
                                                                             len(value))))
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [self.active.eq(1), self.o_words.valid.eq(1)]
                with m.If(self.o_words.ready):
                    m.d.sync += lane.eq(lane + 1)
                    m.next = "READ"
                    with m.If(lane == self.lanes - 1):
                        m.d.sync += [lane.eq(0), self.rd_index.eq(self.rd_index + 1),
                                     left.eq(left - 1)]
                        with m.If(left == 1):
                            m.next = "IDLE"
        return m
