"""Parquet writers for a run's outputs: training shards, rejects and errors.

Layout under the output dir ``OUT``::

    OUT/data/<part>-NNNN.parquet     kept rows: every column but drop_reason
    OUT/rejects/<part>-NNNN.parquet  dropped rows: id, source, url, drop_reason and all
                                     signal/score columns; the text only when configured
    OUT/errors/<part>-NNNN.parquet   unreadable records: source, offset, error

``<part>`` names the unit of work (one input file), so a rerun can find and replace
what a killed run left of it. Shards roll over at a target size (measured on the
compressed bytes written) and are written under a temporary name, renamed when
closed: a file without the ``.tmp`` suffix is always complete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline import fsutil
from pipeline.config import OutputConfig

DATA_DIR, REJECTS_DIR, ERRORS_DIR = "data", "rejects", "errors"
TEXT_COLUMNS = ("text", "text_original")


@dataclass
class FileEntry:
    """One finished output file, as listed in manifest.json."""

    path: str  # relative to the output dir
    kind: str  # data | rejects | errors
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


def _storable(table: pa.Table) -> pa.Table:
    """Give all-null columns a concrete type so later batches can be cast to it."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, pa.nulls(table.num_rows, pa.string()))
    return table


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """Cast ``table`` to ``schema`` (missing columns as nulls); None if it cannot be."""
    if set(table.column_names) - set(schema.names):
        return None
    columns = []
    for f in schema:
        if f.name in table.column_names:
            col = table[f.name]
            if col.type != f.type:
                try:
                    col = col.cast(f.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    return None
            columns.append(col)
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.table(columns, schema=schema)


class ShardWriter:
    """Rolling Parquet writer: ``<dir>/<part>-NNNN.parquet``, each renamed when complete."""

    def __init__(self, fs: pafs.FileSystem, out_dir: str, sub_dir: str, part: str, config: OutputConfig,
                 checksum: bool = True):
        self.fs, self.out_dir, self.sub_dir, self.part, self.config = fs, out_dir, sub_dir, part, config
        self.checksum = checksum
        self.directory = fsutil.join(out_dir, sub_dir)
        self.entries: list[FileEntry] = []
        self._writer: pq.ParquetWriter | None = None
        self._stream = None
        self._tmp = self._final = ""
        self._rows = 0
        self._seq = 0
        self._target_bytes = int(config.target_shard_mb * 1024 * 1024)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = _storable(table)
        if self._writer is not None:
            conformed = _conform(table, self._writer.schema)
            if conformed is None:  # a new column or type: start a new shard with it
                self._close_shard()
            else:
                table = conformed
        if self._writer is None:
            self._open_shard(table.schema)
        self._writer.write_table(table, row_group_size=self.config.row_group_rows)
        self._rows += table.num_rows
        if self._stream.tell() >= self._target_bytes:
            self._close_shard()

    def _open_shard(self, schema: pa.Schema) -> None:
        fsutil.makedirs(self.fs, self.directory)
        self._final = fsutil.join(self.directory, f"{self.part}-{self._seq:04d}.parquet")
        self._tmp = fsutil.tmp_name(self._final)
        self._stream = self.fs.open_output_stream(self._tmp)
        self._writer = pq.ParquetWriter(
            self._stream,
            schema,
            compression=self.config.compression,
            compression_level=self.config.compression_level if self.config.compression == "zstd" else None,
        )
        self._rows = 0
        self._seq += 1

    def _close_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._stream.close()
        self.fs.move(self._tmp, self._final)
        rel = f"{self.sub_dir}/{self._final.rsplit('/', 1)[-1]}"
        self.entries.append(
            FileEntry(rel, self.sub_dir, self._rows, fsutil.file_size(self.fs, self._final),
                      fsutil.sha256_of(self.fs, self._final) if self.checksum else "")
        )
        self._writer = self._stream = None

    def close(self) -> list[FileEntry]:
        self._close_shard()
        return self.entries

    def abort(self) -> None:
        """Drop the open shard (its temp file) without renaming it."""
        if self._writer is not None:
            try:
                self._writer.close()
                self._stream.close()
            finally:
                if fsutil.exists(self.fs, self._tmp):
                    self.fs.delete_file(self._tmp)
            self._writer = self._stream = None


class OutputWriter:
    """Splits batches of one unit of work into training shards and rejects (a part's
    ``errors/`` come from its reading, written by ``pipeline.part_sink.PartSink``)."""

    def __init__(self, out_dir: str, config: OutputConfig, part: str):
        self.fs, self.out_dir = fsutil.filesystem_for(out_dir)
        self.config = config
        self.part = part
        self.data = ShardWriter(self.fs, self.out_dir, DATA_DIR, part, config)
        self.rejects = ShardWriter(self.fs, self.out_dir, REJECTS_DIR, part, config)

    def clear_previous(self) -> None:
        """Remove the shards and rejects an earlier, killed attempt at this part left behind."""
        for sub in (DATA_DIR, REJECTS_DIR):
            fsutil.remove_matching(self.fs, fsutil.join(self.out_dir, sub), f"{self.part}-")

    def write(self, batch: pa.Table) -> None:
        is_kept = pc.is_null(batch["drop_reason"])
        kept = batch.filter(is_kept)
        if kept.num_rows:
            self.data.write(kept.drop_columns(["drop_reason"]))
        rejected = batch.filter(pc.invert(is_kept))
        if rejected.num_rows:
            if not self.config.rejects_text:
                rejected = rejected.drop_columns([c for c in TEXT_COLUMNS if c in rejected.column_names])
            self.rejects.write(rejected)

    def close(self) -> list[FileEntry]:
        return self.data.close() + self.rejects.close()

    def abort(self) -> None:
        for w in (self.data, self.rejects):
            w.abort()
