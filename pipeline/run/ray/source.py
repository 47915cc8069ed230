"""Input files as a Ray Data dataset, read by the project's own readers.

``PartsDatasource`` makes one read task per *part* (one input file, or in a later
segment the part's spill file). The task streams the file through
``pipeline.io.readers.read_file`` (JSONL, Parquet, WARC, WET alike) and yields one block
per reader chunk. Going through the project's readers for every format, rather than
``ray.data.read_json``/``read_parquet``, is deliberate: it is what gives the Ray runner
the very same rows, stable ids, error rows and offsets as the local runner (Ray's
native JSON reader has no per-line error rows and no line offsets to derive ids from;
its Parquet reader splits files by row group and has no row offsets), and Parquet is
still read natively by Arrow (``ParquetFile.iter_batches``) inside the task. Files are
the unit of parallelism, as in Common Crawl and most dumps (many files of 100 MB-1 GB).

Each block carries three runner-internal columns: ``__part``, ``__chunk`` (the reader
chunk's index among the part's non-empty chunks) and ``__row`` (row index in the chunk),
so each stage worker can name the stats files of what it processed, the writer can name
what it stages, and the finalizer can prove every row of every chunk arrived exactly
once, in the pieces and in every stage's stats. When the file is read to its end the task writes the part's
``read.json`` (rows per chunk, records in, errors, the read stage's funnel) and its
unreadable records to ``errors.parquet`` in the part's staging dir, both atomically, so
a retried task rewrites the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from pipeline.io import fsutil
from pipeline.config import InputConfig
from pipeline.io.part_reader import ReadTally, read_part, read_spill
from pipeline.run.ray.internal import tag_chunk
from pipeline.run.ray.sink import ERRORS_FILE, READ_INFO, part_dir

@dataclass(frozen=True)
class PartInput:
    part: str
    path: str  # the input file (segment 0) or the part's spill file (later segments)
    size: int | None = None




def _read_input(item: PartInput, input_config: InputConfig, fs, staging: str) -> Iterator[pa.Table]:
    """Segment 0: the project's reader; read.json and errors.parquet when the file is done."""
    tally = ReadTally()
    chunks: list[int] = []
    directory = part_dir(staging, item.part)
    fsutil.makedirs(fs, directory)
    errors_final = fsutil.join(directory, ERRORS_FILE)
    errors: list = []  # [AtomicOutput, writer] once the part has an error row

    def on_errors(table: pa.Table) -> None:
        if not errors:
            out = fsutil.AtomicOutput(fs, errors_final)
            errors.extend([out, pq.ParquetWriter(out.stream, table.schema)])
        errors[1].write_table(table)

    try:
        for records in read_part(item.path, input_config, tally, on_errors):
            chunks.append(records.num_rows)
            yield tag_chunk(records, item.part, len(chunks) - 1)
        if errors:
            errors[1].close()
            errors[0].commit()
            errors.clear()
    finally:
        if errors:  # an exception: leave no half file
            errors[1].close()
            errors[0].abort()
    fsutil.write_json_atomic(fs, fsutil.join(directory, READ_INFO), {
        "chunks": chunks, "records_in": tally.records_in, "errored": tally.errored, "read": tally.read.to_dict(),
        "errors": tally.errored > 0,
    })


def _read_spill(item: PartInput, batch_size: int, fs, staging: str) -> Iterator[pa.Table]:
    """Later segments: the part's spill file in batches of ``input.batch_size``, as the local runner."""
    chunks: list[int] = []
    directory = part_dir(staging, item.part)
    fsutil.makedirs(fs, directory)
    for table in read_spill(item.path, batch_size):
        chunks.append(table.num_rows)
        yield tag_chunk(table, item.part, len(chunks) - 1)
    fsutil.write_json_atomic(fs, fsutil.join(directory, READ_INFO), {
        "chunks": chunks, "records_in": 0, "errored": 0, "read": None, "errors": False,
    })


class PartsDatasource(Datasource):
    """One read task per part; see the module docstring."""

    def __init__(self, items: list[PartInput], segment: int, input_config: InputConfig, fs, staging: str):
        super().__init__()
        self.items, self.segment, self.input_config = items, segment, input_config
        self.fs, self.staging = fs, staging

    def get_name(self) -> str:
        return "TaoshaParts"

    def estimate_inmemory_data_size(self) -> int | None:
        sizes = [i.size for i in self.items]
        return None if any(s is None for s in sizes) else int(sum(sizes))

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context=None) -> list[ReadTask]:
        tasks = []
        for item in self.items:
            meta = BlockMetadata(num_rows=None, size_bytes=item.size, input_files=[item.path] if item.path else [],
                                 exec_stats=None)
            tasks.append(ReadTask(self._reader(item), meta))
        return tasks

    def _reader(self, item: PartInput):
        segment, input_config, fs, staging = self.segment, self.input_config, self.fs, self.staging

        def read() -> Iterator[pa.Table]:
            if segment == 0:
                yield from _read_input(item, input_config, fs, staging)
            else:
                yield from _read_spill(item, input_config.batch_size, fs, staging)

        return read
