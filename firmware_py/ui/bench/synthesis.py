"""Section 6, synthesis: the boards' build reports, collected (the benchmark never synthesises)."""

from __future__ import annotations

import json
from pathlib import Path


def _same_tree(data: dict, board) -> bool:
    """Whether the files the build read and its board's record are unchanged (a report
    without its file list is from an older flow, so from another tree)."""
    from boards import sources_key
    files = data.get("source_files")
    return bool(files) and data.get("sources") == sources_key(files, board)


def _datasheet_logic(entry: dict, logic: int) -> None:
    """Hold the device to its datasheet's logic: nextpnr's LFE5U-12F is the 25F's die and
    reports that die's 24,288 LUTs, of which the 12F's datasheet promises 12,288."""
    res = entry.get("resources") or {}
    for key in ("luts", "logic_cells"):
        if isinstance(res.get(key), dict) and res[key]["available"] > logic:
            entry["resources"] = {**res, key: {**res[key], "available": logic}}


def collect_synthesis(root: Path, boards: dict) -> list[dict]:
    """Each board's build report: report.json, else failure.json, else "not built"."""
    out = []
    for name, board in boards.items():
        d = Path(root) / name
        rep, fail = d / "report.json", d / "failure.json"
        entry = {"board": name, "title": board.title, "family": board.family,
                 "target_mhz": board.clock_mhz, "default_config": board.config,
                 "build_command": f"make bitstream BOARD={name}"}
        found = [p for p in (rep, fail) if p.exists()]
        if not found:
            entry["status"] = "not built"
            if (d / "work").is_dir():
                entry["note"] = (f"{d / 'work'} exists without a report: a build is running "
                                 "or was interrupted")
            out.append(entry)
            continue
        newest = max(found, key=lambda p: p.stat().st_mtime)
        try:
            data = json.loads(newest.read_text())
        except (OSError, ValueError) as e:
            entry.update(status="unreadable", reason=f"{newest}: {e}")
            out.append(entry)
            continue
        entry["source"] = str(newest)
        for k in ("device", "config", "config_id", "sizes", "multipliers", "fmax_mhz",
                  "timing_met", "clocks", "resources", "build_seconds", "seed", "bitstream",
                  "trainer", "samples", "baud", "uart_divider", "sources"):
            if k in data:
                entry[k] = data[k]
        _datasheet_logic(entry, board.logic)
        entry["this_tree"] = _same_tree(data, board)
        if data.get("target_mhz") is not None:
            entry["target_mhz"] = data["target_mhz"]
        if newest == rep:
            fmax = data.get("fmax_mhz")
            met = data.get("timing_met", fmax is not None and fmax >= entry["target_mhz"])
            entry["timing_met"] = bool(met)
            entry["status"] = "built" if met else "built, timing not met"
        else:
            entry["status"] = "failed"
            entry["reason"] = str(data.get("reason", "no reason given"))
        out.append(entry)
    return out
