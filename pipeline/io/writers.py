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

from dataclasses import asdict, dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.io import fsutil
from pipeline.config import OutputConfig

DATA_DIR, REJECTS_DIR, ERRORS_DIR = "data", "rejects", "errors"
TEXT_COLUMNS = ("text", "text_original")
DISTINCT_PER_ROW = (*TEXT_COLUMNS, "id", "url")
"""String columns whose values are (nearly) all different: never dictionary-encoded."""


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth Parquet's dictionary encoding: string and boolean columns other than
    :data:`DISTINCT_PER_ROW` (languages, kinds, reasons, sources: a few values each). Parquet
    writers try a dictionary on every column by default, so each text and id column built a
    hash table of its values until the dictionary outgrew its page and fell back; and float
    scores, nearly all distinct, took a dictionary per row group. On the benchmark corpus's
    outputs: writing 0.49 -> 0.45 CPU-s (zstd), spills 0.28 -> 0.25 (lz4), files 2% smaller."""
    return [f.name for f in schema if f.name not in DISTINCT_PER_ROW
            and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or pa.types.is_boolean(f.type))]


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
    if table.schema.equals(schema):  # the usual case: every batch of a run alike
        return table
    names = set(table.column_names)
    if names - set(schema.names):
        return None
    columns = []
    for f in schema:
        if f.name in names:
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
        self._out: fsutil.AtomicOutput | None = None
        self._final = ""
        self._rows = 0
        self._seq = 0
        self._target_bytes = int(config.target_shard_mb * 1024 * 1024)
        self._schema: pa.Schema | None = None  # of the open shard and the rows waiting for it
        self._pending: list[pa.Table] = []
        self._pending_rows = self._pending_bytes = 0

    def write(self, table: pa.Table) -> None:
        """Add ``table``'s rows. Rows are held until ``row_group_rows`` of them are waiting
        and then written as one row group: batches are smaller than row groups (1,000 rows
        against 8,192 by default), and a row group per batch made files of many small row
        groups, slower to write and to scan. Nothing is visible before the shard's rename,
        so holding rows changes no guarantee."""
        if table.num_rows == 0:
            return
        table = _storable(table)
        if self._schema is not None:
            conformed = _conform(table, self._schema)
            if conformed is None:  # a new column or type: start a new shard with it
                self._close_shard()
            else:
                table = conformed
        if self._schema is None:
            self._schema = table.schema
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self._pending_bytes += table.nbytes
        written = self._out.stream.tell() if self._out is not None else 0
        if self._pending_rows >= self.config.row_group_rows:
            self._flush(whole_groups_only=True)
        elif self._pending_bytes >= self._target_bytes - written:  # the shard may be full: write to see
            self._flush()

    def _flush(self, whole_groups_only: bool = False) -> None:
        """Write the waiting rows in row groups of ``row_group_rows`` (with
        ``whole_groups_only``, a remainder keeps waiting); roll the shard over at its
        target size, measured on the bytes written."""
        if not self._pending:
            return
        table = pa.concat_tables(self._pending) if len(self._pending) > 1 else self._pending[0]
        rows = table.num_rows
        if whole_groups_only:
            rows -= rows % self.config.row_group_rows
        rest = table.slice(rows)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows, self._pending_bytes = rest.num_rows, rest.nbytes if rest.num_rows else 0
        if rows == 0:
            return
        if self._writer is None:
            self._open_shard(self._schema)
        self._writer.write_table(table.slice(0, rows), row_group_size=self.config.row_group_rows)
        self._rows += rows
        if self._out.stream.tell() >= self._target_bytes:
            self._finish_shard()  # rows still waiting go to the next shard

    def _open_shard(self, schema: pa.Schema) -> None:
        fsutil.makedirs(self.fs, self.directory)
        self._final = fsutil.join(self.directory, f"{self.part}-{self._seq:04d}.parquet")
        self._out = fsutil.AtomicOutput(self.fs, self._final)
        self._writer = pq.ParquetWriter(
            self._out.stream,
            schema,
            compression=self.config.compression,
            compression_level=self.config.compression_level if self.config.compression == "zstd" else None,
            use_dictionary=dictionary_columns(schema),
        )
        self._rows = 0
        self._seq += 1

    def _close_shard(self) -> None:
        """Write the waiting rows, then close and rename the open shard."""
        self._flush()
        self._schema = None
        self._finish_shard()

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._out.commit()
        rel = f"{self.sub_dir}/{self._final.rsplit('/', 1)[-1]}"
        self.entries.append(
            FileEntry(rel, self.sub_dir, self._rows, fsutil.file_size(self.fs, self._final),
                      fsutil.sha256_of(self.fs, self._final) if self.checksum else "")
        )
        self._writer = self._out = None

    def close(self) -> list[FileEntry]:
        self._close_shard()
        return self.entries

    def abort(self) -> None:
        """Drop the open shard (its temp file) and the waiting rows without renaming anything."""
        self._pending, self._pending_rows, self._pending_bytes, self._schema = [], 0, 0, None
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._out.abort()
            self._writer = self._out = None


def unified_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """One schema holding every column of ``schemas`` (first-seen order); a column whose
    types differ and cannot be promoted becomes a string column."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        fields: dict[str, pa.Field] = {}
        for schema in schemas:
            for f in schema:
                seen = fields.get(f.name)
                if seen is None:
                    fields[f.name] = f
                elif seen.type != f.type:
                    try:
                        fields[f.name] = pa.unify_schemas([pa.schema([seen]), pa.schema([f])],
                                                          promote_options="permissive").field(0)
                    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                        fields[f.name] = pa.field(f.name, pa.large_string())
        return pa.schema(list(fields.values()))


