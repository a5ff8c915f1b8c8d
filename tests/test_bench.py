"""`dyadic bench`: the pure parts (no simulator runs): synthesis collection, ratios,
targets and the report on synthetic results, the exactness sweep, the command line."""

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware_py.contract.config import DyadicConfig
from firmware_py.ui import bench
from firmware_py.ui.cli import main

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FakeBoard:
    name: str
    title: str
    family: str
    config: str
    clock_mhz: float
    logic: int = 100_000


BOARDS = {
    # (a stand-in carrying the demo's 64-32-10, to be compared with PyTorch)
    "icebreaker": FakeBoard("icebreaker", "iCEBreaker", "ice40", "configs/digits-demo.json",
                            24.0),
    "ulx3s-85f": FakeBoard("ulx3s-85f", "ULX3S-85F", "ecp5",
                           "configs/digits-lean-ecp5.json", 75.0),
    "ulx3s-12f": FakeBoard("ulx3s-12f", "ULX3S-12F", "ecp5", "configs/nonexistent.json", 75.0,
                           12288),
}


def _cfg(path):
    return DyadicConfig.load(ROOT / path)


def _rows():
    """Cycles rows as if the RTL counters equalled the cycle model."""
    rows = []
    for name, path in (("xor", "configs/xor.json"), ("digits-demo", "configs/digits-demo.json"),
                       ("digits-lean-ecp5", "configs/digits-lean-ecp5.json"),
                       ("digits8-ecp5", "configs/experiments/digits8-ecp5.json")):
        cfg = _cfg(path)
        rows.append(bench.cycles_row(name, cfg, bench.model_counters(cfg), path=path))
    return rows


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _report(board, fmax, target, config_id=None, met=None):
    return {"board": board, "title": board, "device": "x", "config": "c.json",
            "config_id": config_id or "0x00000000", "sizes": [64, 32, 10],
            "multipliers": [6, 2], "target_mhz": target, "fmax_mhz": fmax,
            "timing_met": fmax >= target if met is None else met, "clocks": {},
            "resources": {"dsp": {"used": 8, "available": 8},
                          "logic_cells": {"used": 4000, "available": 5280}},
            "build_seconds": 600.0, "seed": 1, "bitstream": f"{board}.bin"}


def test_collect_synthesis_report_failure_and_missing(tmp_path):
    _write(tmp_path / "icebreaker" / "report.json", _report("icebreaker", 27.3, 24.0))
    _write(tmp_path / "ulx3s-85f" / "failure.json",
           {"board": "ulx3s-85f", "config": "configs/digits-lean-ecp5.json",
            "reason": "the design does not fit (limits: 156 multipliers)",
            "resources": {"dsp": {"used": 170, "available": 156}}})
    syn = {s["board"]: s for s in bench.collect_synthesis(tmp_path, BOARDS)}
    assert syn["icebreaker"]["status"] == "built" and syn["icebreaker"]["fmax_mhz"] == 27.3
    assert syn["icebreaker"]["resources"]["dsp"]["used"] == 8
    assert syn["ulx3s-85f"]["status"] == "failed"
    assert "does not fit" in syn["ulx3s-85f"]["reason"]
    assert syn["ulx3s-85f"]["resources"]["dsp"]["used"] == 170
    assert syn["ulx3s-12f"]["status"] == "not built" and "note" not in syn["ulx3s-12f"]
    assert syn["ulx3s-12f"]["build_command"] == "make bitstream BOARD=ulx3s-12f"
    (tmp_path / "ulx3s-12f" / "work").mkdir(parents=True)
    syn = {s["board"]: s for s in bench.collect_synthesis(tmp_path, BOARDS)}
    assert syn["ulx3s-12f"]["status"] == "not built" and "running" in syn["ulx3s-12f"]["note"]


