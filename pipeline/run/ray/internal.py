"""The Ray engine's internal columns: where a row came from.

Rows on Ray carry ``__part``, ``__chunk`` and ``__row`` (set by the read source): the
part, the reader chunk among the part's chunks, and the row in that chunk. They are
provenance, not payload: with them a stage worker names the stats files of what it
processed and the write step names the pieces it stages (both by ``(part, chunk, first
row)``, see ``runs``), and the finalizer proves every row of every chunk arrived once.
Stages never see these columns (``split_internal`` takes them off and puts them back).
No stats travel in the rows: each stage's funnel goes beside the data, to a file in the
part's staging dir (``pipeline.run.ray.sink.write_stage_stats``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

PART, CHUNK, ROW = "__part", "__chunk", "__row"
INTERNAL_PREFIX = "__"


def tag_chunk(records: pa.Table, part: str, chunk: int) -> pa.Table:
    n = records.num_rows
    records = records.append_column(PART, pa.array([part] * n, pa.string()))
    records = records.append_column(CHUNK, pa.array([chunk] * n, pa.int32()))
    return records.append_column(ROW, pa.array(range(n), pa.int32()))


def split_internal(batch: pa.Table) -> tuple[pa.Table, dict[str, pa.ChunkedArray]]:
    internal = {n: batch[n] for n in batch.column_names if n.startswith(INTERNAL_PREFIX)}
    return (batch.drop_columns(list(internal)) if internal else batch), internal


class Run(NamedTuple):
    """Rows ``[start, end)`` of a batch: rows ``row0 .. row0 + end - start - 1`` of one chunk."""

    start: int
    end: int
    part: str
    chunk: int
    row0: int


def runs(internal: dict[str, pa.ChunkedArray] | pa.Table) -> list[Run]:
    """The batch cut into runs of consecutive rows of one (part, chunk).

    A Ray Data block can hold several reader chunks (a task's outputs are concatenated up
    to the target block size) or a slice of one (big blocks are split), so a batch is
    described run by run. A run is identified by ``(part, chunk, row0)``, which a retried
    task, given the same input block, reproduces."""
    n = len(internal[PART])
    if n == 0:
        return []
    part = np.asarray(internal[PART].to_numpy(zero_copy_only=False), dtype=object)
    chunk = internal[CHUNK].to_numpy()
    row = internal[ROW].to_numpy()
    change = np.flatnonzero((part[1:] != part[:-1]) | (chunk[1:] != chunk[:-1]) | (row[1:] != row[:-1] + 1)) + 1
    bounds = [0, *change.tolist(), n]
    return [Run(a, b, str(part[a]), int(chunk[a]), int(row[a])) for a, b in zip(bounds[:-1], bounds[1:])]
