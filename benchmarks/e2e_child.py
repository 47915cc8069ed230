#!/usr/bin/env python3
"""One taosha run for ``benchmarks/e2e.py``, in its own process, with CPU seconds per stage.

    python benchmarks/e2e_child.py SPEC.json RESULT.json

SPEC is ``{"config": <config dict for pipeline.config.load_config>}``. The run is the
ordinary local engine (``pipeline.run.local.run_local``); only the accounting is added,
from outside the engine: ``apply_stages`` and ``LocalEngine.run_global`` /
``LocalEngine.open`` are wrapped so that each stage call, the global phase and stage set-up
are charged the process CPU time (``time.process_time``: every thread of this process,
so polars' and numba's pools are counted) that passed during them. The stats.json
per-stage ``seconds`` are wall-clock seconds, which on a shared machine include waiting for
a core; the CPU figures here do not. What is not in any stage (reading and parsing the
input, writing Parquet, spills, the runner's own work) is reported as ``read/write/run``;
what happens before the run starts (interpreter start and imports) as ``startup``, measured
from the process's start.

RESULT gets the per-stage CPU and wall seconds, the run's stats (stats.json) and timings;
the parent (``e2e.py``) measures the whole process (CPU, peak RSS) with ``wait4``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    out_path = Path(sys.argv[2])
    cpu_startup_begin = _cpu()

    from pipeline.allocators import configure, freeze_for_exit

    configure()  # what `taosha run` does first (pipeline/cli.py)
    import pipeline.run.local as local
    from pipeline.config import load_config
    from pipeline.stats import timed_stage

    stage_cpu: dict[str, float] = defaultdict(float)
    stage_wall: dict[str, float] = defaultdict(float)

    def apply_stages(batch, segment, stats):
        for stage, name in zip(segment.stages, segment.names):
            c0, w0 = time.process_time(), time.perf_counter()
            batch = timed_stage(stats.stage(name), stage, batch)
            stage_cpu[name] += time.process_time() - c0
            stage_wall[name] += time.perf_counter() - w0
        return batch

    local.apply_stages = apply_stages
    engine_open, engine_global = local.LocalEngine.open, local.LocalEngine.run_global

    def timed_open(self, segments, work):
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            return engine_open(self, segments, work)
        finally:
            stage_cpu["(setup)"] += time.process_time() - c0
            stage_wall["(setup)"] += time.perf_counter() - w0

    def timed_global(self, segment, spill_paths, work):
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            return engine_global(self, segment, spill_paths, work)
        finally:
            key = f"{segment.names[0]} (global phase)"
            stage_cpu[key] += time.process_time() - c0
            stage_wall[key] += time.perf_counter() - w0

    local.LocalEngine.open, local.LocalEngine.run_global = timed_open, timed_global

    config = load_config(data=spec["config"])
    startup_cpu = _cpu()  # interpreter start + imports (this process's CPU so far)
    c0, w0 = time.process_time(), time.perf_counter()
    result = local.run_local(config, progress=None, overwrite=True)
    run_cpu, run_wall = time.process_time() - c0, time.perf_counter() - w0
    stats = json.loads((Path(config.output.dir) / "stats.json").read_text())
    accounted = sum(stage_cpu.values())
    out = {
        "startup_cpu_s": startup_cpu,
        "startup_cpu_before_main_s": cpu_startup_begin,
        "run_cpu_s": run_cpu,
        "run_wall_s": run_wall,
        "stage_cpu_s": dict(stage_cpu),
        "stage_wall_s": dict(stage_wall),
        "other_cpu_s": run_cpu - accounted,
        "records_in": result.stats.records_in,
        "kept": result.stats.kept,
        "rejected": result.stats.rejected,
        "errored": result.stats.errored,
        "stats": stats,
    }
    out_path.write_text(json.dumps(out, indent=1))
    freeze_for_exit()  # what `taosha run` does last (pipeline/cli.py: entry)


if __name__ == "__main__":
    main()
