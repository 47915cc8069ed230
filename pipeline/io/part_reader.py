"""Reading one part, the same for both engines: an input file through the readers (with the
read stage's funnel and the part's unreadable records), or a spill in batches.

Segment 0 reads the input file in reader chunks; every chunk's records go on to the
stages and its error rows to ``on_errors``; ``ReadTally`` counts what the funnel's
``read`` row and the accounting need. Later segments read the part's spill (one
Parquet file, see ``pipeline.io.writers.SpillWriter``) in batches of ``batch_size``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import InputConfig
from pipeline.io import fsutil
from pipeline.io.readers import read_file
from pipeline.stats import StageStats, newly_dropped


@dataclass
class ReadTally:
    read: StageStats = field(default_factory=lambda: StageStats("read"))
    records_in: int = 0
    errored: int = 0


def read_stage_stats(records: pa.Table, errors: pa.Table, seconds: float) -> StageStats:
    """The ``read`` row of the funnel: records read, kept, dropped by the reader, errors."""
    reasons = records["drop_reason"]
    return StageStats(
        "read",
        rows_in=records.num_rows + errors.num_rows,
        kept=reasons.null_count,
        dropped=newly_dropped(pa.nulls(len(reasons), pa.string()), reasons),
        seconds=seconds,
    )


def read_part(path: str, input_config: InputConfig, tally: ReadTally,
              on_errors: Callable[[pa.Table], None]) -> Iterator[pa.Table]:
    """The non-empty record batches of one input file; errors to ``on_errors``, counts to ``tally``."""
    t0 = time.perf_counter()
    for chunk in read_file(path, input_config):
        tally.read.merge(read_stage_stats(chunk.records, chunk.errors, time.perf_counter() - t0))
        tally.records_in += chunk.records.num_rows + chunk.errors.num_rows
        tally.errored += chunk.errors.num_rows
        if chunk.errors.num_rows:
            on_errors(chunk.errors)
        if chunk.records.num_rows:
            yield chunk.records
        t0 = time.perf_counter()


def read_spill(path: str | None, batch_size: int) -> Iterator[pa.Table]:
    """The part's spill in batches of ``batch_size`` (nothing if the part had no rows)."""
    if not path:
        return
    fs, inner = fsutil.filesystem_for(path)
    with fs.open_input_file(inner) as f:
        for rb in pq.ParquetFile(f).iter_batches(batch_size=batch_size):
            if rb.num_rows:
                yield pa.Table.from_batches([rb])