def test_collect_synthesis_flags_a_report_from_another_tree(tmp_path):
    now = {name: f"{i:016x}" for i, name in enumerate(BOARDS)}      # this tree's keys
    _write(tmp_path / "icebreaker" / "report.json",
           dict(_report("icebreaker", 27.3, 24.0), design=now["icebreaker"]))
    _write(tmp_path / "ulx3s-12f" / "report.json",          # another tree built it
           dict(_report("ulx3s-12f", 80.0, 75.0), design="0123456789abcdef"))
    _write(tmp_path / "ulx3s-85f" / "report.json",          # from a flow without a key
           _report("ulx3s-85f", 80.0, 75.0))
    asked = []

    def key(board):
        asked.append(board.name)
        return now[board.name]
    syn = {s["board"]: s for s in bench.collect_synthesis(tmp_path, BOARDS, key)}
    assert syn["icebreaker"]["this_tree"] and syn["icebreaker"]["design"] == now["icebreaker"]
    assert not syn["ulx3s-12f"]["this_tree"] and not syn["ulx3s-85f"]["this_tree"]
    assert "ulx3s-85f" not in asked         # (planning the 85F's design takes 20 s)
    md = bench.format_report({"synthesis": list(syn.values())})
    line = next(x for x in md.splitlines() if x.startswith("| ULX3S-12F |"))
    assert "another tree" in line
    assert "another tree" not in next(x for x in md.splitlines() if x.startswith("| iCEBreaker |"))


def test_collect_synthesis_holds_a_device_to_its_datasheet_logic(tmp_path):
    rep = _report("ulx3s-12f", 85.0, 75.0)
    rep["resources"] = {"luts": {"used": 9144, "available": 24288}}   # the 25F's die
    _write(tmp_path / "ulx3s-12f" / "report.json", rep)
    syn = {s["board"]: s for s in bench.collect_synthesis(tmp_path, BOARDS)}
    assert syn["ulx3s-12f"]["resources"]["luts"] == {"used": 9144, "available": 12288}


def test_collect_synthesis_timing_miss_and_unreadable(tmp_path):
    _write(tmp_path / "icebreaker" / "report.json", _report("icebreaker", 19.5, 24.0))
    (tmp_path / "ulx3s-85f").mkdir()
    (tmp_path / "ulx3s-85f" / "report.json").write_text("{not json")
    syn = {s["board"]: s for s in bench.collect_synthesis(tmp_path, BOARDS)}
    assert syn["icebreaker"]["status"] == "built, timing not met"
    assert syn["ulx3s-85f"]["status"] == "unreadable"


def test_ratio_and_board_clock():
    assert bench.ratio(10, 4) == 2.5
    assert bench.ratio(None, 4) is None and bench.ratio(3, None) is None
    assert bench.ratio(3, 0) is None
    # at the clock the bitstream runs at (the build's target), Fmax beside it
    mhz, basis, build = bench.board_clock({"fmax_mhz": 81.2, "timing_met": True,
                                           "target_mhz": 75.0}, 75.0, "ulx3s-85f")
    assert (mhz, build) == (75.0, "met") and "Fmax 81.2 MHz" in basis
    mhz, basis, build = bench.board_clock({"fmax_mhz": 70.1, "timing_met": False,
                                           "target_mhz": 75.0}, 75.0, "ulx3s-85f")
    assert (mhz, build) == (75.0, "not met") and "timing NOT met (Fmax 70.1 MHz)" in basis
    mhz, basis, build = bench.board_clock(None, 75.0, "ulx3s-85f")
    assert (mhz, build) == (75.0, "not built") and "make bitstream BOARD=ulx3s-85f" in basis
    mhz, basis, build = bench.board_clock({"status": "failed", "fmax_mhz": None}, 24.0)
    assert (mhz, build) == (24.0, "failed") and "failed" in basis


def test_plan_configs_follows_the_board_list():
    configs, board_cfg = bench.plan_configs(BOARDS)
    assert configs["xor"] == "configs/xor.json"
    assert board_cfg == {"icebreaker": "digits-demo", "ulx3s-85f": "digits-lean-ecp5"}
    quick = bench.plan_configs({"ulx3s-25f": BOARDS["ulx3s-85f"]}, quick=True)[1]
    assert quick == {}


def test_cycles_row_from_counters():
    xor, ice, ecp, _ = _rows()
    assert xor["rtl_equals_model"]
    assert xor["cycles_per_batch"] == xor["stream_batch"]["model_cycles"]
    assert xor["ticks_per_batch"] == xor["ticks_expected"] == 4 + 2 * 2
    assert ice["cycles_per_tick_steady"] == ice["cycles_per_tick_steady_model"]
    assert 0 < ice["utilization_batch"] <= 1 and ecp["online_step_ticks"] == 1 + 2 * 2
    cfg = _cfg("configs/xor.json")
    counters = bench.model_counters(cfg)
    counters["batch"] = dict(counters["batch"], cycles=counters["batch"]["cycles"] + 1)
    assert not bench.cycles_row("xor", cfg, counters)["rtl_equals_model"]


