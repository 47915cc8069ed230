"""Staged writes of the Ray runner, the stats beside them, and the per-part finalize.

Why stage: Ray Data may retry a task or restart an actor (a worker killed with -9),
and then a block can be produced twice or a task's write cut off. So workers never
append to an output; each writes what it got under a name fixed by its content's
position, ``<part>/c<chunk>-r<first row>.parquet``, to a temp name renamed when
complete. A retry rewrites the same name with the same bytes: nothing duplicates.

Stats travel the same way, beside the data and never in it. A stage worker cuts its
batch's funnel (rows in, kept, dropped by reason, seconds) into one funnel per run of
rows of one chunk (``pipeline.run.ray.internal.runs``; a Ray block usually holds a
whole part's chunks) and, before it hands the batch on, writes them, temp then rename,
to ``<part>/s<stage>-c<chunk>-r<first row>.json`` (``write_stage_stats``), named by the
batch's first run of that part; each run in the file says which rows it counts. The
name and content are fixed by which rows the batch holds, not by which worker or
attempt processed them, so a retried task or a restarted actor given the same block
rewrites the same file (same counts) instead of adding a second one; a worker killed
mid-write leaves only a temp name, which is never read.

A part is finalized once its ``read.json`` exists (the read task finished the file),
its staged pieces cover every row of every chunk exactly once, and, for every stage,
its stats files do too (each run in them records the rows it counts); ``finalize_part``
checks all this before it writes anything. A gap or an overlap (a retry that cut a
chunk differently) raises ``IncompleteStaging`` and the runner re-runs that part from
a cleared staging dir, so every row is counted once per stage or the part runs again.
Finalize replays the chunks in order through the local runner's writers
(``OutputWriter`` for the last segment, the spill ``ShardWriter`` before a global
stage), so the Ray runner's ``data/``, ``rejects/``, ``errors/`` and spill files have
the same names and rows as the local runner's, sums the stats files into the part's
stats, and writes the part's marker last, in the local runner's format: a run killed
on either engine resumes on either engine.
"""

from __future__ import annotations

import re
from typing import Iterable, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io import fsutil
from pipeline.config import OutputConfig
from pipeline.run.plan import WorkDir
from pipeline.stats import RunStats, StageStats
from pipeline.io.part_sink import PartSink
from pipeline.run.ray.internal import INTERNAL_PREFIX, Run, runs

READ_INFO, ERRORS_FILE = "read.json", "errors.parquet"
_PIECE = re.compile(r"^c(\d{6})-r(\d{7})\.parquet$")
_STATS = re.compile(r"^s(\d{3})-c(\d{6})-r(\d{7})\.json$")
T = TypeVar("T")


class IncompleteStaging(RuntimeError):
    """A part's staged pieces, or one stage's stats, do not cover its chunks exactly once."""


def staging_root(work: WorkDir, segment: int) -> str:
    return fsutil.join(work.root, "ray", f"seg{segment}")


def part_dir(staging: str, part: str) -> str:
    return fsutil.join(staging, part)


def piece_name(chunk: int, row0: int) -> str:
    return f"c{chunk:06d}-r{row0:07d}.parquet"


def stats_name(stage: int, chunk: int, row0: int) -> str:
    return f"s{stage:03d}-c{chunk:06d}-r{row0:07d}.json"


def write_stage_stats(fs, staging: str, stage: int, run_stats: Iterable[tuple[Run, StageStats]]) -> None:
    """Stage ``stage``'s funnel of one batch, per run of one chunk: one file per part the batch
    touches, named by that part's first run in the batch (see the module docstring).
    ``seconds`` is kept unrounded so that the part's sum is the sum of the workers' time."""
    by_part: dict[str, list[tuple[Run, StageStats]]] = {}
    for run, stats in run_stats:
        by_part.setdefault(run.part, []).append((run, stats))
    for part, entries in by_part.items():
        directory = part_dir(staging, part)
        first = min((run.chunk, run.row0) for run, _ in entries)
        fsutil.makedirs(fs, directory)
        fsutil.write_json_atomic(fs, fsutil.join(directory, stats_name(stage, *first)), {
            "stage": stage,
            "runs": [{"chunk": run.chunk, "row0": run.row0, "rows": run.end - run.start,
                      "stats": {**stats.to_dict(), "seconds": stats.seconds}} for run, stats in entries],
        })


