"""The accelerator core: the chain of layer cells and the parts that feed and drive it.

Commands come in on ``i_cmd`` and responses go out on ``o_rsp`` (32-bit words,
``firmware_py.contract.protocol``). The command decoder checks each command and hands it
on: a cell's memories, the sample memory (the resident set), or a job for the epoch
sequencer, which starts runs on the run control. A run ticks the cells in lockstep;
each tick that takes a sample reads it from the sample memory at the index the sample
order gives, and the output error (or, when evaluating, the evaluator) closes the loop
at the top.
"""

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from firmware_py.contract.config import DyadicConfig

from .cell import LayerCell, tree_sum
from .cell_links import state_commit
from .counters import Counters
from .decoder import CommandDecoder
from .epoch_sequencer import EpochSequencer, RunSequencer
from .evaluator import Evaluator
from .layer import SampleInputs, lean_cell_class
from .output_error import DirectOutputError, OutputError
from .run_control import RunControl
from .sample_memory import SampleMemory, SampleReader, SampleWriter
from .sample_order import SampleOrder, SequentialOrder
from .sample_words import LaneSampleWriter, WordSampleMemory, WordSampleReader
from .streams import HalfRateBuffer

__all__ = ["DyadicCore"]



class DyadicCore(wiring.Component):
    """Commands in on ``i_cmd``, responses out on ``o_rsp`` (32-bit words)."""

    i_cmd: In(stream.Signature(32))
    o_rsp: Out(stream.Signature(32))

    def __init__(self, config: DyadicConfig):
        self.config = config
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        c = self.config
        Q = c.pipeline == 2

        cells = [(LayerCell if c.cell == "classic" else lean_cell_class(c, l))(c, l)
                 for l in range(1, c.L + 1)]
        words = isinstance(cells[0], SampleInputs)
        for l, cell in enumerate(cells, 1):
            m.submodules[f"cell{l}"] = cell
        for lo, hi in zip(cells, cells[1:]):
            wiring.connect(m, lo.above, hi.below)
            wiring.connect(m, hi.lam_out, lo.lam_in)
        top = cells[-1]

        m.submodules.decoder = dec = CommandDecoder(c)
        m.submodules.samples = mem = (WordSampleMemory(c) if words else
                                      SampleMemory.for_platform(c, platform))
        m.submodules.writer = writer = LaneSampleWriter(c) if words else SampleWriter(c)
        m.submodules.reader = reader = WordSampleReader(c, mem) if words else SampleReader(c)
        m.submodules.order = order = (SampleOrder if c.trainer else SequentialOrder)(c)
        m.submodules.sequencer = seq = (EpochSequencer if c.trainer else RunSequencer)(c)
        m.submodules.run = run = RunControl(c)
        m.submodules.output = out = (DirectOutputError if c.cell == "lean-bram" else
                                     OutputError)(c)
        ev = Evaluator(c) if c.trainer else None
        m.submodules.counters = cnt = Counters(c)

        wiring.connect(m, wiring.flipped(self.i_cmd), dec.i_cmd)
        wiring.connect(m, dec.o_rsp, wiring.flipped(self.o_rsp))
        wiring.connect(m, dec.job, seq.job)
        wiring.connect(m, seq.run, run.request)
        for ctl, cell in zip(run.cells, cells):
            wiring.connect(m, ctl, cell.ctl)

        # -- the sample memory: written and read back by the host, read by runs ------------
        # With Q the writer and the reader sit by the sample memory's block RAMs, across
        # the die from the decoder: their commands come from flip-flops a cycle later
        # (the writer's ``done`` is masked in that cycle) and their words pass buffers.
        ports = m.d.sync if Q else m.d.comb
        ports += [writer.start.eq(dec.sample_write), writer.first.eq(dec.sample_first),
                  writer.count.eq(dec.sample_count),
                  reader.start.eq(dec.sample_read), reader.first.eq(dec.sample_first),
                  reader.count.eq(dec.sample_count)]
        m.d.comb += dec.sample_written.eq(writer.done & ~writer.start if Q else writer.done)
        if Q:
            m.submodules.samples_in = buf_w = HalfRateBuffer(32)
            m.submodules.samples_out = buf_r = HalfRateBuffer(32)
            wiring.connect(m, dec.sample_o, buf_w.i)
            wiring.connect(m, buf_w.o, writer.i_words)
            wiring.connect(m, reader.o_words, buf_r.i)
            wiring.connect(m, buf_r.o, dec.sample_i)
        else:
            wiring.connect(m, dec.sample_o, writer.i_words)
            wiring.connect(m, reader.o_words, dec.sample_i)
        m.d.comb += [mem.wr_addr.eq(writer.wr_addr), mem.wr_en.eq(writer.wr_en),
                     mem.wr_data.eq(writer.wr_data), reader.rd_data.eq(mem.rd_data)]
        if words:
            m.d.comb += [reader.label.eq(mem.label), mem.wr_lane.eq(writer.wr_lane)]
        m.d.comb += [order.load.eq(seq.order_load), order.first.eq(seq.order_first),
                     order.count.eq(seq.order_count), order.stride.eq(seq.order_stride),
                     order.offset.eq(seq.order_offset), order.step.eq(run.step)]
        if words:
            target = self.word_inputs(m, mem, reader, order, run, cells[0])
        else:
            # A run reads the sample of the tick that starts at its commit. With the pipeline
            # it is read ahead into a register, as the cells' stashes are: block RAM
            # clock-to-output stays off the multiplier path and the output error's.
            with m.If(reader.active):
                m.d.comb += [mem.rd_addr.eq(reader.rd_addr), mem.rd_en.eq(reader.rd_en)]
            with m.Else():
                m.d.comb += [mem.rd_addr.eq(order.index), mem.rd_en.eq(1 if c.pipeline else
                                                                        run.commit)]
            if c.pipeline:
                row = Signal.like(mem.rd_data, reset_less=True)
                cols = c.tiling(1).cols       # (input j is cell 1's column lane j % cols's)
                for j in range(len(row.x)):
                    with m.If(state_commit(run.row_commit, j % cols, cols)):
                        m.d.sync += row.x[j].eq(mem.rd_data.x[j])
                with m.If(run.commit):
                    m.d.sync += row.target.eq(mem.rd_data.target)
            else:
                row = mem.rd_data
            m.d.comb += cells[0].below.s.eq(row.x)   # (the inputs' codes are signed)
            target = row.target

        # -- the top: output error, or the evaluator --------------------------------------
        m.d.comb += [out.commit.eq(run.commit), out.err_fire.eq(run.err_fire),
                     out.relax.eq(run.relax), out.dt_shift.eq(run.dt_shift),
                     out.target_now.eq(target), out.s.eq(top.above.s),
                     out.lam.eq(top.above.lam)]
        wiring.connect(m, out.lam_out, top.lam_in)
        if ev is not None:
            m.submodules.evaluator = ev
            m.d.comb += [ev.clear.eq(dec.eval_clear), ev.fire.eq(run.eval_fire),
                         ev.s.eq(top.above.s), ev.target.eq(out.target),
                         run.eval_ready.eq(ev.ready), run.eval_ready_next.eq(ev.ready_next),
                         dec.correct.eq(ev.correct), dec.loss.eq(ev.loss)]
        else:
            m.d.comb += [run.eval_ready.eq(1), run.eval_ready_next.eq(1)]

        # -- counters ---------------------------------------------------------------------
        stats = [cell.stats for cell in cells]
        m.d.comb += [cnt.clear.eq(dec.counters_clear), dec.counters.eq(cnt.values),
                     cnt.add.ticks.eq(run.commit & ~run.prologue),
                     cnt.add.cycles.eq(run.busy),
                     cnt.add.busy.eq(tree_sum(s.busy for s in stats)),
                     cnt.add.sat_err.eq(out.sat)]
        for name in ("sat_h", "sat_lam", "sat_grad", "sat_weight"):
            m.d.comb += cnt.add[name].eq(tree_sum(getattr(s, name) for s in stats))

        # -- host access to the cells' memories ---------------------------------------------
        # The window goes to the cell at start; the cell counts it and says when it is
        # done. With Q a transfer starts in the cell the cycle after the decoder asks, and
        # each cell's host streams pass a HalfRateBuffer: no combinational path between the
        # decoder and a cell, which may be placed across the die from it.
        host = m.d.sync if Q else m.d.comb
        to_cells, from_cells = [], []
        for l, cell in enumerate(cells, 1):
            host += [cell.host.start.eq(dec.host.start & (dec.host_layer == l)),
                     cell.host.target.eq(dec.host.target), cell.host.write.eq(dec.host.write),
                     cell.host.offset.eq(dec.host.offset), cell.host.count.eq(dec.host.count)]
            if Q:
                m.submodules[f"host_i{l}"] = buf_i = HalfRateBuffer(32)
                m.submodules[f"host_o{l}"] = buf_o = HalfRateBuffer(32)
                wiring.connect(m, buf_i.o, cell.host_i)
                wiring.connect(m, cell.host_o, buf_o.i)
                to_cells.append(buf_i.i)
                from_cells.append(buf_o.o)
            else:
                to_cells.append(cell.host_i)
                from_cells.append(cell.host_o)
            selected = dec.host_layer == l
            m.d.comb += [to_cells[-1].payload.eq(dec.host_o.payload),
                         to_cells[-1].valid.eq(dec.host_o.valid & selected),
                         from_cells[-1].ready.eq(dec.host_i.ready & selected)]
        lidx = Signal(range(c.L))
        m.d.comb += lidx.eq(dec.host_layer - 1)
        m.d.comb += [dec.host.done.eq(Cat(cell.host.done for cell in cells).any()),
                     dec.host_o.ready.eq(Array(p.ready for p in to_cells)[lidx]),
                     dec.host_i.valid.eq(Array(p.valid for p in from_cells)[lidx]),
                     dec.host_i.payload.eq(Array(p.payload for p in from_cells)[lidx])]
        return m

    def word_inputs(self, m, mem, reader, order, run, cell1):
        """The run's sample for a cell 1 that reads it from the sample memory's words: its
        index (the order's, a cycle old, as a row read is) taken at commit, and its label,
        read beside it. The host's reader has the memory while it is active."""
        held, index = Signal.like(order.index), Signal.like(order.index)
        target = Signal(data.ArrayLayout(self.config.act.bits, 1), reset_less=True)
        m.d.sync += held.eq(order.index)
        with m.If(run.commit):
            m.d.sync += [index.eq(held), target[0].eq(mem.label)]
        with m.If(reader.active):
            m.d.comb += [mem.rd_index.eq(reader.rd_index), mem.rd_tile.eq(reader.rd_tile),
                         mem.rd_en.eq(reader.rd_en), mem.label_index.eq(reader.rd_index)]
        with m.Else():
            m.d.comb += [mem.rd_index.eq(cell1.word_index), mem.rd_tile.eq(cell1.word_tile),
                         mem.rd_en.eq(1), mem.label_index.eq(order.index)]
        m.d.comb += [cell1.index.eq(index), cell1.word.eq(mem.rd_data)]
        return target
