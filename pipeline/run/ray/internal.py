"""The Ray engine's internal columns: where a row came from, and each stage's funnel.

Rows on Ray carry ``__part``, ``__chunk`` and ``__row`` (set by the read source) so the
write step can name what it stages and the finalizer can prove every row arrived once.
A stage's funnel for a batch travels as one JSON value in the first row of
``__stats_<k>``: Ray Data has no side channel from a worker that survives retries, and
a value inside the block it describes is staged, retried and counted with it, once.
Stages never see these columns (``split_internal`` takes them off and puts them back).
"""

from __future__ import annotations

import json

import pyarrow as pa

from pipeline.stats import StageStats

PART, CHUNK, ROW = "__part", "__chunk", "__row"
INTERNAL_PREFIX = "__"
STATS_PREFIX = "__stats_"


def tag_chunk(records: pa.Table, part: str, chunk: int) -> pa.Table:
    n = records.num_rows
    records = records.append_column(PART, pa.array([part] * n, pa.string()))
    records = records.append_column(CHUNK, pa.array([chunk] * n, pa.int32()))
    return records.append_column(ROW, pa.array(range(n), pa.int32()))


def split_internal(batch: pa.Table) -> tuple[pa.Table, dict[str, pa.ChunkedArray]]:
    internal = {n: batch[n] for n in batch.column_names if n.startswith(INTERNAL_PREFIX)}
    return (batch.drop_columns(list(internal)) if internal else batch), internal


def stats_column(stats: StageStats, rows: int) -> pa.Array:
    payload = json.dumps(stats.to_dict())
    return pa.array([payload] + [None] * (rows - 1), pa.string())


def batch_stats(batch: pa.Table) -> list[StageStats]:
    """Every stage's stats carried by ``batch`` (all non-null values of its stats columns)."""
    out = []
    for name in batch.column_names:
        if name.startswith(STATS_PREFIX):
            for value in batch[name].drop_null().to_pylist():
                out.append(StageStats.from_dict(json.loads(value)))
    return out