def test_cycles_row_of_a_device_with_16_bit_counters_and_no_relax():
    """The iCEBreaker's digits design: a batch of 256 outlasts its 16-bit counters, which
    must agree with the model modulo 2^16 (the row then carries the model's counts and
    what the counters read); it runs no relaxation."""
    cfg = _cfg("configs/digits-lean-ice40.json")
    counters = bench.model_counters(cfg)
    assert "relax" not in counters and cfg.counter_bits == 16
    model = counters["batch"]["cycles"]
    assert model >= 1 << 16
    wrapped = {k: {f: v % (1 << 16) for f, v in run.items()} for k, run in counters.items()}
    row = bench.cycles_row("digits-lean-ice40", cfg, wrapped)
    assert row["rtl_equals_model"] and row["cycles_per_batch"] == model
    assert row["stream_batch"]["counted"]["cycles"] == model % (1 << 16)
    assert row["relax_2L"] is None and row["relax_2L_cycles"] is None
    assert 0.85 <= row["utilization_batch"] <= 1
    wrapped["batch"]["cycles"] += 1
    assert not bench.cycles_row("digits-lean-ice40", cfg, wrapped)["rtl_equals_model"]


def _results(synthesis, cpu, boards=BOARDS):
    rows = _rows()
    _, board_cfg = bench.plan_configs(boards)
    thr = bench.throughput_rows(rows, synthesis, boards, cpu, board_cfg)
    res = {"cycles": rows, "synthesis": synthesis,
           "throughput": {"pytorch_cpu": cpu, "gpu_anchor": bench.GPU_ANCHOR, "boards": thr,
                          "link_note": "note"},
           "exactness": {"relaxation_float64": bench.exactness_sweep(6),
                         "rtl_vs_fixed": {"values_compared": 10, "values_matching": 9,
                                          "share": 0.9, "by_check": {
                                              "updated weights": {"matching": 9,
                                                                  "compared": 10}}}}}
    res["targets"] = bench.evaluate_targets(res)
    return res


def test_throughput_at_the_clock_the_bitstream_runs_at(tmp_path):
    ice_id = f"{_cfg('configs/digits-demo.json').config_id:#010x}"
    _write(tmp_path / "icebreaker" / "report.json",
           _report("icebreaker", 30.0, 24.0, config_id=ice_id))
    syn = bench.collect_synthesis(tmp_path, BOARDS)
    cpu = {"status": "measured", "batch1_step_us": 100.0, "batch256_samples_per_s": 1e5}
    res = _results(syn, cpu)
    thr = {b["board"]: b for b in res["throughput"]["boards"]}
    ice = thr["icebreaker"]
    assert ice["build"] == "met" and ice["config_mismatch"] is None
    assert ice["clock_mhz"] == 24.0 and ice["fmax_mhz"] == 30.0      # not the Fmax
    assert ice["samples_per_s"] == pytest.approx(24e6 / ice["cycles_per_sample_steady"])
    assert ice["online_step_us"] == pytest.approx(ice["online_step_cycles"] / 24.0)
    assert ice["vs_cpu_latency"] == pytest.approx(100.0 / ice["online_step_us"])
    assert ice["vs_cpu_samples"] == pytest.approx(ice["samples_per_s"] / 1e5)
    assert ice["vs_gpu_latency"] == pytest.approx(38.2 / ice["online_step_us"])
    ulx = thr["ulx3s-85f"]
    assert ulx["build"] == "not built" and ulx["clock_mhz"] == 75.0
    assert ulx["comparable"]                 # the lean 64-32-10 is PyTorch's network
    # every multiplier busy every cycle: 151 x 75 MHz / 5,056 MACs a sample
    assert ulx["physical_limit_samples_per_s"] == pytest.approx(151 * 75e6 / 5056)
    targets = {t["target"].split(" (")[0]: t for t in res["targets"]}
    assert targets["iCEBreaker Fmax"]["status"] == "met"
    sps = targets["ULX3S-85F digits training samples per second"]
    assert sps["status"].startswith("met at the target clock (unverified: not built)")
    assert "physical limit 2.24 M/s (151 multipliers x 75 MHz" in sps["why"]
    step = targets["ULX3S-85F batch-1 training step"]
    assert step["status"] == "met" and step["measured"] == "120 cycles"
    util = targets["ULX3S-85F multiplier utilization at batch 256"]
    assert util["status"] == "met" and util["measured"] == "92.1%"
    fmax = targets["ULX3S-85F Fmax"]
    assert fmax["status"] == "MISSED" and "make bitstream BOARD=ulx3s-85f" in fmax["why"]


