"""The local runner: streams every input file through the stages in one process.

No Ray import. Each input file is one *part*: read in bounded batches, passed
through the stages of the current segment, and written (training shards and rejects,
or a spill before a global stage). A part's marker is written only after its files
are complete and renamed, so a killed run is resumed by running it again.
"""

from __future__ import annotations

import time
from typing import Iterator

import pyarrow as pa

from pipeline.allocators import release_unused
from pipeline.config import ConfigError, PipelineConfig
from pipeline.io.part_reader import ReadTally, read_part, read_spill
from pipeline.io.part_sink import PartSink
from pipeline.run.loop import PartTodo, Progress, RunResult, run_pipeline, stderr_progress
from pipeline.run.plan import Segment, WorkDir
from pipeline.stage import GlobalContext, bind_input
from pipeline.stats import RunStats, timed_stage

__all__ = ["LocalEngine", "Progress", "RunResult", "run_local", "stderr_progress"]


def apply_stages(batch: pa.Table, segment: Segment, stats: RunStats) -> pa.Table:
    for stage, name in zip(segment.stages, segment.names):
        batch = timed_stage(stats.stage(name), stage, batch)
    return batch


class LocalEngine:
    """Runs each part in this process, one after another (no Ray import)."""

    name = "local"

    def __init__(self, config: PipelineConfig, progress: Progress | None = None):
        self.config = config
        self.progress = progress or (lambda message: None)

    def open(self, segments: list[Segment], work: WorkDir) -> None:
        for segment in segments:  # a global stage is set up after its global phase
            first = 1 if segment.global_stage is not None else 0
            for stage, name in zip(segment.stages[first:], segment.names[first:]):
                try:
                    stage.setup()
                except Exception as exc:  # a model or file the stage cannot load: the config's fault
                    raise ConfigError(f"setup failed: {type(exc).__name__}: {exc}", file=self.config.source_file,
                                      stage=name) from exc

    def close(self) -> None:
        pass

    def run_global(self, segment: Segment, spill_paths: list[str], work: WorkDir) -> None:
        name = segment.names[0]
        release_unused()  # the streaming phase's buffers, kept for reuse (pipeline.allocators)
        self.progress(f"[{name}] global phase over {len(spill_paths)} intermediate file(s)")
        t0 = time.perf_counter()
        context = GlobalContext(
            engine="local",
            work_dir=work.global_dir(segment.index, name),
            previous_outputs=tuple(self.config.run.previous_outputs),
            output_dir=work.out_uri,
        )
        segment.global_stage.run_global(spill_paths, context)
        segment.global_stage.setup()
        self.progress(f"[{name}] global phase done in {time.perf_counter() - t0:.1f} s")

    def run_parts(self, segment: Segment, last: bool, todo: list[PartTodo], work: WorkDir) -> Iterator[tuple[int, dict]]:
        for item in todo:
            yield item.index, self._run_part(segment, last, item, work)

    def _run_part(self, segment: Segment, last: bool, item: PartTodo, work: WorkDir) -> dict:
        config = self.config
        stats = RunStats()
        if segment.index == 0:
            stats.stage("read")
        for name in segment.names:
            stats.stage(name)
        if segment.global_stage is not None and item.source:
            bind_input(segment.global_stage, item.source)
        with PartSink(work, config.output, config.output.dir, segment.index, last, item.part) as sink:
            for batch in self._batches(segment, item, stats, sink):
                sink.write(apply_stages(batch, segment, stats), stats)
            files, spill_path = sink.close()
        stats.files = 1 if segment.index == 0 else 0
        return work.mark_done(segment.index, item.part, stats, files, spill_path)

    def _batches(self, segment: Segment, item: PartTodo, stats: RunStats, sink: PartSink) -> Iterator[pa.Table]:
        if segment.index > 0:
            yield from read_spill(item.source, self.config.input.batch_size)
            return
        tally = ReadTally(stats.stage("read"))
        yield from read_part(item.input_path, self.config.input, tally, sink.write_errors)
        stats.records_in += tally.records_in
        stats.errored += tally.errored


def run_local(config: PipelineConfig, *, progress: Progress | None = stderr_progress, overwrite: bool = False) -> RunResult:
    """Run ``config`` in this process and write its outputs (see ``pipeline.run.loop``)."""
    return run_pipeline(config, LocalEngine(config, progress), progress=progress, overwrite=overwrite)