def _cast_to(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for f in schema:
        if f.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        col = table[f.name]
        columns.append(col if col.type == f.type else col.cast(f.type))
    return pa.table(columns, schema=schema)


class SpillWriter:
    """Exactly ONE Parquet file per part before a global stage, whatever its batches' schemas.

    A global stage binds each part's intermediate by its path, so a part must never be
    split across files. Batches of one input can grow new columns (a JSON field first
    seen late in the file); Parquet cannot add a column to an open file, so the writer
    rolls over to a new piece and, at close, merges the pieces into one file with the
    union of their schemas (missing values null). Merging costs one extra read and
    write, paid only by parts whose schema changed.

    A spill is written once and read twice (the global phase, then the next segment), and
    is no output: it is LZ4-compressed whatever the output's codec. Against zstd level 3 on
    the 50,000-doc benchmark corpus: writing 0.65 -> 0.37 CPU-s, each read about half, for
    1.75x the bytes (40 -> 70 MB, which stay under the work dir as before).
    """

    COMPRESSION = "lz4"

    def __init__(self, fs: pafs.FileSystem, root: str, sub_dir: str, part: str, config: OutputConfig):
        self.fs, self.root, self.sub_dir, self.part = fs, root, sub_dir, part
        self.config = replace(config, target_shard_mb=1e12, compression=self.COMPRESSION)
        self.pieces = ShardWriter(fs, root, f"{sub_dir}/_pieces", part, self.config, checksum=False)

    def write(self, table: pa.Table) -> None:
        self.pieces.write(table)

    def close(self) -> str | None:
        """The part's one spill file (its path under ``root``), or None if it wrote nothing."""
        entries = self.pieces.close()
        if not entries:
            return None
        directory = fsutil.join(self.root, self.sub_dir)
        fsutil.makedirs(self.fs, directory)
        final = fsutil.join(directory, f"{self.part}-0000.parquet")
        paths = [fsutil.join(self.root, e.path) for e in entries]
        if len(paths) == 1:
            self.fs.move(paths[0], final)
        else:
            self._merge(paths, final)
        return f"{self.sub_dir}/{final.rsplit('/', 1)[-1]}"

    def _merge(self, paths: list[str], final: str) -> None:
        schemas = []
        for path in paths:
            with self.fs.open_input_file(path) as f:
                schemas.append(pq.read_schema(f))
        schema = unified_schema(schemas)
        with fsutil.AtomicOutput(self.fs, final) as stream:
            with pq.ParquetWriter(stream, schema, compression=self.config.compression,
                                  use_dictionary=dictionary_columns(schema)) as writer:
                for path in paths:
                    with self.fs.open_input_file(path) as f:
                        for rb in pq.ParquetFile(f).iter_batches(batch_size=self.config.row_group_rows):
                            writer.write_table(_cast_to(pa.Table.from_batches([rb]), schema),
                                               row_group_size=self.config.row_group_rows)
        for path in paths:
            self.fs.delete_file(path)

    def abort(self) -> None:
        self.pieces.abort()


class OutputWriter:
    """Splits batches of one unit of work into training shards and rejects (a part's
    ``errors/`` come from its reading, written by ``pipeline.io.part_sink.PartSink``)."""

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
        n_kept = batch["drop_reason"].null_count
        if n_kept == batch.num_rows:  # no filter: it would copy every column
            self.data.write(batch.drop_columns(["drop_reason"]))
            return
        is_kept = pc.is_null(batch["drop_reason"])
        if n_kept:
            self.data.write(batch.filter(is_kept).drop_columns(["drop_reason"]))
        if not self.config.rejects_text:  # before the filter: the texts are not copied to be dropped
            batch = batch.drop_columns([c for c in TEXT_COLUMNS if c in batch.column_names])
        rejected = batch.filter(pc.invert(is_kept))
        if rejected.num_rows:
            self.rejects.write(rejected)

    def close(self) -> list[FileEntry]:
        return self.data.close() + self.rejects.close()

    def abort(self) -> None:
        for w in (self.data, self.rejects):
            w.abort()
