"""Section 6, synthesis: the boards' build reports, collected (the benchmark never synthesises)."""

from __future__ import annotations

import json
from pathlib import Path


def _default_key(board) -> str | None:
    """The key of the board's default build on this tree (None if it cannot be planned)."""
    from boards import BoardError
    from boards.build import default_design_key
    from boards.pll import PLLError
    from firmware_py.contract.config import ConfigError
    try:
        return default_design_key(board)
    except (BoardError, ConfigError, PLLError, OSError):   # a default this tree cannot build
        return None


def _datasheet_logic(entry: dict, logic: int) -> None:
    """Hold the device to its datasheet's logic: nextpnr's LFE5U-12F is the 25F's die and
    reports that die's 24,288 LUTs, of which the 12F's datasheet promises 12,288."""
    res = entry.get("resources") or {}
    for key in ("luts", "logic_cells"):
        if isinstance(res.get(key), dict) and res[key]["available"] > logic:
            entry["resources"] = {**res, key: {**res[key], "available": logic}}


def collect_synthesis(root: Path, boards: dict, design_key=_default_key) -> list[dict]:
    """Each board's build report: report.json, else failure.json, else "not built".
    ``design_key(board)``: the key of the board's default build on this tree."""
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
                  "trainer", "samples", "baud", "uart_divider", "design"):
            if k in data:
                entry[k] = data[k]
        _datasheet_logic(entry, board.logic)
        # the report is this tree's default build: what the tools ran is what they would
        # run now (a report from an older flow has no key)
        entry["this_tree"] = bool(data.get("design")) and data["design"] == design_key(board)
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
