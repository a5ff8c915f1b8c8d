"""The README's measured blocks, generated from a benchmark results file.

``python -m firmware_py.readme RESULTS.json`` rewrites every block of README.md between
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

__all__ = ["render", "update", "BLOCKS"]

ROOT = Path(__file__).resolve().parent.parent
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
    return "\n".join(lines)


BLOCKS = {"end-to-end": _end_to_end}


def render(name: str, results: dict) -> str:
    return BLOCKS[name](results)


def update(text: str, results: dict) -> str:
    """``text`` with every generated block rewritten from ``results``."""
    def sub(m):
        return f"{m.group(1)}\n{render(m.group(2), results)}\n{m.group(3)}"
    return re.sub(r"(<!-- generated: ([\w-]+) -->)\n.*?\n(<!-- /generated: \2 -->)", sub, text,
                  flags=re.S)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware_py.readme", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", default=str(SNAPSHOT),
                   help="benchmark results (default: the committed snapshot)")
    p.add_argument("--check", action="store_true", help="exit 1 if the README differs")
    args = p.parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = update(text, results)
    if args.check:
        if new != text:
            print("README.md differs from what the results give: run "
                  "`python -m firmware_py.readme`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