def test_the_throughput_plot_draws_the_bench_rows(tmp_path):
    from firmware_py.ui.plots import plot_throughput
    ice_id = f"{_cfg('configs/digits-demo.json').config_id:#010x}"
    _write(tmp_path / "icebreaker" / "report.json",
           _report("icebreaker", 30.0, 24.0, config_id=ice_id))
    cpu = {"status": "measured", "batch1_step_us": 100.0, "batch256_samples_per_s": 1e5}
    res = _results(bench.collect_synthesis(tmp_path, BOARDS), cpu)
    plot_throughput(tmp_path / "t.png", res["throughput"]["boards"], cpu, bench.GPU_ANCHOR)
    assert (tmp_path / "t.png").stat().st_size > 0


def test_a_board_with_another_network_is_not_compared_with_pytorch():
    rows = _rows()
    boards = {"icebreaker": BOARDS["icebreaker"]}
    cpu = {"status": "measured", "batch1_step_us": 100.0, "batch256_samples_per_s": 1e5,
           "sizes": [64, 32, 10]}
    xor_row, = bench.throughput_rows(rows, [], boards, cpu, {"icebreaker": "xor"})
    assert not xor_row["comparable"] and xor_row["sizes"] == [2, 2, 1]
    assert xor_row["vs_cpu_samples"] is None and xor_row["vs_gpu_latency"] is None
    digits_row, = bench.throughput_rows(rows, [], boards, cpu, {"icebreaker": "digits-demo"})
    assert digits_row["comparable"] and digits_row["vs_cpu_samples"] is not None


def test_report_names_missed_targets_and_missing_boards(tmp_path):
    # a slow ULX3S and a failed iCEBreaker build; torch missing
    _write(tmp_path / "ulx3s-85f" / "report.json", _report("ulx3s-85f", 20.0, 75.0))
    _write(tmp_path / "icebreaker" / "failure.json",
           {"board": "icebreaker", "config": "c", "reason": "does not fit: 9 SB_MAC16 > 8"})
    syn = bench.collect_synthesis(tmp_path, BOARDS)
    res = _results(syn, {"status": "torch not installed (pip install torch==2.13.0)"})
    by = {t["target"].split(" (")[0]: t for t in res["targets"]}
    ulx = by["ULX3S-85F digits training samples per second"]
    assert ulx["status"] == "MISSED" and "no bitstream meets the clock" in ulx["why"]
    assert by["iCEBreaker Fmax"]["status"] == "MISSED"
    assert "does not fit: 9 SB_MAC16 > 8" in by["iCEBreaker Fmax"]["why"]
    rtl = by["RTL values equal to the fixed-point golden model"]
    assert rtl["status"] == "MISSED" and "updated weights" in rtl["why"]
    xor_util = next(t for t in res["targets"] if t["target"].startswith("multiplier "
                                                                         "utilization, xor"))
    assert xor_util["status"] == "MISSED" and "filling/draining" in xor_util["why"]
    md = bench.format_report(res)
    for section in ("## 1. Exactness", "## 2. Cycles", "## 3. Throughput", "## 4. Accuracy",
                    "## 5. Simulation", "## 6. Synthesis"):
        assert section in md
    assert "— MISSED (" in md and "torch not installed (pip install torch==2.13.0)" in md
    assert "make bitstream BOARD=ulx3s-12f" in md
    head = bench.headline_table(res)
    assert head.startswith("| what | measured | target |") and "MISSED" in head
    assert "| ... against PyTorch on this CPU (batch 256 samples/s; batch-1 step) | -; - |" \
        in head  # no ratio without torch


def test_report_with_nothing_built(tmp_path):
    syn = bench.collect_synthesis(tmp_path, BOARDS)
    res = _results(syn, {"status": "torch not installed (pip install torch==2.13.0)"})
    by = {t["target"].split(" (")[0]: t for t in res["targets"]}
    assert by["iCEBreaker Fmax"]["status"] == "NOT MEASURED"
    assert "make bitstream BOARD=icebreaker" in by["iCEBreaker Fmax"]["why"]
    assert "not built: `make bitstream BOARD=ulx3s-85f`" in bench.format_report(res)


