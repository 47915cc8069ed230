"""Staged writes of the Ray runner, and the per-part finalize that makes them outputs.

Why stage: Ray Data may retry a task or restart an actor (a worker killed with -9),
and then a block can be produced twice or a task's write cut off. So workers never
append to an output; each writes what it got under a name fixed by its content's
position, ``<part>/c<chunk>-r<first row>.parquet``, to a temp name renamed when
complete. A retry rewrites the same name with the same bytes: nothing duplicates.

A part is finalized once its ``read.json`` exists (the read task finished the file)
and its staged pieces cover every row of every chunk exactly once, which
``finalize_part`` checks before it writes anything; a missing or overlapping piece
raises ``IncompleteStaging`` and the runner re-runs that part. Finalize replays the
chunks in order through the local runner's writers (``OutputWriter`` for the last
segment, the spill ``ShardWriter`` before a global stage), so the Ray runner's
``data/``, ``rejects/``, ``errors/`` and spill files have the same names and rows as
the local runner's, and writes the part's marker last, in the local runner's format:
a run killed on either engine resumes on either engine.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io import fsutil
from pipeline.config import OutputConfig
from pipeline.run.plan import WorkDir
from pipeline.stats import RunStats, StageStats
from pipeline.io.part_sink import PartSink
from pipeline.run.ray.internal import INTERNAL_PREFIX, batch_stats

READ_INFO, ERRORS_FILE = "read.json", "errors.parquet"
STATS_KEY = b"taosha.stats"
_PIECE = re.compile(r"^c(\d{6})-r(\d{7})\.parquet$")


class IncompleteStaging(RuntimeError):
    """A part's staged pieces do not cover its chunks exactly once."""


def staging_root(work: WorkDir, segment: int) -> str:
    return fsutil.join(work.root, "ray", f"seg{segment}")


def part_dir(staging: str, part: str) -> str:
    return fsutil.join(staging, part)


def piece_name(chunk: int, row0: int) -> str:
    return f"c{chunk:06d}-r{row0:07d}.parquet"


