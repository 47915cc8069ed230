"""The `taosha` CLI as a user runs it: the demo, one stage, inspect, config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev"


def taosha(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One run of the embedded demo with no config argument, as the README's first command does."""
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = taosha("run", "--output", str(out), "--no-generate")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_demo_run_accounts_for_every_record(demo_run):
    out, proc = demo_run
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] > 0
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]
    stages = [s["stage"] for s in stats["stages"]]
    assert stages[0] == "read" and "normalize" in stages
    assert "stage" in proc.stdout and "records_in=" in proc.stdout  # the funnel table
    assert "[read" in proc.stderr  # progress while it runs
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["data"]["rows"] == stats["kept"]
    assert manifest["totals"]["rejects"]["rows"] == stats["rejected"]
    assert manifest["totals"]["errors"]["rows"] == stats["errored"]


def test_inspect_output_dir_and_file(demo_run):
    out, _ = demo_run
    proc = taosha("inspect", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "funnel" in proc.stdout and "training shards" in proc.stdout and "drop_reason" in proc.stdout
    shard = sorted((out / "data").glob("*.parquet"))[0]
    proc = taosha("inspect", str(shard), "--rows", "1")
    assert proc.returncode == 0 and "schema:" in proc.stdout and "text" in proc.stdout


def test_stage_writes_every_row_and_keeps_input_ids(tmp_path):
    out = tmp_path / "normalize.parquet"
    proc = taosha("stage", "normalize", "--input", str(DEV / "langid.jsonl"), "--output", str(out),
                  "--limit", "120", "--set", "min_chars=30")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert table.num_rows == 120
    given = [json.loads(line)["id"] for line in (DEV / "langid.jsonl").open()][:120]
    assert table["id"].to_pylist() == given
    assert {"id", "text", "drop_reason"} <= set(table.column_names)
    dropped = table.filter(pq.read_table(out)["drop_reason"].is_valid())
    assert dropped.num_rows > 0 and set(dropped["drop_reason"].to_pylist()) <= {"normalize:too_short",
                                                                                  "normalize:empty"}
    assert "normalize:too_short" in proc.stdout and "(kept)" in proc.stdout


def test_stage_rejects_unknown_parameter(tmp_path):
    proc = taosha("stage", "normalize", "--input", str(DEV / "neg_en.jsonl"), "--output",
                  str(tmp_path / "x.parquet"), "--set", "no_such_key=1")
    assert proc.returncode == 2
    assert "no_such_key" in proc.stderr and "normalize" in proc.stderr


def test_run_config_error_exits_2_before_work(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {paths: [x.jsonl]}\nstages:\n  - normalize: {min_chars: many}\n")
    proc = taosha("run", str(bad), "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "'normalize'" in proc.stderr and "'min_chars'" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_notebook_runs_against_the_demo_outputs(demo_run):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out, _ = demo_run
    nb = nbformat.read(ROOT / "notebooks" / "inspect_outputs.ipynb", as_version=4)
    import os

    os.environ["TAOSHA_OUTPUT"] = str(out)
    try:
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        os.environ.pop("TAOSHA_OUTPUT", None)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert pl.read_parquet(sorted((out / "data").glob("*.parquet"))[0]).height > 0


def test_round_without_sandbox_exits_2_in_one_line_and_keeps_the_cleaning_outputs(tmp_path, monkeypatch, capsys):
    """A machine without bubblewrap: the synthetic round stops with the sandbox's own message
    and exit code 2, no traceback, and the cleaning run's outputs stay."""
    from generators.verify.sandbox import SandboxUnavailable
    from pipeline import cli, registry

    def no_sandbox(config, progress):
        raise SandboxUnavailable("refusing to run generated code without bubblewrap (bwrap: not found on PATH)")

    monkeypatch.setattr(registry, "after_run_hook", lambda name: no_sandbox)
    out = tmp_path / "out"
    code = cli.main(["run", str(ROOT / "configs" / "demo.yaml"), "--output", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "round stopped: refusing to run generated code without bubblewrap" in err
    assert "--no-generate" in err and "Traceback" not in err
    assert (out / "stats.json").exists() and list((out / "data").glob("*.parquet"))
