"""The local runner: accounting, outputs, global stages, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipeline import registry
from pipeline.config import load_config
from pipeline.run.local import run_local
from pipeline.run.plan import RunError
from tests.pipeline.stages_for_tests import TEST_STAGES, make_jsonl_inputs

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def test_stages(monkeypatch):
    monkeypatch.setattr(registry, "_STAGES", {**registry._STAGES, **TEST_STAGES})


def make_inputs(tmp_path: Path, files: int = 3, rows: int = 50, dup_every: int = 7) -> list[str]:
    return make_jsonl_inputs(tmp_path, files, rows, dup_every, extra={"lang_hint": "en"})


def config_for(inputs: list[str], out: Path, stages: list, **output) -> object:
    return load_config(data={
        "input": {"paths": inputs, "batch_size": 16},
        "output": {"dir": str(out), **output},
        "stages": stages,
    })


def read_dir(path: Path) -> pl.DataFrame:
    files = sorted(path.glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal") if files else pl.DataFrame()


def test_accounting_and_outputs(tmp_path):
    inputs = make_inputs(tmp_path)
    out = tmp_path / "out"
    result = run_local(config_for(inputs, out, [{"min_length": {"min_chars": 200}}]), progress=None)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == 3 * 51
    assert stats["errored"] == 3
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]
    data, rejects, errors = read_dir(out / "data"), read_dir(out / "rejects"), read_dir(out / "errors")
    assert data.height == stats["kept"] and rejects.height == stats["rejected"] and errors.height == 3
    assert "drop_reason" not in data.columns and "text" in data.columns and "lang_hint" in data.columns
    assert "text" not in rejects.columns and set(rejects["drop_reason"]) == {"min_length:too_short"}
    assert sorted(errors["offset"].to_list()) == [51, 51, 51]
    assert (data["n_chars"] >= 200).all() and (rejects["n_chars"] < 200).all()
    funnel = {s["stage"]: s for s in stats["stages"]}
    assert funnel["read"]["rows_in"] == 153 and funnel["min_length"]["rows_in"] == 150
    assert funnel["min_length"]["dropped_by_reason"] == {"min_length:too_short": stats["rejected"]}
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {f"{p.parent.name}/{p.name}" for p in out.glob("*/*.parquet") if p.parent.name != "_work"}
    assert set(listed) == on_disk
    for path, entry in listed.items():
        assert pq.ParquetFile(out / path).metadata.num_rows == entry["rows"]
    assert manifest["schema_version"] == 1 and len(manifest["config_hash"]) == 64
    assert not list(out.rglob("*.tmp"))
    assert result.ok and result.stats.kept == stats["kept"]


def test_ids_kept_as_given_and_shards_roll(tmp_path):
    inputs = make_inputs(tmp_path, files=1, rows=400)
    out = tmp_path / "out"
    run_local(config_for(inputs, out, [], target_shard_mb=0.01, row_group_rows=32), progress=None)
    shards = sorted((out / "data").glob("*.parquet"))
    assert len(shards) > 1
    data = read_dir(out / "data")
    assert data["id"].to_list() == [f"doc-{i:05d}" for i in range(400)]


def test_global_stage_runs_over_all_files(tmp_path):
    inputs = make_inputs(tmp_path)
    out = tmp_path / "out"
    run_local(config_for(inputs, out, [{"min_length": {"min_chars": 5}}, "exact_dup",
                                       {"min_length": {"min_chars": 200}}]), progress=None)
    stats = json.loads((out / "stats.json").read_text())
    data, rejects = read_dir(out / "data"), read_dir(out / "rejects")
    dups = rejects.filter(pl.col("drop_reason") == "exact_dup:dup")
    # every 7th doc repeats texts[0]; doc-00000 survives across files
    assert data.filter(pl.col("id") == "doc-00000").height == 1
    assert dups.height == len([i for i in range(150) if i % 7 == 0]) - 1
    assert [s["stage"] for s in stats["stages"]] == ["read", "min_length", "exact_dup", "min_length#2"]
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]


def test_memory_kept_for_reuse_is_released_before_a_global_phase(tmp_path, monkeypatch):
    import pipeline.run.local as local

    events: list[str] = []
    monkeypatch.setattr(local, "release_unused", lambda: events.append("release"))
    inputs = make_inputs(tmp_path)
    run_local(config_for(inputs, tmp_path / "out", ["exact_dup"]),
              progress=lambda m: events.append("global") if "global phase over" in m else None)
    assert events == ["release", "global"]


def test_rerun_skips_finished_files_and_refuses_other_config(tmp_path):
    inputs = make_inputs(tmp_path)
    out = tmp_path / "out"
    cfg = config_for(inputs, out, [{"min_length": {"min_chars": 200}}])
    first = run_local(cfg, progress=None)
    messages: list[str] = []
    second = run_local(cfg, progress=messages.append)
    assert sum("skipped" in m for m in messages) == 3
    assert second.stats.to_dict()["kept"] == first.stats.kept
    with pytest.raises(RunError, match="different config"):
        run_local(config_for(inputs, out, [{"min_length": {"min_chars": 201}}]), progress=None)
    run_local(config_for(inputs, out, [{"min_length": {"min_chars": 201}}]), progress=None, overwrite=True)


def _launch(config_path: Path) -> subprocess.Popen:
    code = ("import sys; from pipeline import registry; from tests.pipeline.stages_for_tests import TEST_STAGES, make_jsonl_inputs; "
            "registry._STAGES.update(TEST_STAGES); from pipeline.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, "run", str(config_path), "--quiet"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_kill_9_then_rerun_gives_the_uninterrupted_output(tmp_path):
    inputs = make_inputs(tmp_path, files=8, rows=60)
    stages = [{"min_length": {"min_chars": 200, "sleep_s": 0.05}}, "exact_dup", {"min_length": {"min_chars": 260}}]
    reference = tmp_path / "reference"
    run_local(config_for(inputs, reference, stages), progress=None)

    out = tmp_path / "killed"
    config_path = tmp_path / "killed.yaml"
    config_path.write_text(json.dumps({"input": {"paths": inputs, "batch_size": 16},
                                       "output": {"dir": str(out)}, "stages": stages}))
    proc = _launch(config_path)
    progress = out / "_work" / "progress" / "seg0"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and len(list(progress.glob("*.json"))) < 3:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "stats.json").exists()
    proc = _launch(config_path)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]

    for sub in ("data", "rejects", "errors"):
        got, want = read_dir(out / sub), read_dir(reference / sub)
        assert got.sort(sorted(got.columns)).equals(want.sort(sorted(want.columns))), sub
        assert sorted(p.name for p in (out / sub).glob("*")) == sorted(p.name for p in (reference / sub).glob("*"))
    a, b = (json.loads((d / "stats.json").read_text()) for d in (out, reference))
    assert {k: a[k] for k in ("records_in", "kept", "rejected", "errored")} == \
        {k: b[k] for k in ("records_in", "kept", "rejected", "errored")}
