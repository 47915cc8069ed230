"""The local runner: streams every input file through the stages in one process.

No Ray import. Each input file is one *part*: read in bounded batches, passed
through the stages of the current segment, and written (training shards and rejects,
or a spill before a global stage). A part's marker is written only after its files
are complete and renamed, so a killed run is resumed by running it again.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io import fsutil
from pipeline.config import PipelineConfig
from pipeline.manifest import write_manifest, write_stats
from pipeline.io.readers import read_file, resolve_inputs
from pipeline.run.plan import RunError, Segment, WorkDir, part_name, split_segments, unique_stage_names
from pipeline.stage import GlobalContext, bind_input
from pipeline.stats import RunStats, StageStats, newly_dropped, timed_stage
from pipeline.io.part_sink import PartSink
from pipeline.io.writers import FileEntry

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class RunResult:
    output_dir: str
    stats: RunStats
    files: list[FileEntry] = field(default_factory=list)
    error_rate: float = 0.0
    ok: bool = True


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


def apply_stages(batch: pa.Table, segment: Segment, stats: RunStats) -> pa.Table:
    for stage, name in zip(segment.stages, segment.names):
        batch = timed_stage(stats.stage(name), stage, batch)
    return batch


def _spill_batches(path: str, batch_size: int) -> Iterator[pa.Table]:
    fs, inner = fsutil.filesystem_for(path)
    with fs.open_input_file(inner) as f:
        for rb in pq.ParquetFile(f).iter_batches(batch_size=batch_size):
            yield pa.Table.from_batches([rb])


class LocalRunner:
    def __init__(self, config: PipelineConfig, *, progress: Progress | None = stderr_progress, overwrite: bool = False):
        self.config = config
        self.progress = progress or (lambda message: None)
        self.overwrite = overwrite

    def run(self) -> RunResult:
        start = time.perf_counter()
        config = self.config
        inputs = resolve_inputs(config.input.paths)
        if not inputs:
            raise RunError(f"no input files under {config.input.paths}")
        names = unique_stage_names(config)
        stages = config.build_stages()
        segments = split_segments(stages, names)
        for segment in segments:  # a global stage is set up after its global phase
            for stage in segment.stages[1:] if segment.global_stage is not None else segment.stages:
                stage.setup()
        work = WorkDir.open(config, inputs, overwrite=self.overwrite)
        parts = [part_name(p) for p in inputs]
        spills: list[str | None] = [None] * len(inputs)
        markers: list[dict] = []
        for segment in segments:
            last = segment.index == len(segments) - 1
            pending = [p for p in parts if work.done(segment.index, p) is None]
            if segment.global_stage is not None and pending:
                self._run_global(segment, [s for s in spills if s], work)
            for i, (path, part) in enumerate(zip(inputs, parts)):
                marker = work.done(segment.index, part)
                if marker is None:
                    marker = self._run_part(segment, last, path, part, spills[i], work)
                    self.progress(progress_line(segment, i, len(inputs), path, marker))
                elif segment.index == 0:
                    self.progress(f"[{i + 1}/{len(inputs)}] {path}: done in an earlier run, skipped")
                spills[i] = marker.get("spill")
                markers.append(marker)
        return finish_run(self.config, markers, work, time.perf_counter() - start, names, "local")

    def _run_global(self, segment: Segment, spill_paths: list[str], work: WorkDir) -> None:
        name = segment.names[0]
        self.progress(f"[{name}] global phase over {len(spill_paths)} intermediate file(s)")
        t0 = time.perf_counter()
        context = GlobalContext(
            engine="local",
            work_dir=_local_path(work.global_dir(segment.index, name)),
            previous_outputs=tuple(_local_path(p) for p in self.config.run.previous_outputs),
            output_dir=_local_path(work.out_dir),
        )
        segment.global_stage.run_global(spill_paths, context)
        segment.global_stage.setup()
        self.progress(f"[{name}] global phase done in {time.perf_counter() - t0:.1f} s")

    def _run_part(self, segment: Segment, last: bool, path: str, part: str, spill: str | None, work: WorkDir) -> dict:
        config = self.config
        stats = RunStats()
        if segment.index == 0:
            stats.stage("read")
        for name in segment.names:
            stats.stage(name)
        if segment.global_stage is not None and spill:
            bind_input(segment.global_stage, spill)
        with PartSink(work, config.output, config.output.dir, segment.index, last, part) as sink:
            for batch in self._batches(segment, path, spill, stats, sink):
                sink.write(apply_stages(batch, segment, stats), stats)
            files, spill_path = sink.close()
        stats.files = 1 if segment.index == 0 else 0
        return work.mark_done(segment.index, part, stats, files, spill_path)

    def _batches(self, segment: Segment, path: str, spill: str | None, stats: RunStats,
                 sink: PartSink) -> Iterator[pa.Table]:
        if segment.index > 0:
            if spill:
                yield from _spill_batches(spill, self.config.input.batch_size)
            return
        read = stats.stage("read")
        t0 = time.perf_counter()
        for chunk in read_file(path, self.config.input):
            read.merge(read_stage_stats(chunk.records, chunk.errors, time.perf_counter() - t0))
            stats.records_in += chunk.records.num_rows + chunk.errors.num_rows
            stats.errored += chunk.errors.num_rows
            if chunk.errors.num_rows:
                sink.write_errors(chunk.errors)
            if chunk.records.num_rows:
                yield chunk.records
            t0 = time.perf_counter()


def progress_line(segment: Segment, i: int, n: int, path: str, marker: dict) -> str:
    """One line per finished part, the same for both engines."""
    s = marker["stats"]
    seconds = sum(st["seconds"] for st in s["stages"])
    head = f"[{'read' if segment.index == 0 else segment.names[0]} {i + 1}/{n}] {path}:"
    if segment.index == 0:
        head += f" {s['records_in']} records, {s['errored']} errors,"
    if marker.get("spill") is not None or (segment.index == 0 and not s["kept"] and not s["rejected"]):
        active = s["stages"][-1]["kept"] if s["stages"] else 0
        return f"{head} {active} rows on to the next global stage ({seconds:.1f} s)"
    return f"{head} {s['kept']} kept, {s['rejected']} rejected ({seconds:.1f} s)"


def finish_run(config: PipelineConfig, markers: list[dict], work: WorkDir, seconds: float, names: list[str],
               engine: str) -> RunResult:
    """Merge the parts' markers into the run's stats and manifest (both engines write the same)."""
    total = RunStats()
    total.stage("read")
    for name in names:
        total.stage(name)
    files: list[FileEntry] = []
    for marker in markers:
        total.merge(RunStats.from_dict(marker["stats"]))
        files += [FileEntry(**f) for f in marker["files"]]
    total.seconds = seconds
    total.check()
    write_stats(work.fs, work.out_dir, total, config, engine=engine)
    write_manifest(work.fs, work.out_dir, files, config)
    rate = total.errored / total.records_in if total.records_in else 0.0
    return RunResult(config.output.dir, total, files, rate, rate <= config.run.max_error_rate)


def _local_path(path: str) -> Path:
    """Global stages work on local paths (the work dir of a local run is local)."""
    return Path(path)


def run_local(config: PipelineConfig, *, progress: Progress | None = stderr_progress, overwrite: bool = False) -> RunResult:
    """Run ``config`` in this process and write its outputs; see ``LocalRunner``."""
    return LocalRunner(config, progress=progress, overwrite=overwrite).run()
