"""The segment/resume loop, written once for every engine.

A run resolves its inputs, cuts the stages into segments at every global stage
(``pipeline.run.plan``), claims the output dir (``WorkDir``: lock, markers, input set)
and then, segment by segment: skips the parts marked done by an earlier run, runs the
segment's global phase when some part still needs it, and has the engine run the rest
of the parts. An engine only knows how to do those two things:

* ``run_global(segment, spill_paths, work)``: the global stage's phase over every
  part's intermediate, on this engine;
* ``run_parts(segment, last, todo, work)``: run the segment over the given parts and
  yield ``(part index, marker)`` as each part's outputs and marker are complete.

The local engine runs parts one after another in this process; the Ray engine runs
them as one Ray Data plan. Both write the same files, so ``finish_run`` is shared too.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

from pipeline.config import PipelineConfig
from pipeline.io.readers import resolve_inputs
from pipeline.io.writers import FileEntry
from pipeline.manifest import write_manifest, write_stats
from pipeline.run.plan import RunError, Segment, WorkDir, part_name, split_segments, unique_stage_names
from pipeline.stats import RunStats

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


@dataclass(frozen=True)
class PartTodo:
    """One part to run in a segment: its index, name, input file and the file it reads
    (the input itself in segment 0, else the part's spill from the segment before)."""

    index: int
    part: str
    input_path: str
    source: str | None


class Engine(Protocol):
    name: str

    def open(self, segments: list[Segment], work: WorkDir) -> None: ...

    def run_global(self, segment: Segment, spill_paths: list[str], work: WorkDir) -> None: ...

    def run_parts(self, segment: Segment, last: bool, todo: list[PartTodo], work: WorkDir) -> Iterator[tuple[int, dict]]: ...

    def close(self) -> None: ...


def run_pipeline(config: PipelineConfig, engine: Engine, *, progress: Progress | None = stderr_progress,
                 overwrite: bool = False) -> RunResult:
    """Run ``config`` on ``engine`` and write its outputs; resumes a killed run in the same dir."""
    start = time.perf_counter()
    say = progress or (lambda message: None)
    inputs = resolve_inputs(config.input.paths)
    if not inputs:
        raise RunError(f"no input files under {config.input.paths}")
    names = unique_stage_names(config)
    segments = split_segments(config.build_stages(), names)
    work = WorkDir.open(config, inputs, overwrite=overwrite, notice=say)
    ok = False
    try:
        engine.open(segments, work)
        try:
            markers = _run_segments(segments, inputs, work, engine, say)
        finally:
            engine.close()
        result = finish_run(config, markers, work, time.perf_counter() - start, names, engine.name)
        ok = True
        return result
    finally:
        work.close(ok)


def _run_segments(segments: list[Segment], inputs: list[str], work: WorkDir, engine: Engine,
                  say: Progress) -> list[dict]:
    parts = [part_name(p) for p in inputs]
    spills: list[str | None] = [None] * len(inputs)
    markers: list[dict] = []
    for segment in segments:
        last = segment.index == len(segments) - 1
        todo: list[PartTodo] = []
        for i, part in enumerate(parts):
            marker = work.done(segment.index, part)
            if marker is None:
                source = inputs[i] if segment.index == 0 else spills[i]
                todo.append(PartTodo(i, part, inputs[i], source))
                continue
            if segment.index == 0:
                say(f"[{i + 1}/{len(inputs)}] {inputs[i]}: done in an earlier run, skipped")
            spills[i] = marker.get("spill")
            markers.append(marker)
        if not todo:
            continue
        if segment.global_stage is not None:
            engine.run_global(segment, [s for s in spills if s], work)
        for i, marker in engine.run_parts(segment, last, todo, work):
            say(progress_line(segment, i, len(inputs), inputs[i], marker))
            spills[i] = marker.get("spill")
            markers.append(marker)
    return markers


def progress_line(segment: Segment, i: int, n: int, path: str, marker: dict) -> str:
    """One line per finished part, the same for both engines. A later segment counts only
    what its own stages dropped: rows dropped before the global stage pass through it
    (to reach rejects/) and are not its doing."""
    s = marker["stats"]
    seconds = sum(st["seconds"] for st in s["stages"])
    head = f"[{'read' if segment.index == 0 else segment.names[0]} {i + 1}/{n}] {path}:"
    if segment.index == 0:
        head += f" {s['records_in']} records, {s['errored']} errors,"
    if marker.get("spill") is not None or (segment.index == 0 and not s["kept"] and not s["rejected"]):
        active = s["stages"][-1]["kept"] if s["stages"] else 0
        return f"{head} {active} rows on to the next global stage ({seconds:.1f} s)"
    if segment.index == 0:
        return f"{head} {s['kept']} kept, {s['rejected']} rejected ({seconds:.1f} s)"
    own = {st["stage"] for st in s["stages"]} & set(segment.names)
    dropped_here = sum(sum(st["dropped_by_reason"].values()) for st in s["stages"] if st["stage"] in own)
    return (f"{head} {s['kept']} kept, {dropped_here} dropped by {', '.join(segment.names)}, "
            f"{s['rejected']} rejected in all ({seconds:.1f} s)")


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
    write_stats(work.out_fs, work.out_dir, total, config, engine=engine)
    write_manifest(work.out_fs, work.out_dir, files, config)
    rate = total.errored / total.records_in if total.records_in else 0.0
    return RunResult(config.output.dir, total, files, rate, rate <= config.run.max_error_rate)
