"""One stage on Ray Data: a callable class for ``map_batches`` that builds the stage once.

Only a small spec crosses the wire: the stage's module, class name and config dict
(its dataclass fields, read from the driver's instance), plus what a global stage's
optional ``runtime_params()`` returns after ``run_global`` (e.g. where dedup left its
marks): runtime state travels explicitly, never as a user-facing config field. The
actor builds the stage, calls ``setup()`` once (models load once per actor) and then
runs ``__call__`` on pyarrow batches.

Runner-internal columns (names starting with ``__``: the part, chunk and row a row came
from) are taken off before the stage sees the batch and put back after, so a stage sees
exactly what the local runner gives it, and the batch leaves with exactly the columns
it came with plus what the stage added: no stats ride in the rows. The stage's funnel
for the batch (rows in, kept, dropped by reason, seconds) is cut into one funnel per run
of rows of one chunk (``pipeline.run.ray.internal.runs``) and written beside the data,
to the part's staging dir under a name fixed by (stage, part, chunk, first row) of the
batch's first run (``pipeline.run.ray.sink.write_stage_stats``), before the batch is
returned. A retried task or restarted actor processes the same block, so it rewrites
the same files, and the finalizer checks that each stage's runs cover every row of the
part exactly once.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from typing import Any

import pyarrow as pa

from pipeline.run.ray.internal import PART, Run, runs, split_internal
from pipeline.run.ray.sink import write_stage_stats, write_staged
from pipeline.stage import bind_input
from pipeline.stats import StageStats, newly_dropped, timed_stage


def stage_spec(stage: object, stat_name: str, index: int) -> dict[str, Any]:
    """The wire form of a built stage: where its class lives, its config fields and, for a
    stage whose global phase left runtime state on the driver's instance (dedup: where its
    marks are), the constructor keywords its optional ``runtime_params()`` returns."""
    cls = type(stage)
    params = {f.name: getattr(stage, f.name) for f in dataclasses.fields(stage) if f.init}
    runtime = getattr(stage, "runtime_params", None)
    if callable(runtime):
        params.update(runtime())
    return {"module": cls.__module__, "cls": cls.__qualname__, "params": params, "stat": stat_name, "index": index}


def build_from_spec(spec: dict[str, Any]) -> object:
    cls = getattr(importlib.import_module(spec["module"]), spec["cls"])
    return cls(**spec["params"])


def _bound_to_parts(stage: object, inputs: dict[str, str], parts: pa.ChunkedArray):
    """A callable that runs ``stage`` on each run of rows from one part after binding
    that part's input (``pipeline.stage.bind_input``); rows and order are kept."""
    def call(core: pa.Table) -> pa.Table:
        values = parts.to_pylist()
        outs, start = [], 0
        for end in range(1, len(values) + 1):
            if end == len(values) or values[end] != values[start]:
                bind_input(stage, inputs[values[start]])
                outs.append(stage(core.slice(start, end - start)))
                start = end
        return pa.concat_tables(outs, promote_options="permissive") if outs else stage(core)
    return call


def _per_run(name: str, whole: StageStats, before: pa.ChunkedArray, after: pa.ChunkedArray,
             batch_runs: list[Run]) -> list[tuple[Run, StageStats]]:
    """``whole`` (the batch's funnel) cut into one funnel per run: counts from the run's own
    rows, seconds shared by row count. The counts sum to ``whole``'s."""
    n = len(before)
    out = []
    for run in batch_runs:
        rows = run.end - run.start
        b, a = before.slice(run.start, rows), after.slice(run.start, rows)
        stats = StageStats(name, rows_in=b.null_count, kept=a.null_count, dropped=newly_dropped(b, a),
                           seconds=whole.seconds * rows / n)
        out.append((run, stats))
    return out


def run_stage_on_batch(stage: object, spec: dict[str, Any],
                       batch: pa.Table) -> tuple[pa.Table, list[tuple[Run, StageStats]]]:
    """The stage on ``batch`` with the internal columns carried, and the batch's funnel per
    run of one chunk (for ``write_stage_stats``). ``spec["inputs"]`` (part -> intermediate,
    for a global stage) binds each part's input first."""
    core, internal = split_internal(batch)
    stats = StageStats(spec["stat"])
    if spec.get("inputs") and PART in internal:
        out = timed_stage(stats, _bound_to_parts(stage, spec["inputs"], internal[PART]), core)
    else:
        out = timed_stage(stats, stage, core)
    for name, column in internal.items():
        out = out.append_column(name, column)
    if not out.num_rows:
        return out, []
    return out, _per_run(spec["stat"], stats, core["drop_reason"], out["drop_reason"], runs(internal))


def _finish(out: pa.Table, run_stats: list[tuple[Run, StageStats]], spec: dict[str, Any], fs, staging: str,
            write: bool) -> pa.Table:
    """Write the batch's stats; the last stage of a segment (``write``) also stages the rows
    themselves and returns only what it staged (``pipeline.run.ray.sink.write_staged``): the
    rows then never cross the object store to a separate write task."""
    write_stage_stats(fs, staging, spec["index"], run_stats)
    return write_staged(out, fs, staging) if write else out


class StageActor:
    """``map_batches(StageActor, fn_constructor_kwargs={"spec": ..., "fs": ..., "staging": ...,
    "write": ...}, compute=ActorPoolStrategy(...))``; ``fs`` and ``staging`` say where the stats
    (and, with ``write``, the staged rows) go."""

    def __init__(self, spec: dict[str, Any], fs, staging: str, write: bool = False):
        from pipeline.allocators import tune_gc

        tune_gc()  # the collector's settings are per process (see pipeline.allocators)
        self.spec, self.fs, self.staging, self.write = spec, fs, staging, write
        self.stage = build_from_spec(spec)
        self.stage.setup()

    def __call__(self, batch: pa.Table) -> pa.Table:
        out, run_stats = run_stage_on_batch(self.stage, self.spec, batch)
        return _finish(out, run_stats, self.spec, self.fs, self.staging, self.write)


_TASK_STAGES: dict[str, object] = {}


def stage_task(batch: pa.Table, spec: dict[str, Any], fs, staging: str, write: bool = False) -> pa.Table:
    """The same for ``TaskPoolStrategy``: the stage is built and set up once per worker process."""
    key = json.dumps([spec["module"], spec["cls"], spec["params"]], sort_keys=True, default=str)
    stage = _TASK_STAGES.get(key)
    if stage is None:
        stage = build_from_spec(spec)
        stage.setup()
        _TASK_STAGES[key] = stage
    out, run_stats = run_stage_on_batch(stage, spec, batch)
    return _finish(out, run_stats, spec, fs, staging, write)
