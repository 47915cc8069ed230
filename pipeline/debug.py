"""``taosha stage NAME``: run one stage on one input, in seconds, without Ray.

Writes EVERY row (kept and dropped) with ``id``, ``text``, ``drop_reason`` and the
columns the stage added, so a user (or an outside evaluation) sees exactly what the
stage decided and why. Input ids given in a JSONL ``id`` field are kept as given.
Unreadable records are counted and written beside the output as
``<FILE>.errors.parquet``.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.config import InputConfig, build_stage
from pipeline.io.readers import read_file, resolve_inputs
from pipeline.schema import concat, empty_errors
from pipeline.stage import GlobalContext, is_global
from pipeline.stats import StageStats, timed_stage

BASE_COLUMNS = ("id", "text", "drop_reason", "source", "url")


@dataclass
class StageDebugResult:
    rows: int
    kept: int
    dropped_by_reason: Counter
    errored: int
    seconds: float
    columns: list[str]
    table: pa.Table = field(repr=False)


def read_limited(paths: list[str], input_config: InputConfig, limit: int | None) -> tuple[pa.Table, pa.Table]:
    """All records (up to ``limit``) and errors of the inputs, as two tables."""
    records, errors, count = [], [], 0
    for path in resolve_inputs(paths):
        for chunk in read_file(path, input_config):
            if limit is not None and count + chunk.records.num_rows > limit:
                chunk.records = chunk.records.slice(0, limit - count)
            records.append(chunk.records)
            errors.append(chunk.errors)
            count += chunk.records.num_rows
            if limit is not None and count >= limit:
                return concat(records), pa.concat_tables(errors)
    return concat(records), (pa.concat_tables(errors) if errors else empty_errors())


def run_stage_debug(name: str, inputs: list[str], output: str, params: dict[str, Any] | None = None,
                    limit: int | None = None, input_config: InputConfig | None = None) -> StageDebugResult:
    input_config = input_config or InputConfig()
    stage = build_stage(name, params or {})
    records, errors = read_limited(inputs, input_config, limit)
    stage.setup()
    before = records.schema
    stats = StageStats(name)
    start = time.perf_counter()
    if is_global(stage):
        with tempfile.TemporaryDirectory(prefix=f"taosha-{name}-") as tmp:
            spill = str(Path(tmp) / "input.parquet")
            pq.write_table(records, spill)
            work = str(Path(tmp) / "work")
            Path(work).mkdir()
            stage.run_global([spill], GlobalContext(engine="local", work_dir=work, output_dir=None))
            result = timed_stage(stats, stage, records)
    else:
        result = timed_stage(stats, stage, records)
    seconds = time.perf_counter() - start
    added = [c for c in result.column_names if c not in before.names]
    keep = [c for c in BASE_COLUMNS if c in result.column_names] + added
    out = result.select(keep)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, output, compression="zstd")
    if errors.num_rows:
        pq.write_table(errors, f"{output}.errors.parquet")
    reasons = pc.drop_null(result["drop_reason"])
    counts = Counter(reasons.to_pylist())
    return StageDebugResult(out.num_rows, out.num_rows - len(reasons), counts, errors.num_rows, seconds, added, out)


def examples(table: pa.Table, reason: str | None, k: int) -> list[dict]:
    """Up to ``k`` rows dropped for ``reason`` (None: kept rows)."""
    mask = pc.is_null(table["drop_reason"]) if reason is None else pc.equal(table["drop_reason"], reason)
    return table.filter(mask).slice(0, k).to_pylist()
