"""Stats beside the data on Ray: no ``__stats`` column anywhere, and a retried batch counts once.

Each stage worker writes its batch's funnel, per run of one chunk's rows, to the part's
staging dir under a name fixed by (stage, part, chunk, first row) of the batch's first run;
the finalizer checks that every stage's runs cover every row exactly once. These tests retry batches by hand (the same
cut, a different cut, a missing file), run every batch of a real Ray plan three times
over the same staging dir, and check the result against the local engine's funnel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import registry
from pipeline.run.local import run_local
from pipeline.run.ray.internal import CHUNK, PART, ROW
from pipeline.stats import RunStats, StageStats, timed_stage
from tests.pipeline.run.ray import test_runner as base  # a module object: its tests are not collected here
from tests.pipeline.stages_for_tests import TEST_STAGES, MinLengthStage

INTERNAL = {PART, CHUNK, ROW}
OLD_STATS_KEY = b"taosha.stats"  # where staged pieces carried stats before they moved beside the data


@pytest.fixture(autouse=True)
def test_stages(monkeypatch):
    monkeypatch.setattr(registry, "_STAGES", {**registry._STAGES, **TEST_STAGES})


def funnel(stages: list[dict]) -> list[tuple]:
    return [(s["stage"], s["rows_in"], s["kept"], s["dropped"], s["dropped_by_reason"]) for s in stages]


def stats_files(staging: str, part: str = "*") -> list[str]:
    return sorted(p.name for p in Path(staging).glob(f"{part}/s*.json"))


def test_stats_files_count_each_row_once_per_stage(tmp_path):
    """One batch holding two chunks (as a Ray block can), retried with the same cut and with
    a different one: each row's funnel is counted once per stage, or the part re-runs."""
    from pipeline.run.ray.sink import IncompleteStaging, finalize_part, write_stage_stats, write_staged
    from pipeline.run.ray.stage_actor import build_from_spec, run_stage_on_batch, stage_spec

    cfg, work, staging, chunks = base._staged_part(tmp_path)
    lengths = sorted(len(t) for c in chunks for t in c["text"].to_pylist())
    specs = [stage_spec(MinLengthStage(min_chars=lengths[4]), "min_length", 0),
             stage_spec(MinLengthStage(min_chars=lengths[9]), "min_length#2", 1)]
    stages = [build_from_spec(s) for s in specs]

    def finalize():
        return finalize_part(work, 0, True, "p", ["min_length", "min_length#2"], cfg.output, cfg.output.dir)

    # what the local engine counts: each stage over each chunk, in order
    want = {name: StageStats(name) for name in ("min_length", "min_length#2")}
    for c in chunks:
        core = c.drop_columns(list(INTERNAL))
        for stage, name in zip(stages, want):
            core = timed_stage(want[name], stage, core)

    batch = pa.concat_tables(chunks)  # chunks 0 and 1 in one block
    out0, stats0 = run_stage_on_batch(stages[0], specs[0], batch)
    assert sorted(out0.column_names) == sorted([*batch.column_names, "n_chars"])  # the stage's column, no stats
    assert [(r.part, r.chunk, r.row0, r.end - r.start) for r, _ in stats0] == [("p", 0, 0, 10), ("p", 1, 0, 6)]
    assert sum(s.rows_in for _, s in stats0) == 16
    out1, stats1 = run_stage_on_batch(stages[1], specs[1], out0)
    assert not [n for n in out1.column_names if n.startswith("__stats")]
    write_staged(out1, work.fs, staging)
    write_stage_stats(work.fs, staging, 0, stats0)
    with pytest.raises(IncompleteStaging, match=r"stats of min_length#2: chunk 0 has 0 of 10"):
        finalize()  # every piece staged, but stage 1's worker died before its stats were written

    write_stage_stats(work.fs, staging, 1, stats1)
    write_stage_stats(work.fs, staging, 1, stats1)  # a retried batch: the same names, not new files
    write_stage_stats(work.fs, staging, 0, stats0)
    # one file per stage for the batch, named by its first run, listing both chunks' runs
    assert stats_files(staging) == ["s000-c000000-r0000000.json", "s001-c000000-r0000000.json"]

    # a retry that cut chunk 0 differently (rows 4-9 on their own) overlaps: the part re-runs
    _, late = run_stage_on_batch(stages[1], specs[1], out0.slice(4, 6))
    write_stage_stats(work.fs, staging, 1, late)
    with pytest.raises(IncompleteStaging, match=r"stats of min_length#2: chunk 0 has a gap or overlap"):
        finalize()
    (Path(staging) / "p" / "s001-c000000-r0000004.json").unlink()

    marker = finalize()
    got = {s["stage"]: s for s in marker["stats"]["stages"]}
    assert funnel([got[n] for n in want]) == funnel([s.to_dict() for s in want.values()])
    assert marker["stats"]["rejected"] == sum(sum(s.dropped.values()) for s in want.values())
    assert marker["stats"]["kept"] == want["min_length#2"].kept