def _runs(part: np.ndarray, chunk: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of equal (part, chunk) in a batch."""
    change = np.flatnonzero((part[1:] != part[:-1]) | (chunk[1:] != chunk[:-1])) + 1
    bounds = [0, *change.tolist(), len(part)]
    return list(zip(bounds[:-1], bounds[1:]))


def write_staged(batch: pa.Table, fs, staging: str) -> pa.Table:
    """``map_batches`` writer: stage ``batch`` piece by piece; return what was written."""
    if batch.num_rows == 0:
        return pa.table({"part": pa.array([], pa.string()), "chunk": pa.array([], pa.int32()),
                         "row0": pa.array([], pa.int32()), "rows": pa.array([], pa.int64())})
    stats = [s.to_dict() for s in batch_stats(batch)]
    part = np.asarray(batch["__part"].to_numpy(zero_copy_only=False), dtype=object)
    chunk = batch["__chunk"].to_numpy()
    row = batch["__row"].to_numpy()
    data = batch.drop_columns([n for n in batch.column_names if n.startswith(INTERNAL_PREFIX)])
    parts, chunks, row0s, rows = [], [], [], []
    for i, (start, end) in enumerate(_runs(part, chunk)):
        piece = data.slice(start, end - start)
        meta = dict(piece.schema.metadata or {})
        meta[STATS_KEY] = json.dumps(stats if i == 0 else []).encode()
        piece = piece.replace_schema_metadata(meta)
        directory = part_dir(staging, part[start])
        final = fsutil.join(directory, piece_name(int(chunk[start]), int(row[start])))
        tmp = fsutil.tmp_name(final)
        fsutil.makedirs(fs, directory)
        with fs.open_output_stream(tmp) as out:
            pq.write_table(piece, out, compression="lz4")
        fs.move(tmp, final)
        parts.append(part[start])
        chunks.append(int(chunk[start]))
        row0s.append(int(row[start]))
        rows.append(end - start)
    return pa.table({"part": pa.array(parts, pa.string()), "chunk": pa.array(chunks, pa.int32()),
                     "row0": pa.array(row0s, pa.int32()), "rows": pa.array(rows, pa.int64())})


def read_info(fs, staging: str, part: str) -> dict | None:
    path = fsutil.join(part_dir(staging, part), READ_INFO)
    return fsutil.read_json(fs, path) if fsutil.exists(fs, path) else None


def _pieces_by_chunk(fs, directory: str, info: dict, part: str) -> list[list[str]]:
    """Staged pieces per chunk, in row order; IncompleteStaging unless they tile each chunk."""
    found: dict[int, list[tuple[int, str]]] = {}
    for path in fsutil.list_files(fs, directory):
        m = _PIECE.match(path.rsplit("/", 1)[-1])
        if m:
            found.setdefault(int(m.group(1)), []).append((int(m.group(2)), path))
    out = []
    for chunk, expected in enumerate(info["chunks"]):
        pieces = sorted(found.get(chunk, []))
        covered = 0
        for row0, path in pieces:
            if row0 != covered:
                raise IncompleteStaging(f"{part}: chunk {chunk} has a gap or overlap at row {covered} (piece r{row0})")
            with fs.open_input_file(path) as f:
                covered += pq.ParquetFile(f).metadata.num_rows
        if covered != expected:
            raise IncompleteStaging(f"{part}: chunk {chunk} has {covered} of {expected} rows staged")
        out.append([p for _, p in pieces])
    if set(found) - set(range(len(info["chunks"]))):
        raise IncompleteStaging(f"{part}: staged chunks beyond the {len(info['chunks'])} read")
    return out


def _read_piece(fs, path: str) -> tuple[pa.Table, list[StageStats]]:
    with fs.open_input_file(path) as f:
        table = pq.read_table(f)
    stats = json.loads((table.schema.metadata or {}).get(STATS_KEY, b"[]"))
    return table.replace_schema_metadata(None), [StageStats.from_dict(s) for s in stats]


def finalize_part(work: WorkDir, segment: int, last: bool, part: str, names: list[str],
                  output: OutputConfig, output_dir: str) -> dict:
    """Write one part's outputs (or spill) and errors from its staged pieces, then its marker."""
    staging = staging_root(work, segment)
    directory = part_dir(staging, part)
    done = work.done(segment, part)
    if done is not None:  # a retry of a finalize that got as far as its marker
        return done
    info = read_info(work.fs, staging, part)
    if info is None:
        raise IncompleteStaging(f"{part}: not read to its end")
    pieces = _pieces_by_chunk(work.fs, directory, info, part)
    stats = RunStats()
    if segment == 0:
        stats.stage("read").merge(StageStats.from_dict(info["read"]))
        stats.records_in, stats.errored = info["records_in"], info["errored"]
    for name in names:
        stats.stage(name)
    with PartSink(work, output, output_dir, segment, last, part) as sink:
        if segment == 0 and info["errors"]:
            with work.fs.open_input_file(fsutil.join(directory, ERRORS_FILE)) as f:
                errors = pq.ParquetFile(f)
                for i in range(errors.num_row_groups):
                    sink.write_errors(errors.read_row_group(i))
        for chunk_pieces in pieces:
            tables = []
            for path in chunk_pieces:
                table, piece_stats = _read_piece(work.fs, path)
                tables.append(table)
                for s in piece_stats:
                    stats.stage(s.name).merge(s)
            batch = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
            sink.write(batch, stats)
        files, spill_path = sink.close()
    stats.files = 1 if segment == 0 else 0
    marker = work.mark_done(segment, part, stats, files, spill_path)
    clear_part(work.fs, staging, part)
    return marker


def clear_part(fs, staging: str, part: str) -> None:
    directory = part_dir(staging, part)
    if fsutil.exists(fs, directory):
        fs.delete_dir(directory)
