"""The README's measured blocks are what the committed benchmark snapshot gives."""

import json
import re

from firmware_py import ROOT
from firmware_py.ui import readme

SNAPSHOT = ROOT / "docs" / "results" / "bench.json"


def test_readme_agrees_with_the_snapshot():
    results = json.loads(SNAPSHOT.read_text())
    text = (ROOT / "README.md").read_text()
    assert readme.update(text, results) == text, \
        "README.md is stale: run `python -m firmware_py.ui.readme`"
    assert readme.main(["--check"]) == 0


def test_every_block_has_a_renderer_and_is_filled():
    text = (ROOT / "README.md").read_text()
    names = re.findall(r"<!-- generated: ([\w-]+) -->", text)
    assert set(names) == set(readme.BLOCKS)
    for name in names:
        body = re.search(rf"<!-- generated: {name} -->\n(.*?)<!-- /generated: {name} -->",
                         text, re.S).group(1)
        assert body.strip(), f"block {name} is empty"


def test_update_keeps_indentation_and_is_idempotent(monkeypatch):
    monkeypatch.setitem(readme.BLOCKS, "x", lambda r: f"| a | {r['v']} |\n| b |")
    text = "- item:\n  <!-- generated: x -->\n  <!-- /generated: x -->\nafter\n"
    once = readme.update(text, {"v": 1})
    assert once == ("- item:\n  <!-- generated: x -->\n  | a | 1 |\n  | b |\n"
                    "  <!-- /generated: x -->\nafter\n")
    assert readme.update(once, {"v": 1}) == once
    assert "| a | 2 |" in readme.update(once, {"v": 2})


def test_check_reports_a_stale_readme(tmp_path, monkeypatch, capsys):
    results = json.loads(SNAPSHOT.read_text())
    results["accuracy"]["float64"]["test_accuracy"] = 0.123456
    stale = tmp_path / "bench.json"
    stale.write_text(json.dumps(results))
    assert readme.main([str(stale), "--check"]) == 1
    assert "python -m firmware_py.ui.readme" in capsys.readouterr().err


def test_the_board_table_gives_each_boards_golden_accuracy():
    results = json.loads(SNAPSHOT.read_text())
    built = next(s for s in results["synthesis"] if s["status"].startswith("built"))
    results["accuracy"]["boards"] = {built["board"]: {"test_accuracy": 0.97493}}
    row = next(line for line in readme.render("boards", results).splitlines()
               if line.startswith(f"| {built['title']}"))
    assert row.split(" | ")[2] == "97.49%"
    other = [line for line in readme.render("boards", results).splitlines()[2:]
             if not line.startswith(f"| {built['title']}")]
    assert all(line.split(" | ")[2] == "-" for line in other)