@pytest.mark.slow
def test_every_batch_run_three_times_counts_once_and_no_block_carries_stats(ray_local, tmp_path):
    """A real Ray plan (an actor-pool stage and a task stage) executed three times over the
    same staging dir, as if every batch were retried: the blocks carry only the stage
    columns and the row's provenance, the stats files are the same names each time, and
    the finalized funnel equals the local engine's."""
    from pipeline.run.plan import WorkDir, part_name, split_segments, unique_stage_names
    from pipeline.run.ray.runner import RayEngine
    from pipeline.run.ray.sink import finalize_part, staging_root
    from pipeline.run.ray.source import PartInput

    inputs = base.make_inputs(tmp_path, files=2, rows=40)
    stages = [{"min_length": {"min_chars": 200}}, {"min_length": {"min_chars": 260}}]
    run_local(base.config_for(inputs, tmp_path / "local", stages), progress=None)
    want = json.loads((tmp_path / "local" / "stats.json").read_text())

    cfg = base.config_for(inputs, tmp_path / "ray", stages)
    names = unique_stage_names(cfg)
    segments = split_segments(cfg.build_stages(), names)
    work = WorkDir.open(cfg, inputs)
    engine = RayEngine(cfg, progress=None, options={"stages": {"min_length#2": {"compute": "tasks"}}})
    engine.open(segments, work)
    try:
        items = [PartInput(part_name(p), p, None) for p in inputs]
        staging = staging_root(work, 0)
        blocks = 0
        for batch in engine._stages_plan(segments[0], work, items).iter_batches(batch_format="pyarrow",
                                                                                 batch_size=None):
            blocks += 1
            internal = {n for n in batch.column_names if n.startswith("__")}
            assert internal == INTERNAL, batch.column_names  # provenance only: no __stats_* column
            assert OLD_STATS_KEY not in (batch.schema.metadata or {})
        assert blocks
        first = stats_files(staging)
        assert first and all(n.startswith(("s000-", "s001-")) for n in first)
        for _ in range(2):  # the whole plan again, staged writes included
            written = engine._plan(segments[0], work, items).take_all()
            assert sum(r["rows"] for r in written) == 80
            assert stats_files(staging) == first
        for piece in Path(staging).glob("*/c*.parquet"):
            schema = pq.read_schema(piece)
            assert not INTERNAL & set(schema.names) and OLD_STATS_KEY not in (schema.metadata or {})
        total = RunStats()
        for item in items:
            marker = finalize_part(work, 0, True, item.part, segments[0].names, cfg.output, cfg.output.dir)
            total.merge(RunStats.from_dict(marker["stats"]))
    finally:
        engine.close()
        work.close(True)
    got = total.to_dict()
    assert funnel(got["stages"]) == funnel(want["stages"])
    assert {k: got[k] for k in ("records_in", "kept", "rejected", "errored")} == \
        {k: want[k] for k in ("records_in", "kept", "rejected", "errored")}
