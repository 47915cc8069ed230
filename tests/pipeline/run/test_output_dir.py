"""The output dir is claimed safely: --overwrite empties only taosha outputs, outputs and
inputs never overlap, a resume sees the same inputs, one run at a time holds the lock,
and the marker says whether the output is complete."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.config import load_config
from pipeline.run.local import run_local
from pipeline.run.output_lock import LOCK_FILE
from pipeline.run.plan import OUTPUT_MARKER, RunError
from tests.pipeline.stages_for_tests import TEST_STAGES, make_jsonl_inputs


@pytest.fixture(autouse=True)
def test_stages(monkeypatch):
    monkeypatch.setattr(registry, "_STAGES", {**registry._STAGES, **TEST_STAGES})


def config_for(inputs: list[str], out: Path, stages: list | None = None):
    return load_config(data={"input": {"paths": inputs, "batch_size": 16}, "output": {"dir": str(out)},
                             "stages": stages or [{"min_length": {"min_chars": 200}}]})


def test_overwrite_refuses_a_dir_that_is_not_a_taosha_output(tmp_path):
    (tmp_path / "in").mkdir()
    inputs = make_jsonl_inputs(tmp_path / "in", 1, 20)
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    (home / "photos").mkdir()
    (home / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    for overwrite in (False, True):
        with pytest.raises(RunError, match="not a taosha output"):
            run_local(config_for(inputs, home), progress=None, overwrite=overwrite)
    assert (home / "thesis.tex").read_text() == "years of work"
    assert (home / "photos" / "cat.jpg").exists()
    assert sorted(p.name for p in home.iterdir()) == ["photos", "thesis.tex"]


def test_overwrite_empties_a_taosha_output_and_an_empty_dir_is_fine(tmp_path):
    (tmp_path / "in").mkdir()
    inputs = make_jsonl_inputs(tmp_path / "in", 2, 20)
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    run_local(config_for(inputs, out), progress=None)
    assert json.loads((out / OUTPUT_MARKER).read_text())["status"] == "complete"
    (out / "data" / "stray.parquet").write_bytes(b"left by someone")
    run_local(config_for(inputs, out, [{"min_length": {"min_chars": 100}}]), progress=None, overwrite=True)
    assert not (out / "data" / "stray.parquet").exists()
    assert json.loads((out / "stats.json").read_text())["records_in"] == 42


def test_output_inside_an_input_dir_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    make_jsonl_inputs(tmp_path / "in", 2, 20)
    with pytest.raises(RunError, match="inside the input path"):
        run_local(config_for([str(tmp_path / "in")], tmp_path / "in" / "out"), progress=None)
    assert not (tmp_path / "in" / "out").exists()
    with pytest.raises(RunError, match="inside the input path"):
        run_local(config_for([str(tmp_path / "in" / "*.jsonl")], tmp_path / "in" / "out"), progress=None)


def test_input_file_inside_the_output_dir_is_refused(tmp_path):
    out = tmp_path / "out"
    (out / "incoming").mkdir(parents=True)
    inputs = make_jsonl_inputs(out / "incoming", 1, 20)
    with pytest.raises(RunError, match="inside the output dir"):
        run_local(config_for(inputs, out), progress=None, overwrite=True)
    assert Path(inputs[0]).exists()


def test_resume_refuses_a_changed_input_set(tmp_path):
    (tmp_path / "in").mkdir()
    make_jsonl_inputs(tmp_path / "in", 2, 20)
    out = tmp_path / "out"
    cfg = config_for([str(tmp_path / "in")], out)
    run_local(cfg, progress=None)
    run_local(cfg, progress=None)  # same inputs: resumes (nothing to do)
    extra = tmp_path / "in" / "late.jsonl"
    extra.write_text(json.dumps({"id": "late", "text": "a file that arrived after the first run " * 8}) + "\n")
    with pytest.raises(RunError, match=r"1 added: .*late\.jsonl"):
        run_local(cfg, progress=None)
    extra.unlink()
    first = tmp_path / "in" / "in-0.jsonl"
    first.write_text(first.read_text() + json.dumps({"id": "x", "text": "appended " * 40}) + "\n")
    with pytest.raises(RunError, match=r"1 changed .*in-0\.jsonl"):
        run_local(cfg, progress=None)
    result = run_local(cfg, progress=None, overwrite=True)
    assert result.stats.records_in == 43


def test_a_live_lock_is_refused_and_a_dead_one_taken_over(tmp_path):
    (tmp_path / "in").mkdir()
    inputs = make_jsonl_inputs(tmp_path / "in", 1, 20)
    out = tmp_path / "out"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_FILE).write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(),
                                                 "token": "other", "started": "earlier"}))
        with pytest.raises(RunError, match=f"in use by another run \\(pid {sleeper.pid}"):
            run_local(config_for(inputs, out), progress=None)
    finally:
        sleeper.kill()
        sleeper.wait()
    messages: list[str] = []
    result = run_local(config_for(inputs, out), progress=messages.append)
    assert any("stale lock" in m for m in messages)
    assert result.stats.records_in == 21
    assert not (out / LOCK_FILE).exists()


def test_two_runs_into_one_dir_one_wins_and_the_other_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    inputs = make_jsonl_inputs(tmp_path / "in", 3, 30)
    out = tmp_path / "out"
    stages = [{"min_length": {"min_chars": 200, "sleep_s": 0.05}}, "exact_dup"]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        try:
            run_local(config_for(inputs, out, stages), progress=None)
            outcomes.append("ok")
        except RunError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o == "ok" for o in outcomes) == [False, True], outcomes
    assert any("in use by another run" in o for o in outcomes)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"] == 93


def test_a_failed_run_says_so_in_its_marker(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    inputs = make_jsonl_inputs(tmp_path / "in", 2, 20)
    out = tmp_path / "out"
    from tests.pipeline import stages_for_tests

    def boom(self, batch):
        raise RuntimeError("stage crashed")

    monkeypatch.setattr(stages_for_tests.MinLengthStage, "__call__", boom)
    with pytest.raises(RuntimeError, match="stage crashed"):
        run_local(config_for(inputs, out), progress=None)
    marker = json.loads((out / OUTPUT_MARKER).read_text())
    assert marker["status"] == "failed"
    assert not (out / "manifest.json").exists()
    assert not (out / LOCK_FILE).exists()
    assert os.listdir(out)  # the marker is there, so a rerun resumes rather than refusing the dir


def test_a_lock_being_written_is_read_once_it_holds_its_owner(tmp_path):
    """A run creates its lock and writes its owner just after: another run that reads the
    lock in between sees it empty. That is a lock being taken (refused as in use, naming
    its owner), never one released; one that stays empty is held by an unknown run."""
    import time

    import pyarrow.fs as pafs

    from pipeline.run.output_lock import LockedError, RunLock

    lock_path = tmp_path / LOCK_FILE
    lock_path.write_bytes(b"")

    def write_owner() -> None:
        time.sleep(0.1)
        lock_path.write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere", "token": "t", "started": "now"}))

    writer = threading.Thread(target=write_owner)
    writer.start()
    with pytest.raises(LockedError, match="in use by another run .pid \\d+ on elsewhere"):
        RunLock(pafs.LocalFileSystem(), str(tmp_path)).acquire()
    writer.join()

    lock_path.write_bytes(b"")
    with pytest.raises(LockedError, match="in use by another run .*the lock is empty or unreadable"):
        RunLock(pafs.LocalFileSystem(), str(tmp_path)).acquire()
