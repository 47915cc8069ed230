"""A record's outputs do not depend on the batch it was read in: the whole demo config
(normalize, langid, heuristics, classify, dedup) over real crawl pages and dev rows, in
batches of 5 and of 512, writes the same rows with the same value in every column.

Batch size is a tuning knob (memory, per-batch overhead, Ray block size), so a stage whose
answer for a row depends on the other rows of its batch gives different training data for
the same input. langid's segmentation once did (a long document's pieces depended on the
one before it)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline.config import load_config
from pipeline.run.local import run_local

ROOT = Path(__file__).resolve().parents[3]
INPUTS = ["configs/demo_data", "tests/data/dev/code_pos.jsonl", "tests/data/dev/neardup_clusters.jsonl",
          "tests/data/dev/math_pos_zh.jsonl"]


def _outputs(out: Path, batch_size: int) -> dict[str, pl.DataFrame]:
    config = load_config(ROOT / "configs" / "demo.yaml")
    config.input.paths = [str(ROOT / p) for p in INPUTS]
    config.input.batch_size = batch_size
    config.output.dir = str(out)
    run_local(config, progress=None)
    return {sub: pl.concat([pl.read_parquet(f) for f in sorted((out / sub).glob("*.parquet"))], how="diagonal_relaxed")
            .sort("source", "source_offset") for sub in ("data", "rejects")}


@pytest.mark.slow
def test_every_column_is_the_same_in_batches_of_5_and_512(tmp_path):
    small, large = _outputs(tmp_path / "b5", 5), _outputs(tmp_path / "b512", 512)
    for sub in ("data", "rejects"):
        a, b = small[sub], large[sub]
        assert a.columns == b.columns and a.height == b.height, sub
        differing = [c for c in a.columns if not a[c].equals(b[c])]
        assert not differing, f"{sub}: columns that depend on the batch: {differing}"
    assert small["data"].height > 50 and "lang_score" in small["data"].columns