def write_staged(batch: pa.Table, fs, staging: str) -> pa.Table:
    """``map_batches`` writer: stage ``batch`` piece by piece; return what was written."""
    parts, chunks, row0s, rows = [], [], [], []
    if batch.num_rows == 0:
        return _written(parts, chunks, row0s, rows)
    data = batch.drop_columns([n for n in batch.column_names if n.startswith(INTERNAL_PREFIX)])
    for run in runs(batch):
        piece = data.slice(run.start, run.end - run.start)
        directory = part_dir(staging, run.part)
        final = fsutil.join(directory, piece_name(run.chunk, run.row0))
        fsutil.makedirs(fs, directory)
        with fsutil.AtomicOutput(fs, final) as out:
            pq.write_table(piece, out, compression="lz4")
        parts.append(run.part)
        chunks.append(run.chunk)
        row0s.append(run.row0)
        rows.append(run.end - run.start)
    return _written(parts, chunks, row0s, rows)


def _written(parts: list, chunks: list, row0s: list, rows: list) -> pa.Table:
    return pa.table({"part": pa.array(parts, pa.string()), "chunk": pa.array(chunks, pa.int32()),
                     "row0": pa.array(row0s, pa.int32()), "rows": pa.array(rows, pa.int64())})


def read_info(fs, staging: str, part: str) -> dict | None:
    path = fsutil.join(part_dir(staging, part), READ_INFO)
    return fsutil.read_json(fs, path) if fsutil.exists(fs, path) else None


def _tile(found: dict[int, list[tuple[int, int, T]]], chunks: list[int], what: str) -> list[list[T]]:
    """``found`` (chunk -> [(first row, rows, item)]) in row order per chunk; IncompleteStaging
    unless the items cover every row of every chunk exactly once."""
    out = []
    for chunk, expected in enumerate(chunks):
        covered, items = 0, []
        for row0, rows, item in sorted(found.get(chunk, []), key=lambda x: x[0]):
            if row0 != covered:
                raise IncompleteStaging(f"{what}: chunk {chunk} has a gap or overlap at row {covered} (r{row0})")
            covered += rows
            items.append(item)
        if covered != expected:
            raise IncompleteStaging(f"{what}: chunk {chunk} has {covered} of {expected} rows staged")
        out.append(items)
    if set(found) - set(range(len(chunks))):
        raise IncompleteStaging(f"{what}: staged chunks beyond the {len(chunks)} read")
    return out


def _pieces_by_chunk(fs, files: list[str], info: dict, part: str) -> list[list[str]]:
    """Staged pieces per chunk, in row order; IncompleteStaging unless they tile each chunk."""
    found: dict[int, list[tuple[int, int, str]]] = {}
    for path in files:
        m = _PIECE.match(path.rsplit("/", 1)[-1])
        if m:
            with fs.open_input_file(path) as f:
                rows = pq.ParquetFile(f).metadata.num_rows
            found.setdefault(int(m.group(1)), []).append((int(m.group(2)), rows, path))
    return _tile(found, info["chunks"], part)


def _stage_stats(fs, files: list[str], info: dict, part: str, names: list[str]) -> list[list[StageStats]]:
    """Each stage's stats files, checked to cover every row of the part exactly once."""
    found: list[dict[int, list[tuple[int, int, StageStats]]]] = [{} for _ in names]
    for path in files:
        m = _STATS.match(path.rsplit("/", 1)[-1])
        if m:
            stage = int(m.group(1))
            if stage >= len(names):
                raise IncompleteStaging(f"{part}: stats of a stage {stage} beyond the segment's {len(names)}")
            for run in fsutil.read_json(fs, path)["runs"]:
                found[stage].setdefault(run["chunk"], []).append(
                    (run["row0"], run["rows"], StageStats.from_dict(run["stats"])))
    return [_tile(found[k], info["chunks"], f"{part}: stats of {name}") for k, name in enumerate(names)]


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
    staged = fsutil.list_files(work.fs, directory)
    pieces = _pieces_by_chunk(work.fs, staged, info, part)
    stage_stats = _stage_stats(work.fs, staged, info, part, names)
    stats = RunStats()
    if segment == 0:
        stats.stage("read").merge(StageStats.from_dict(info["read"]))
        stats.records_in, stats.errored = info["records_in"], info["errored"]
    for name, per_chunk in zip(names, stage_stats):
        total = stats.stage(name)
        for chunk_stats in per_chunk:
            for s in chunk_stats:
                total.merge(s)
    with PartSink(work, output, output_dir, segment, last, part) as sink:
        if segment == 0 and info["errors"]:
            with work.fs.open_input_file(fsutil.join(directory, ERRORS_FILE)) as f:
                errors = pq.ParquetFile(f)
                for i in range(errors.num_row_groups):
                    sink.write_errors(errors.read_row_group(i))
        for chunk_pieces in pieces:
            tables = []
            for path in chunk_pieces:
                with work.fs.open_input_file(path) as f:
                    tables.append(pq.read_table(f).replace_schema_metadata(None))
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
