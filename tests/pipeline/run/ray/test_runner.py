"""The Ray runner against the local runner: parity, global stages, resume, a worker killed with -9."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from pipeline import registry
from pipeline.config import load_config
from pipeline.run.local import run_local
from pipeline.run.ray.runner import run_ray
from tests.pipeline.stages_for_tests import TEST_STAGES, make_jsonl_inputs

ROOT = Path(__file__).resolve().parents[4]
OUTPUT_DIRS = ("data", "rejects", "errors")


@pytest.fixture(autouse=True)
def test_stages(monkeypatch):
    monkeypatch.setattr(registry, "_STAGES", {**registry._STAGES, **TEST_STAGES})


def make_inputs(tmp_path: Path, files: int = 3, rows: int = 40, dup_every: int = 7) -> list[str]:
    return make_jsonl_inputs(tmp_path, files, rows, dup_every, extra=None)


def config_for(inputs: list[str], out: Path, stages: list):
    return load_config(data={"input": {"paths": inputs, "batch_size": 16}, "output": {"dir": str(out)},
                             "stages": stages})


def frame(path: Path) -> pl.DataFrame:
    files = sorted(path.glob("*.parquet"))
    df = pl.concat([pl.read_parquet(f) for f in files], how="diagonal") if files else pl.DataFrame()
    return df.sort(sorted(df.columns)) if df.height else df


def assert_same_outputs(got: Path, want: Path, subs: tuple[str, ...] = OUTPUT_DIRS) -> None:
    """Same files (names and rows), same rows in each, same accounting and funnel."""
    for sub in subs:
        assert sorted(p.name for p in (got / sub).glob("*")) == sorted(p.name for p in (want / sub).glob("*")), sub
        a, b = frame(got / sub), frame(want / sub)
        assert a.equals(b), f"{sub} differs"
    a, b = (json.loads((d / "stats.json").read_text()) for d in (got, want))
    keys = ("records_in", "kept", "rejected", "errored", "rejected_by_reason")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    funnel = lambda s: [(x["stage"], x["rows_in"], x["kept"], x["dropped_by_reason"]) for x in s["stages"]]  # noqa: E731
    assert funnel(a) == funnel(b)
    assert a["records_in"] == a["kept"] + a["rejected"] + a["errored"]
    manifest = json.loads((got / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert listed == {f"{p.parent.name}/{p.name}" for p in got.glob("*/*.parquet") if p.parent.name != "_work"}
    assert not list(got.rglob("*.tmp"))


def test_demo_config_parity_with_local(ray_local, tmp_path):
    """Whatever stages configs/demo.yaml lists: same kept ids, same drop reasons, same files."""
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    cfg = load_config(ROOT / "configs/demo.yaml")
    cfg.output.dir = str(local)
    run_local(cfg, progress=None)
    cfg = load_config(ROOT / "configs/demo.yaml")
    cfg.output.dir = str(ray_out)
    result = run_ray(cfg, progress=None)
    kept = lambda d: sorted(frame(d / "data")["id"].to_list())  # noqa: E731
    reasons = lambda d: sorted(frame(d / "rejects").select("id", "drop_reason").rows())  # noqa: E731
    assert kept(ray_out) and kept(ray_out) == kept(local)
    assert reasons(ray_out) == reasons(local)
    assert_same_outputs(ray_out, local)
    stats = json.loads((ray_out / "stats.json").read_text())
    assert stats["engine"] == "ray" and result.stats.kept == stats["kept"]
    assert [s["stage"] for s in stats["stages"]] == ["read", *[s.name for s in cfg.stages]]


@pytest.mark.slow
@pytest.mark.cluster
def test_every_column_equals_local_across_batch_sizes(ray_local, tmp_path):
    """The demo config over crawl pages and dev rows: Ray in blocks of 31 rows against the
    local engine in batches of 512 writes the same files with the same value in every
    column (the local engine's own batch independence is tests/pipeline/run/test_batch_independence.py)."""
    from tests.pipeline.run.test_batch_independence import INPUTS

    outs = {}
    for engine, batch in (("local", 512), ("ray", 31)):
        cfg = load_config(ROOT / "configs/demo.yaml")
        cfg.input.paths = [str(ROOT / p) for p in INPUTS]
        cfg.input.batch_size = batch
        cfg.output.dir = str(tmp_path / engine)
        (run_local if engine == "local" else run_ray)(cfg, progress=None)
        outs[engine] = tmp_path / engine
    assert frame(outs["local"] / "data").height > 50
    assert_same_outputs(outs["ray"], outs["local"])


def test_global_stage_between_segments(ray_local, tmp_path):
    """min_length -> exact_dup (global, run_global on the driver, applied in actors) -> min_length again."""
    inputs = make_inputs(tmp_path)
    stages = [{"min_length": {"min_chars": 5}}, "exact_dup", {"min_length": {"min_chars": 200}}]
    run_local(config_for(inputs, tmp_path / "local", stages), progress=None)
    # the second min_length as plain tasks (TaskPoolStrategy), the others as actor pools
    run_ray(config_for(inputs, tmp_path / "ray", stages), progress=None,
            ray_options={"stages": {"min_length#2": {"compute": "tasks"}}})
    # errors/ too: a global stage's later segment must not touch the errors segment 0 wrote
    assert_same_outputs(tmp_path / "ray", tmp_path / "local")
    errors = frame(tmp_path / "ray" / "errors")
    assert errors.height == 3 and sorted(errors["offset"].to_list()) == [41, 41, 41]
    rejects = frame(tmp_path / "ray" / "rejects")
    dups = rejects.filter(pl.col("drop_reason") == "exact_dup:dup")
    assert dups.height == len([i for i in range(120) if i % 7 == 0]) - 1
    stats = json.loads((tmp_path / "ray" / "stats.json").read_text())
    assert [s["stage"] for s in stats["stages"]] == ["read", "min_length", "exact_dup", "min_length#2"]
    assert stats["errored"] == 3


def test_global_stage_first(ray_local, tmp_path):
    """exact_dup first: segment 0 has no stage, so a write task (not a stage's workers) stages
    the rows it reads; the outputs equal the local runner's."""
    inputs = make_inputs(tmp_path, files=2)
    stages = ["exact_dup", {"min_length": {"min_chars": 200}}]
    run_local(config_for(inputs, tmp_path / "local", stages), progress=None)
    run_ray(config_for(inputs, tmp_path / "ray", stages), progress=None)
    assert_same_outputs(tmp_path / "ray", tmp_path / "local")
    stats = json.loads((tmp_path / "ray" / "stats.json").read_text())
    assert [s["stage"] for s in stats["stages"]] == ["read", "exact_dup", "min_length"]


@pytest.mark.slow
def test_resume_skips_finished_files(ray_local, tmp_path):
    """A run that finished two of three files (the third's marker and outputs gone) resumes on Ray."""
    inputs = make_inputs(tmp_path)
    stages = [{"min_length": {"min_chars": 200}}]
    reference = tmp_path / "reference"
    run_local(config_for(inputs, reference, stages), progress=None)
    out = tmp_path / "out"
    run_local(config_for(inputs, out, stages), progress=None)  # markers have one format: resume across engines
    victim = sorted((out / "_work/progress/seg0").glob("*.json"))[1]
    part = victim.stem
    victim.unlink()
    for sub in OUTPUT_DIRS:
        for f in (out / sub).glob(f"{part}-*"):
            f.unlink()
    (out / "stats.json").unlink()
    messages: list[str] = []
    run_ray(config_for(inputs, out, stages), progress=messages.append)
    assert sum("skipped" in m for m in messages) == 2
    assert sum(m.startswith("[read ") for m in messages) == 1
    assert_same_outputs(out, reference)


def _descendants(root: int) -> list[int]:
    """Process ids below ``root`` (from /proc), so the test only ever touches its own Ray."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, ppid in parents.items() if ppid == pid]
        out += children
        frontier += children
    return out


def _stage_actor_pids() -> list[int]:
    pids = []
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::MapWorker(MapBatches(StageActor))"):
            pids.append(pid)
    return pids


@pytest.mark.slow
def test_worker_killed_mid_run_loses_and_duplicates_nothing(ray_local, tmp_path):
    inputs = make_inputs(tmp_path, files=4, rows=48)
    stages = [{"min_length": {"min_chars": 200, "sleep_s": 0.25}}, "exact_dup", {"min_length": {"min_chars": 260}}]
    reference = tmp_path / "reference"
    run_local(config_for(inputs, reference, [{"min_length": {"min_chars": 200}}, *stages[1:]]), progress=None)

    out = tmp_path / "killed"
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = run_ray(config_for(inputs, out, stages), progress=None)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    staging = out / "_work" / "ray" / "seg0"
    killed = None
    deadline = time.time() + 240
    while time.time() < deadline and thread.is_alive() and killed is None:
        pids = _stage_actor_pids()
        if pids and len(list(staging.glob("*/c*.parquet"))) >= 2:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    thread.join(timeout=300)
    assert killed is not None, "no stage actor was running mid-run to kill"
    assert "error" not in outcome, outcome.get("error")
    assert killed not in _stage_actor_pids()
    # stats.json too: every stage's funnel (rows in, kept, dropped by reason) equals the local
    # run's, so the batches the killed actor had (its stats files written or not) count once
    assert_same_outputs(out, reference)
    errors = frame(out / "errors")
    assert errors.height == 4 and sorted(errors["offset"].to_list()) == [49] * 4


# ---------------------------------------------------------------- staging, without Ray running


def _staged_part(tmp_path: Path):
    """A work dir with one part of two chunks (10 + 6 rows) read, nothing staged yet."""
    from pipeline.io import fsutil
    from pipeline.run.ray.internal import tag_chunk
    from pipeline.run.ray.sink import READ_INFO, part_dir, staging_root
    from pipeline.run.plan import WorkDir
    from pipeline.schema import make_batch

    inputs = make_inputs(tmp_path, files=1, rows=16)
    cfg = config_for(inputs, tmp_path / "out", [{"min_length": {"min_chars": 200}}])
    work = WorkDir.open(cfg, inputs)
    staging = staging_root(work, 0)
    fsutil.makedirs(work.fs, part_dir(staging, "p"))
    fsutil.write_json_atomic(work.fs, fsutil.join(part_dir(staging, "p"), READ_INFO), {
        "chunks": [10, 6], "records_in": 16, "errored": 0, "errors": False,
        "read": {"stage": "read", "rows_in": 16, "kept": 16, "dropped_by_reason": {}, "seconds": 0.0}})
    texts = [json.loads(line)["text"] for line in Path(inputs[0]).open() if line.startswith("{\"")]
    chunks = [tag_chunk(make_batch(texts[a:b], ids=[f"d{i}" for i in range(a, b)], source="s"), "p", c)
              for c, (a, b) in enumerate([(0, 10), (10, 16)])]
    return cfg, work, staging, chunks


def _finalize(cfg, work):
    from pipeline.run.ray.sink import finalize_part

    return finalize_part(work, 0, True, "p", ["min_length"], cfg.output, cfg.output.dir)


def test_finalize_checks_every_row_arrived_exactly_once(tmp_path):
    from pipeline.run.ray.stage_actor import build_from_spec, run_stage_on_batch, stage_spec
    from pipeline.run.ray.sink import IncompleteStaging, write_stage_stats, write_staged
    from tests.pipeline.stages_for_tests import MinLengthStage

    cfg, work, staging, chunks = _staged_part(tmp_path)
    lengths = sorted(len(t) for c in chunks for t in c["text"].to_pylist())
    spec = stage_spec(MinLengthStage(min_chars=lengths[8]), "min_length", 0)  # about half rejected
    stage = build_from_spec(spec)
    done = []
    for c in chunks:
        out, run_stats = run_stage_on_batch(stage, spec, c)
        write_stage_stats(work.fs, staging, 0, run_stats)  # the stage's stats, beside the data
        done.append(out)
    write_staged(done[0].slice(0, 4), work.fs, staging)
    write_staged(done[1], work.fs, staging)
    with pytest.raises(IncompleteStaging, match="chunk 0 has 4 of 10"):
        _finalize(cfg, work)
    write_staged(done[0].slice(2, 8), work.fs, staging)  # overlaps rows 2-3
    with pytest.raises(IncompleteStaging, match="gap or overlap"):
        _finalize(cfg, work)
    (Path(staging) / "p" / "c000000-r0000002.parquet").unlink()
    write_staged(done[0].slice(4, 6), work.fs, staging)
    write_staged(done[0].slice(4, 6), work.fs, staging)  # a retried task rewrites the same piece
    marker = _finalize(cfg, work)
    stats = marker["stats"]
    assert stats["records_in"] == 16 and stats["kept"] + stats["rejected"] == 16
    funnel = {s["stage"]: s for s in stats["stages"]}
    # each chunk's stats counted once, though chunk 0 came in 2 pieces (one of them staged twice)
    assert funnel["min_length"]["rows_in"] == 16
    assert funnel["min_length"]["dropped"] == stats["rejected"]
    ids = lambda sub: frame(tmp_path / "out" / sub).get_column("id", default=pl.Series([])).to_list()  # noqa: E731
    kept, rejected = ids("data"), ids("rejects")
    assert kept and rejected
    assert sorted(kept + rejected) == sorted(f"d{i}" for i in range(16))
    assert not (Path(staging) / "p").exists() and _finalize(cfg, work) == marker  # a retried finalize


def test_default_cpus_leave_room_for_reads():
    from pipeline.run.ray.cluster import max_actors, stage_cpus, task_reserve

    for nodes, per_node in ((1, 1), (1, 2), (2, 1), (1, 16), (4, 4)):
        cluster, reserve = nodes * per_node, task_reserve(nodes, 0.25, 0.1)
        for stages in (1, 3, 8):
            cpus = stage_cpus(cluster, stages, reserve)
            pool = max_actors(cluster, reserve, cpus, stages)
            claimed = stages * pool * cpus  # every pool at its largest
            free = cluster - claimed
            assert cpus <= 1 and free >= min(reserve, cluster - stages * cpus) - 1e-9
            assert free / nodes >= 0.35 - 1e-9 or stages * cpus > cluster - reserve  # some node keeps a read+write
    assert max_actors(2, task_reserve(1, 0.25, 0.1), stage_cpus(2, 1, 0.35), 1) == 2  # 1 stage, 2 CPUs: 2 actors
