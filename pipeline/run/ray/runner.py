"""The Ray runner: the local runner's plan, parts, markers and outputs, executed on Ray Data.

Per segment (the pipeline cut at every global stage, see ``pipeline.run.plan``) the
runner builds one Ray Data plan over the parts not yet marked done::

    read_datasource(PartsDatasource)            one read task per input file (or spill)
      -> map_batches(StageActor, compute=ActorPoolStrategy)   one actor pool per stage;
                                                each also writes its stats files beside the data,
                                                and the last stage's actors write the rows as
                                                idempotent staged pieces (``write_staged``)

and, while it streams, finalizes every part whose pieces are all staged: a Ray task
checks the part's pieces and every stage's stats files cover its rows exactly once,
replays the pieces through the local runner's writers, sums the stats and writes the
part's marker (see ``pipeline.run.ray.sink``). Stats never ride in the rows: the only
internal columns are the rows' provenance (``pipeline.run.ray.internal``). A global
stage's ``run_global`` runs in the driver between segments with Ray up and
``GlobalContext(engine="ray")``: the place for all-to-all phases (``ray.data``
groupby/shuffle over the spill files).

Configuration (``run.ray`` in YAML, validated at load as ``pipeline.config.RayOptions``; or ``ray_options=``):

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

import dataclasses
import time
from typing import Any, Iterator

from pipeline.io import fsutil
from pipeline.config import PipelineConfig, RayOptions, build_dataclass
from pipeline.run.loop import PartTodo, Progress, RunResult, run_pipeline, stderr_progress
from pipeline.run.ray.cluster import RayHandle, connect, cpu_nodes, max_actors, stage_cpus, task_reserve
from pipeline.run.ray.sink import IncompleteStaging, clear_part, finalize_part, read_info, staging_root
from pipeline.run.plan import RunError, Segment, WorkDir
from pipeline.stage import GlobalContext


def ray_options(config: PipelineConfig, override: dict[str, Any] | None = None) -> RayOptions:
    """``run.ray`` of the config (validated at load), updated by ``override`` (validated here)."""
    if not override:
        return config.run.ray
    raw = dataclasses.asdict(config.run.ray)
    raw.update(override)
    return build_dataclass(RayOptions, raw, file=config.source_file, stage="run.ray")


class RayEngine:
    """Runs each segment's parts as one Ray Data plan; the global phase in the driver with Ray up."""

    name = "ray"

    def __init__(self, config: PipelineConfig, *, progress: Progress | None = None,
                 options: dict[str, Any] | None = None):
        self.config = config
        self.progress = progress or (lambda message: None)
        self.options = ray_options(config, options)
        self.handle: RayHandle | None = None
        self.n_segments = 0

    def open(self, segments: list[Segment], work: WorkDir) -> None:
        self.n_segments = len(segments)
        self.handle = connect(self.config.run.ray_address, num_cpus=self.options.num_cpus or self.config.run.num_workers)
        h = self.handle
        self.progress(f"ray: {h.cpus:g} CPUs ({'joined ' + h.address if h.address else 'local'})")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def run_global(self, segment: Segment, spill_paths: list[str], work: WorkDir) -> None:
        name = segment.names[0]
        self.progress(f"[{name}] global phase on Ray over {len(spill_paths)} intermediate file(s)")
        t0 = time.perf_counter()
        so = self.options.for_stage(name)
        context = GlobalContext(
            engine="ray",
            work_dir=work.global_dir(segment.index, name),
            num_workers=max(1, int(self.handle.cpus)),
            ray_options={k: v for k, v in {"num_cpus": so.num_cpus, "memory": so.memory_mb and so.memory_mb * 2**20,
                                            "read_cpus": self.options.read_cpus}.items() if v},
            previous_outputs=tuple(self.config.run.previous_outputs),
            output_dir=work.out_uri,
        )
        segment.global_stage.run_global(spill_paths, context)
        self.progress(f"[{name}] global phase done in {time.perf_counter() - t0:.1f} s")

    def _plan(self, segment: Segment, work: WorkDir, items: list):
        """Read, every stage, and the staged write (whose output says what was staged): done by
        the last stage's workers, or by a write task in a segment without stages."""
        ds = self._stages_plan(segment, work, items, write=True)
        if segment.stages:
            return ds
        from pipeline.run.ray.sink import write_staged

        return ds.map_batches(
            write_staged, fn_kwargs={"fs": work.fs, "staging": staging_root(work, segment.index)},
            batch_format="pyarrow", batch_size=None, num_cpus=self.options.write_cpus)

    def _stages_plan(self, segment: Segment, work: WorkDir, items: list, write: bool = False):
        """Read and every stage of ``segment``: the rows as the write step gets them, or with
        ``write`` what the last stage's workers staged."""
        handle = self.handle
        import ray.data
        from ray.data import ActorPoolStrategy, TaskPoolStrategy

        from pipeline.run.ray.source import PartsDatasource
        from pipeline.run.ray.stage_actor import StageActor, stage_spec, stage_task

        opts = self.options
        staging = staging_root(work, segment.index)
        ds = ray.data.read_datasource(
            PartsDatasource(items, segment.index, self.config.input, work.fs, staging),
            override_num_blocks=len(items),
            num_cpus=opts.read_cpus,
        )
        reserve = task_reserve(cpu_nodes(), opts.read_cpus, opts.write_cpus)
        n_stages = len(segment.stages)
        side = {"fs": work.fs, "staging": staging}  # where each stage writes its stats, beside the data
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
            sink = {**side, "write": write and k == n_stages - 1}
            pool = so.max_actors or max_actors(handle.cpus, reserve, cpus, n_stages)
            if so.compute == "tasks":
                ds = ds.map_batches(stage_task, fn_kwargs={"spec": spec, **sink}, compute=TaskPoolStrategy(size=pool),
                                    **common)
            else:
                ds = ds.map_batches(StageActor, fn_constructor_kwargs={"spec": spec, **sink},
                                    compute=ActorPoolStrategy(min_size=min(so.min_actors, pool), max_size=pool),
                                    **common)
        return ds

    def run_parts(self, segment: Segment, last: bool, todo: list[PartTodo], work: WorkDir) -> Iterator[tuple[int, dict]]:
        """Run the segment's plan over ``todo``; yields (part index, marker) as parts finish, and
        runs parts whose staging came out incomplete again, up to ``max_attempts`` rounds."""
        import ray
        from ray.data import DataContext

        from pipeline.run.ray.source import PartInput

        DataContext.get_current().enable_progress_bars = False
        staging = staging_root(work, segment.index)
        finalize = ray.remote(finalize_part).options(num_cpus=self.options.write_cpus, max_retries=5)
        by_part = {item.part: item for item in todo}
        remaining = {item.part: item for item in todo}
        for attempt in range(1, self.options.max_attempts + 1):
            for part in remaining:
                clear_part(work.fs, staging, part)
            items = [PartInput(t.part, t.source or "", _size(t.source or "")) for t in
                     sorted(remaining.values(), key=lambda t: t.index)]
            pending: dict[str, object] = {}
            staged: dict[str, set] = {p.part: set() for p in items}

            def submit(part: str) -> None:
                pending[part] = finalize.remote(work, segment.index, last, part, segment.names,
                                                self.config.output, self.config.output.dir)

            for batch in self._plan(segment, work, items).iter_batches(batch_format="pyarrow", batch_size=None):
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
                try:
                    marker = ray.get(ref)
                except IncompleteStaging as exc:
                    failed.append(str(exc))
                    continue
                remaining.pop(part)
                yield by_part[part].index, marker
            if not remaining:
                return
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
    engine = RayEngine(config, progress=progress, options=ray_options)
    return run_pipeline(config, engine, progress=progress, overwrite=overwrite)
