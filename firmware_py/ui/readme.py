"""The README's measured blocks, generated from a benchmark results file.

``python -m firmware_py.ui.readme RESULTS.json`` rewrites every block of README.md between
``<!-- generated: NAME -->`` and ``<!-- /generated: NAME -->`` from the results;
``--check`` only says whether the README is what the results give (a test runs it on the
committed snapshot, docs/results/bench.json). Every number there comes from a run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from firmware_py import ROOT

__all__ = ["render", "update", "BLOCKS"]

SNAPSHOT = ROOT / "docs" / "results" / "bench.json"


def _end_to_end(r: dict) -> str:
    e = r["end_to_end"]
    k = e["link"]
    b85 = next(b for b in e["boards"] if b["board"] == "ulx3s-85f")
    p = b85["predicted"]
    res = k["resident"]
    lines = [
        f"**A {e['epochs']}-epoch digits run on a ULX3S-85F: {p['seconds']:.2f} s predicted, "
        f"load included** (before resident sets: {b85['before']['seconds'] / 60:.0f} min). "
        f"The training and test sets ({e['train_samples']} + {e['test_samples']} samples, "
        f"{res['load_bytes']:,} bytes over the link once) stay on the chip; each epoch is one "
        f"TRAIN command and two EVALUATE commands, {res['epoch_bytes']:,} bytes and "
        f"{res['epoch_round_trips']} round trips, against {k['before']['epoch_bytes']:,} bytes "
        f"and {k['before']['epoch_round_trips']} round trips an epoch before "
        f"({k['reduction_vs_before']:,.0f}x fewer bytes). The figure is the board's default "
        f"configuration ({b85['config']}, {'-'.join(map(str, b85['sizes']))}) at "
        f"{b85['clock_mhz']:g} MHz with the link at {b85['baud']:,} baud and 1 ms a round "
        f"trip: {p['link_seconds']:.2f} s of link and {p['device_seconds']:.3f} s of device "
        f"time, from one epoch run on its RTL in Verilator (the device's counters: "
        f"{b85['measured']['epoch_cycles']:,} cycles an epoch, equal to the cycle model).",
    ]
    extra = []
    cpu, f64 = e.get("pytorch_cpu", {}), e.get("float64", {})
    if cpu.get("status") == "measured":
        extra.append(f"PyTorch {cpu['torch']} on this machine's CPU: {cpu['seconds']:.2f} s")
    if f64:
        extra.append(f"the float64 golden model: {f64['seconds']:.2f} s")
    if extra:
        lines.append(f"The same run here: {'; '.join(extra)}.")
    demo = e.get("demo") or {}
    if demo.get("ok") and demo.get("before"):
        lines.append(f"`make demo` (the same training on the Verilator-simulated device) takes "
                     f"{demo['after_seconds']:.0f} s here, against "
                     f"{demo['before']['seconds']:.0f} s before ({demo['before']['commit']}).")
    return "\n".join(lines)


def _relax(r: dict) -> str:
    ex = r["exactness"]
    e, rel = ex["relax_example"], ex["relaxation_float64"]
    errs = ", ".join("0" if v == 0 else f"{v:.2g}" for v in e["errors"])
    fx = rel["fixed_point"]
    clean, worst = fx["networks"] - fx["saturated"], fx["worst_network"]
    return (f"the largest |gradient - backprop| after ticks 1..{len(e['errors'])} is {errs}: "
            f"exact from tick {e['exact_from_tick']} = 2L (L = {e['L']}), and from 2L on in "
            f"**{rel['exact_from_2L']}/{rel['networks']}** random networks (depth "
            f"{min(rel['depths'])}-{max(rel['depths'])}, {', '.join(rel['activations'])}, zero "
            f"and random initial state). In fixed point (Q4.12) the read-out after 2L ticks "
            f"stays within the derived error bound ([docs/fixed-point.md](docs/fixed-point.md)) "
            f"in {fx['within_derived_bound']} of the {clean} networks that saturate nothing; "
            f"its error against float64 backprop has median {fx['median_err_vs_float64']:.1e} "
            f"and 95th percentile {fx['p95_err_vs_float64']:.1e}, and the largest, "
            f"{fx['max_err_vs_float64']:.2g}, is a network with a pre-activation "
            f"{worst['nearest_kink']:.1e} from a kink, on the other side of it once quantized.")


def _accuracy(r: dict) -> str:
    a = r["accuracy"]
    same = "bit for bit the same" if a["rtl_equals_fixed"] else "NOT the same"
    return (f"digits {'-'.join(map(str, a['sizes']))} ({a['activation']}), {a['epochs']} "
            f"epochs, batch {a['batch']}, seed {a['seed']}: test accuracy "
            f"**{a['float64']['test_accuracy']:.2%}** in float64, "
            f"**{a['fixed']['test_accuracy']:.2%}** in fixed point and "
            f"**{a['rtl']['test_accuracy']:.2%}** on the RTL in Verilator ({a['rtl_config']}; "
            f"its weights and every epoch's metrics {same} as the fixed-point model's).")


def _cycles(r: dict) -> str:
    lines = ["| configuration | multipliers | batch | cycles a batch | utilization | "
             "batch-1 step | RTL = model |", "|---|---|---|---|---|---|---|"]
    for c in r["cycles"]:
        lines.append(
            f"| {c['config']} {'-'.join(map(str, c['sizes']))} | "
            f"{'+'.join(map(str, c['multipliers']))} | {c['batch']} | {c['cycles_per_batch']:,} "
            f"| {c['utilization_batch']:.1%} | {c['online_step_cycles']} cycles | "
            f"{'yes' if c['rtl_equals_model'] else 'NO'} |")
    return "\n".join(lines)


def _headline(r: dict) -> str:
    from firmware_py.ui.bench.report import headline_table
    return headline_table(r)


def _res(s: dict, *keys) -> str:
    res = s.get("resources") or {}
    got = [f"{res[k]['used']}/{res[k]['available']}" for k in keys
           if isinstance(res.get(k), dict)]
    return " + ".join(got) or "-"


def _num(v) -> str:
    return "-" if v is None else f"{v:,}"


def _boards(r: dict) -> str:
    lines = ["| board | carries | digits accuracy (golden) | multipliers | clock (Fmax) | logic "
             "| DSP | block RAM (+ SPRAM) | samples held | link | on-chip epochs |",
             "|---" * 11 + "|"]
    golden = (r.get("accuracy") or {}).get("boards", {})
    for s in r["synthesis"]:
        acc = golden.get(s["board"])
        acc = f"{acc['test_accuracy']:.2%}" if acc else "-"
        if not s["status"].startswith("built"):
            lines.append(f"| {s['title']} | {s.get('default_config')} | {acc} | | "
                         f"{s['status']} | | | | | | |")
            continue
        logic = "logic_cells" if "logic_cells" in s["resources"] else "luts"
        epochs = {True: "yes", False: "no (batches from the host)"}.get(s.get("trainer"), "-")
        baud = f"{s['baud'] / 1e6:g} Mbaud" if s.get("baud") else "-"
        tree = "" if s.get("this_tree") else " (built from another tree)"
        lines.append(
            f"| {s['title']}{tree} | {s['config']} {'-'.join(map(str, s['sizes']))} | {acc} | "
            f"{sum(s['multipliers'])} | {s['target_mhz']:g} MHz ({s['fmax_mhz']:g}) | "
            f"{_res(s, logic)} | {_res(s, 'dsp')} | {_res(s, 'bram', 'spram')} | "
            f"{_num(s.get('samples'))} | {baud} | {epochs} |")
    return "\n".join(lines)


BLOCKS = {"end-to-end": _end_to_end, "relax": _relax, "accuracy": _accuracy,
          "cycles": _cycles, "headline": _headline, "boards": _boards}


def render(name: str, results: dict) -> str:
    return BLOCKS[name](results)


_BLOCK = re.compile(r"^([ \t]*)<!-- generated: ([\w-]+) -->\n(?:.*?\n)??\1<!-- /generated: \2 -->",
                    re.M | re.S)


def update(text: str, results: dict) -> str:
    """``text`` with every generated block rewritten from ``results``, at its indentation."""
    def sub(m):
        pad, name = m.group(1), m.group(2)
        body = "\n".join(pad + line if line else line
                         for line in render(name, results).splitlines())
        return f"{pad}<!-- generated: {name} -->\n{body}\n{pad}<!-- /generated: {name} -->"
    return _BLOCK.sub(sub, text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware_py.ui.readme", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", default=str(SNAPSHOT),
                   help="benchmark results (default: the committed snapshot)")
    p.add_argument("--check", action="store_true", help="exit 1 if the README differs")
    args = p.parse_args(argv)
    try:
        results = json.loads(Path(args.results).read_text())
    except (OSError, ValueError) as e:
        print(f"readme: error: cannot read the results: {e}", file=sys.stderr)
        return 2
    readme = ROOT / "README.md"
    text = readme.read_text()
    try:
        new = update(text, results)
    except (KeyError, StopIteration, TypeError) as e:
        print(f"readme: error: {args.results} lacks what a block needs ({e!r}): run the "
              "whole `make bench`, not some sections", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print("README.md differs from what the results give: run "
                  "`python -m firmware_py.ui.readme`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