def test_exactness_sweep_small():
    r = bench.exactness_sweep(12)
    assert r["networks"] == 12 and r["exact_from_2L"] == 12 and r["not_exact"] == []
    assert r["depths"] == [1, 2, 3, 4, 5, 6]
    fx = r["fixed_point"]
    assert fx["networks"] > 0 and fx["within_derived_bound"] == fx["networks"] - fx["saturated"]
    assert 0 < fx["median_err_vs_float64"] < 0.05


def test_run_bench_without_simulators_writes_every_section(tmp_path, monkeypatch):
    missing = {"status": "torch not installed (pip install torch==2.13.0)"}
    monkeypatch.setattr(bench, "pytorch_cpu", lambda **kw: missing)
    small = bench.exactness_sweep(6)
    monkeypatch.setattr(bench, "exactness_sweep", lambda n=200: small)
    res = bench.run_bench(tmp_path / "out", quick=True, boards_dir=tmp_path / "boards",
                          sections=("exactness", "throughput", "synthesis"), log=lambda *a: None)
    obj = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(bench.SECTIONS) <= set(obj) and obj["accuracy"] == {"status": "skipped"}
    assert obj["exactness"]["relaxation_float64"]["networks"] == 6
    assert all(s["status"] == "not built" for s in obj["synthesis"])
    assert (tmp_path / "out" / "report.md").read_text().startswith("# dyadic benchmark")
    assert (tmp_path / "out" / "relaxation_error.png").exists()
    assert res["meta"]["quick"] is True


