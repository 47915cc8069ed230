"""Wide JSONL rows whose fields appear late in a file lose nothing, at any batch size.

Regression for the reliability issue's item 0: a part whose batches grew new columns was
spilled to several files before dedup, and only the first was read back, so rows vanished
and the accounting check fired. Every shipped config runs here over such an input at
batch sizes 1, 7, 256 and more than the file, and must keep exactly the ids (and drop
exactly the rows, for the same reasons) that one single-batch run does.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.config import load_config
from pipeline.run.local import run_local

ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT / "tests" / "data" / "dev"
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
BATCH_SIZES = (1, 7, 256)
WHOLE_FILE = 100_000


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DEV / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def wide_input(tmp_path_factory) -> Path:
    """~200 real dev rows, 6-11 fields each, where each source brings new fields late in the file
    (and a field whose values change type), so the part's schema grows batch after batch."""
    math_en = _rows("math_pos_en.jsonl")
    rows = math_en[:40] + _rows("neardup_clusters.jsonl")[:30] + math_en[-40:] \
        + _rows("code_pos.jsonl")[:40] + _rows("math_pos_zh.jsonl")[:30] + _rows("neg_zh.jsonl")[:20]
    for i, row in enumerate(rows[150:]):
        row["late_field"] = i if i % 2 else f"value {i}"  # first seen late, int and str mixed
    path = tmp_path_factory.mktemp("wide") / "wide.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(config_path: Path, inputs: list[Path], out: Path, batch_size: int, engine: str = "local") -> pl.DataFrame:
    config = load_config(config_path)
    config.input.paths = [str(p) for p in inputs]
    config.input.format = "auto"
    config.input.batch_size = batch_size
    config.output.dir = str(out)
    config.run.engine = engine
    config.run.work_dir = None
    config.run.previous_outputs = []
    if engine == "ray":
        from pipeline.run.ray.runner import run_ray

        result = run_ray(config, progress=None)
    else:
        result = run_local(config, progress=None)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]
    assert stats["records_in"] == result.stats.records_in
    frames = []
    for sub in ("data", "rejects"):
        for f in sorted((out / sub).glob("*.parquet")):
            frames.append(pl.read_parquet(f, columns=["id"] + (["drop_reason"] if sub == "rejects" else [])))
    table = pl.concat(frames, how="diagonal_relaxed")
    if "drop_reason" not in table.columns:
        table = table.with_columns(pl.lit(None, pl.String).alias("drop_reason"))
    assert table.height == stats["kept"] + stats["rejected"]
    assert table["id"].n_unique() == table.height  # nothing written twice
    return table.sort("id")


@pytest.mark.slow
@pytest.mark.parametrize("config_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_keeps_the_same_rows_at_any_batch_size(config_path, wide_input, tmp_path):
    reference = _run(config_path, [wide_input], tmp_path / "whole", WHOLE_FILE)
    records = sum(1 for line in wide_input.read_text(encoding="utf-8").splitlines() if line.strip())
    assert reference.height == records
    for batch_size in BATCH_SIZES:
        got = _run(config_path, [wide_input], tmp_path / f"b{batch_size}", batch_size)
        assert got.height == records, batch_size
        assert got["id"].to_list() == reference["id"].to_list(), batch_size
        assert got["drop_reason"].to_list() == reference["drop_reason"].to_list(), batch_size


def test_demo_config_over_wide_math_rows_accounts_for_every_row(tmp_path):
    """The issue's reproduction: the demo config over the 864-row, 11-field math file."""
    table = _run(ROOT / "configs" / "demo.yaml", [DEV / "math_pos_en.jsonl"], tmp_path / "out", 256)
    assert table.height == 864


@pytest.mark.cluster
def test_ray_engine_keeps_the_same_rows_as_one_local_batch(wide_input, tmp_path, ray_local):
    config_path = ROOT / "configs" / "demo.yaml"
    reference = _run(config_path, [wide_input], tmp_path / "whole", WHOLE_FILE)
    got = _run(config_path, [wide_input], tmp_path / "ray", 7, engine="ray")
    assert got["id"].to_list() == reference["id"].to_list()
    assert got["drop_reason"].to_list() == reference["drop_reason"].to_list()
