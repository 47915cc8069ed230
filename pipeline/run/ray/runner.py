"""The Ray runner: the local runner's plan, parts, markers and outputs, executed on Ray Data.

Per segment (the pipeline cut at every global stage, see ``pipeline.run.plan``) the
runner builds one Ray Data plan over the parts not yet marked done::

    read_datasource(PartsDatasource)            one read task per input file (or spill)
      -> map_batches(StageActor, compute=ActorPoolStrategy)   one actor pool per stage
      -> map_batches(write_staged)              tasks: idempotent staged pieces

and, while it streams, finalizes every part whose pieces are all staged: a Ray task
replays them through the local runner's writers and writes the part's marker (see
``pipeline.run.ray.sink``). A global stage's ``run_global`` runs in the driver between
segments with Ray up and ``GlobalContext(engine="ray")``: the place for all-to-all
phases (``ray.data`` groupby/shuffle over the spill files).

Configuration (``run.ray`` in YAML once the config section exists, or ``ray_options=``):

    run:
      ray:
        read_cpus: 0.25       # CPUs per read task (WARC extraction is CPU work too)
        write_cpus: 0.1       # CPUs per staged-write and finalize task
        num_cpus: null        # size of a local Ray this run starts; default: the machine
        max_attempts: 3       # rounds for parts whose staging came out incomplete
        stages:               # per stage (by name, or name#2 for a second use)
          langid: {num_cpus: 1.0, memory_mb: 1500, min_actors: 1, max_actors: 8}
          normalize: {compute: tasks}

A stage's default CPUs per actor and pool size keep every pool startable and leave a
read and a write task's worth of CPU free on some node whatever Ray's placement
(``pipeline.run.ray.cluster``): an actor pool that takes every CPU stalls Ray Data silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.io import fsutil
from pipeline.config import ConfigError, PipelineConfig, build_dataclass
from pipeline.run.local import Progress, RunResult, finish_run, progress_line, stderr_progress
from pipeline.io.readers import resolve_inputs
from pipeline.run.ray.cluster import RayHandle, connect, cpu_nodes, max_actors, stage_cpus, task_reserve
from pipeline.run.ray.sink import IncompleteStaging, clear_part, finalize_part, read_info, staging_root
from pipeline.run.plan import RunError, Segment, WorkDir, part_name, split_segments, unique_stage_names
from pipeline.stage import GlobalContext


@dataclass
class RayStageOptions:
    """Resources of one stage on Ray."""

    num_cpus: float | None = None  # per actor (or task); default: see ray_cluster.stage_cpus
    memory_mb: float | None = None  # per actor, for Ray's scheduler (a model's resident size)
    min_actors: int = 1
    max_actors: int | None = None  # default: as many as the CPU budget holds
    compute: Literal["actors", "tasks"] = "actors"  # tasks: no warm state worth an actor


@dataclass
class RayOptions:
    read_cpus: float = 0.25
    write_cpus: float = 0.1
    num_cpus: int | None = None
    max_attempts: int = 3
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_stage(self, name: str) -> RayStageOptions:
        base = name.split("#", 1)[0]
        return build_dataclass(RayStageOptions, self.stages.get(name, self.stages.get(base)), stage=f"ray.stages.{name}")


def ray_options(config: PipelineConfig, override: dict[str, Any] | None = None) -> RayOptions:
    """``run.ray`` of the config (when RunConfig has it), updated by ``override``; validated
    (a ConfigError naming the file and key), so load_config can call it before any work."""
    raw = dict(getattr(config.run, "ray", None) or {})
    raw.update(override or {})
    opts = build_dataclass(RayOptions, raw, file=config.source_file, stage="run.ray")
    names = set(unique_stage_names(config)) | {s.name for s in config.stages}
    for name in opts.stages:
        if name not in names:
            raise ConfigError(f"not a stage of this config; stages: {', '.join(sorted(names))}",
                              file=config.source_file, stage="run.ray", key=f"stages.{name}")
        build_dataclass(RayStageOptions, opts.stages[name], file=config.source_file, stage=f"run.ray.stages.{name}")
    return opts


class RayRunner:
    def __init__(self, config: PipelineConfig, *, progress: Progress | None = stderr_progress,
                 overwrite: bool = False, options: dict[str, Any] | None = None):
        self.config = config
        self.progress = progress or (lambda message: None)
        self.overwrite = overwrite
        self.options = ray_options(config, options)

    def run(self) -> RunResult:
        start = time.perf_counter()
        config = self.config
        inputs = resolve_inputs(config.input.paths)
        if not inputs:
            raise RunError(f"no input files under {config.input.paths}")
        names = unique_stage_names(config)
        segments = split_segments(config.build_stages(), names)
        work = WorkDir.open(config, inputs, overwrite=self.overwrite)
        handle = connect(config.run.ray_address, num_cpus=self.options.num_cpus or config.run.num_workers)
        self.progress(f"ray: {handle.cpus:g} CPUs ({'joined ' + handle.address if handle.address else 'local'})")
        try:
            parts = [part_name(p) for p in inputs]
            spills: list[str | None] = [None] * len(inputs)
            markers: list[dict] = []
            for segment in segments:
                if segment.global_stage is not None:
                    self._run_global(segment, [s for s in spills if s], work, handle)
                todo = []
                for i, part in enumerate(parts):
                    marker = work.done(segment.index, part)
                    if marker is None:
                        todo.append(i)
                        continue
                    if segment.index == 0:
                        self.progress(f"[{i + 1}/{len(inputs)}] {inputs[i]}: done in an earlier run, skipped")
                    spills[i] = marker.get("spill")
                    markers.append(marker)
                if todo:
                    sources = {i: inputs[i] if segment.index == 0 else (spills[i] or "") for i in todo}
                    done = self._run_segment(segment, len(segments), work, handle, parts, sources, inputs)
                    for i, marker in done.items():
                        spills[i] = marker.get("spill")
                        markers.append(marker)
            return finish_run(self.config, markers, work, time.perf_counter() - start, names, "ray")
        finally:
            handle.close()

    def _run_global(self, segment: Segment, spill_paths: list[str], work: WorkDir, handle: RayHandle) -> None:
        name = segment.names[0]
        self.progress(f"[{name}] global phase on Ray over {len(spill_paths)} intermediate file(s)")
        t0 = time.perf_counter()
        so = self.options.for_stage(name)
        context = GlobalContext(
            engine="ray",
            work_dir=Path(work.global_dir(segment.index, name)),
            num_workers=max(1, int(handle.cpus)),
            ray_options={k: v for k, v in {"num_cpus": so.num_cpus, "memory": so.memory_mb and so.memory_mb * 2**20,
                                            "read_cpus": self.options.read_cpus}.items() if v},
            previous_outputs=tuple(Path(p) for p in self.config.run.previous_outputs),
            output_dir=Path(work.out_dir),
        )
        segment.global_stage.run_global(spill_paths, context)
        self.progress(f"[{name}] global phase done in {time.perf_counter() - t0:.1f} s")

    def _plan(self, segment: Segment, work: WorkDir, handle: RayHandle, items: list):
        import ray.data
        from ray.data import ActorPoolStrategy, TaskPoolStrategy

        from pipeline.run.ray.source import PartsDatasource
        from pipeline.run.ray.stage_actor import StageActor, stage_spec, stage_task
        from pipeline.run.ray.sink import write_staged

        opts = self.options
        staging = staging_root(work, segment.index)
        ds = ray.data.read_datasource(
            PartsDatasource(items, segment.index, self.config.input, work.fs, staging),
            override_num_blocks=len(items),
            num_cpus=opts.read_cpus,
        )
        reserve = task_reserve(cpu_nodes(), opts.read_cpus, opts.write_cpus)
        n_stages = len(segment.stages)
        for k, (stage, name) in enumerate(zip(segment.stages, segment.names)):
            so = opts.for_stage(name)
            cpus = so.num_cpus or stage_cpus(handle.cpus, n_stages, reserve)
            remote: dict[str, Any] = {"num_cpus": cpus}
            if so.memory_mb:
                remote["memory"] = int(so.memory_mb * 2**20)
            spec = stage_spec(stage, name, k)
            if k == 0 and segment.global_stage is not None:
                spec["inputs"] = {item.part: item.path for item in items}
            common = dict(batch_format="pyarrow", batch_size=None, zero_copy_batch=True, **remote)
            pool = so.max_actors or max_actors(handle.cpus, reserve, cpus, n_stages)
            if so.compute == "tasks":
                ds = ds.map_batches(stage_task, fn_kwargs={"spec": spec}, compute=TaskPoolStrategy(size=pool),
                                    **common)
            else:
                ds = ds.map_batches(StageActor, fn_constructor_kwargs={"spec": spec},
                                    compute=ActorPoolStrategy(min_size=min(so.min_actors, pool), max_size=pool),
                                    **common)
        return ds.map_batches(write_staged, fn_kwargs={"fs": work.fs, "staging": staging}, batch_format="pyarrow",
                              batch_size=None, num_cpus=opts.write_cpus)

    def _run_segment(self, segment: Segment, n_segments: int, work: WorkDir, handle: RayHandle, parts: list[str],
                     sources: dict[int, str], inputs: list[str]) -> dict[int, dict]:
        """Run the segment's plan over ``sources`` (part index -> file); markers by part index."""
        import ray
        from ray.data import DataContext

        from pipeline.run.ray.source import PartInput

        DataContext.get_current().enable_progress_bars = False
        last = segment.index == n_segments - 1
        staging = staging_root(work, segment.index)
        finalize = ray.remote(finalize_part).options(num_cpus=self.options.write_cpus, max_retries=5)
        by_part = {parts[i]: i for i in sources}
        remaining = dict(sources)
        done: dict[int, dict] = {}
        for attempt in range(1, self.options.max_attempts + 1):
            for i in remaining:
                clear_part(work.fs, staging, parts[i])
            items = [PartInput(parts[i], src, _size(src)) for i, src in sorted(remaining.items())]
            pending: dict[str, object] = {}
            staged: dict[str, set] = {p.part: set() for p in items}

            def submit(part: str) -> None:
                pending[part] = finalize.remote(work, segment.index, last, part, segment.names,
                                                self.config.output, self.config.output.dir)

            for batch in self._plan(segment, work, handle, items).iter_batches(batch_format="pyarrow",
                                                                                 batch_size=None):
                for row in batch.to_pylist():
                    staged[row["part"]].add((row["chunk"], row["row0"], row["rows"]))
                for part in {p for p in batch["part"].to_pylist() if p not in pending}:
                    info = read_info(work.fs, staging, part)
                    if info is not None and sum(r for _, _, r in staged[part]) >= sum(info["chunks"]):
                        submit(part)
            for item in items:
                if item.part not in pending:
                    submit(item.part)
            failed = []
            for part, ref in pending.items():
                i = by_part[part]
                try:
                    done[i] = ray.get(ref)
                except IncompleteStaging as exc:
                    failed.append(str(exc))
                    continue
                remaining.pop(i)
                self.progress(progress_line(segment, i, len(inputs), inputs[i], done[i]))
            if not remaining:
                return done
            self.progress(f"attempt {attempt}: {len(remaining)} part(s) incomplete, running them again: "
                          f"{'; '.join(failed)[:500]}")
        raise RunError(f"{len(remaining)} part(s) still incomplete after {self.options.max_attempts} attempts")


def _size(path: str) -> int | None:
    if not path:
        return 0
    try:
        fs, inner = fsutil.filesystem_for(path)
        return fsutil.file_size(fs, inner)
    except OSError:
        return None


def run_ray(config: PipelineConfig, *, progress: Progress | None = stderr_progress, overwrite: bool = False,
            ray_options: dict[str, Any] | None = None) -> RunResult:
    """Run ``config`` on Ray Data (joining ``config.run.ray_address`` if set) and write its outputs."""
    return RayRunner(config, progress=progress, overwrite=overwrite, options=ray_options).run()