def test_cli_bench_help_and_bad_section(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "--out" in out and "--sections" in out
    assert main(["bench", "--sections", "cycles,frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown section 'frobnicate'" in err and len(err.strip().splitlines()) == 1


def test_a_board_whose_build_failed_misses_its_throughput_targets(tmp_path):
    # no bitstream: a figure at the target clock must not count as met
    _write(tmp_path / "ulx3s-85f" / "failure.json",
           {"board": "ulx3s-85f", "config": "configs/digits-lean-ecp5.json",
            "reason": "does not fit: 133272/83640 TRELLIS_COMB"})
    syn = bench.collect_synthesis(tmp_path, BOARDS)
    res = _results(syn, {"status": "torch not installed (pip install torch==2.13.0)"})
    by = {t["target"].split(" (")[0]: t for t in res["targets"]}
    for name in ("ULX3S-85F digits training samples per second",
                 "ULX3S-85F batch-1 training step against the GPU anchor"):
        assert by[name]["status"] == "MISSED" and "no bitstream meets" in by[name]["why"]
    assert by["ULX3S-85F Fmax"]["status"] == "MISSED"
    assert "does not fit: 133272/83640" in by["ULX3S-85F Fmax"]["why"]
    # a 64-20-10 is not compared with the anchor's 64-32-10 at all
    small = dict(BOARDS, **{"ulx3s-85f": FakeBoard("ulx3s-85f", "ULX3S-85F", "ecp5",
                                                   "configs/experiments/digits8-ecp5.json",
                                                   75.0)})
    by = {t["target"].split(" (")[0]: t for t in _results(syn, {"status": "-"}, small)["targets"]}
    name = "ULX3S-85F batch-1 training step against the GPU anchor"
    assert by[name]["status"] == "NOT COMPARABLE" and "64-20-10" in by[name]["why"]


def test_the_bench_times_what_make_demo_runs():
    from firmware_py.ui.bench.end_to_end import DEMO_ARGS
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndemo:", 1)[1].splitlines()[1]
    assert recipe.strip().endswith("dyadic " + " ".join(DEMO_ARGS))


def _e2e(build, seconds=0.5, matches=True):
    board = {"board": "ulx3s-85f", "status": "measured", "config": "c.json", "clock_mhz": 75.0,
             "baud": 3_000_000, "build": build, "clock_basis": build,
             "measured": {"matches_golden": matches},
             "predicted": {"seconds": seconds, "link_seconds": 0.4, "link_bytes": 1000,
                           "round_trips": 10, "device_seconds": 0.1},
             "before": {"seconds": 1200.0}}
    link = {"reduction_vs_before": 500.0, "resident": {"epoch_bytes": 100},
            "before": {"commit": "579b64a", "epoch_bytes": 50_000},
            "per_batch": {"epoch_bytes": 20_000}}
    return {"end_to_end": {"epochs": 30, "link": link, "boards": [board]}}


@pytest.mark.parametrize("build,seconds,matches,status", [
    ("met", 0.5, True, "met"), ("not met", 0.5, True, "MISSED"),
    ("failed", 0.5, True, "MISSED"), ("met", 1.5, True, "MISSED"),
    ("met", 0.5, False, "MISSED"),
    ("not built", 0.5, True, "met at the target clock (unverified: not built)")])
def test_the_board_run_target_needs_the_clock_its_bitstream_runs_at(build, seconds, matches,
                                                                   status):
    t = {x["target"].split(" (")[0]: x
         for x in bench.evaluate_targets(_e2e(build, seconds, matches))}
    assert t["ULX3S-85F 30-epoch digits run"]["status"] == status
    assert t["digits link bytes an epoch after the one-time load, against the per-batch "
             "path before resident sets"]["status"] == "met"


def test_design_key_names_what_the_tools_run():
    import os
    import re
    import subprocess
    import sys

    from boards import BOARDS as REAL
    from boards.build import design_key, plan_design
    board, tiny = REAL["icebreaker"], _cfg("configs/tiny.json")
    design = plan_design(board, tiny)
    key = design_key(design, "ice40")
    # the same in a fresh process with another string hash seed
    out = subprocess.run(
        [sys.executable, "-c", "from boards import BOARDS\n"
         "from boards.build import design_key, plan_design\n"
         "from firmware_py.contract.config import DyadicConfig\n"
         "d = plan_design(BOARDS['icebreaker'], DyadicConfig.load('configs/tiny.json'))\n"
         "print(design_key(d, 'ice40'))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env=dict(os.environ, PYTHONHASHSEED="7"))
    assert out.stdout.strip() == key
    assert design_key(design, "ecp5") != key            # another family's tools
    # the netlist's source locations (a moved line of Python) do not count; its logic does
    il = design.plan.files["top.il"]
    assert re.search(r'attribute \\src "[^"]*:\d+"', il)
    design.plan.files["top.il"] = re.sub(r'(attribute \\src "[^"]*:)\d+', r"\g<1>1", il)
    assert design_key(design, "ice40") == key
    design.plan.files["top.il"] = il.replace("connect", "connect ", 1)
    assert design_key(design, "ice40") != key
    # the recipe counts (another seed), what the tools never see does not (the board's
    # title and capacity, other boards' records)
    assert design_key(plan_design(board, tiny, seed=2), "ice40") != key
    plain = dataclasses.replace(board, title="x", logic=1, bram_kbit=1)
    assert design_key(plan_design(plain, tiny), "ice40") == key


def test_each_digits_board_reports_its_networks_golden_accuracy():
    from firmware_py.ui.bench.accuracy import board_formats
    paths = {"digits-lean-ecp5": ROOT / "configs/digits-lean-ecp5.json",
             "xor": ROOT / "configs/xor.json"}
    got = board_formats({"a": "digits-lean-ecp5", "b": "digits-lean-ecp5", "c": "xor"}, paths,
                        epochs=1, log=lambda m: None)
    assert set(got) == {"a", "b"}               # xor is not a digits network
    assert got["a"] is got["b"]                 # one configuration is trained once
    assert got["a"]["sizes"] == [64, 32, 10] and got["a"]["epochs"] == 1
    assert 0.2 < got["a"]["test_accuracy"] <= 1.0      # above chance (10 %) after an epoch


def test_an_epoch_longer_than_the_device_counter_is_checked_modulo_its_width():
    """A 16-bit cycle counter (the iCE40 digits design's) wraps 17 times in an epoch of
    1,114,638 cycles: what it counts confirms the model's count modulo 2^16, and the
    epoch's row takes the model's; a count that disagrees stays, and so shows."""
    from firmware_py.contract.cycles import counted_cycles
    model = 1_114_638
    assert counted_cycles(model % 65536, model, 16) == model
    assert counted_cycles(model % 65536 + 1, model, 16) == model % 65536 + 1
    assert counted_cycles(40_000, 40_000, 16) == 40_000      # (no wrap)
    assert counted_cycles(39_999, 40_000, 16) == 39_999
    assert counted_cycles(model, model, 32) == model
