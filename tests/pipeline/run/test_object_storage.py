"""Object storage for real: input, output, work dir, markers and the dedup index on ``s3://``
(a moto S3 server on 127.0.0.1), on the local engine and on Ray; a rerun resumes; nothing
is written to local disk outside a temp dir; decisions equal a run on local disk."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.run.local import run_local

ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT / "tests" / "data" / "dev"
INPUTS = {"neardup.jsonl": ("neardup_clusters.jsonl", 160), "prose.jsonl": ("neg_en.jsonl", 80),
          "math_zh.jsonl": ("math_pos_zh.jsonl", 60)}
STAGES = ["normalize", "heuristics", {"dedup": {"threshold": 0.5}}]


@pytest.fixture
def bucket(s3_endpoint, request):
    name = "taosha-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    client = s3_endpoint["client"]
    client.create_bucket(Bucket=name)
    for key, (source, rows) in INPUTS.items():
        lines = (DEV / source).read_text(encoding="utf-8").splitlines()[:rows]
        client.put_object(Bucket=name, Key=f"in/{key}", Body=("\n".join(lines) + "\n").encode())
    return name


def _keys(s3_endpoint, bucket: str, prefix: str = "") -> list[str]:
    pages = s3_endpoint["client"].get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _decisions_s3(s3_endpoint, bucket: str, out: str) -> list[tuple]:
    client = s3_endpoint["client"]
    frames = []
    for key in _keys(s3_endpoint, bucket, f"{out}/"):
        if key.startswith((f"{out}/data/", f"{out}/rejects/")) and key.endswith(".parquet"):
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            frames.append(pl.from_arrow(pq.read_table(io.BytesIO(body))))
    table = pl.concat(frames, how="diagonal_relaxed")
    if "drop_reason" not in table.columns:
        table = table.with_columns(pl.lit(None, pl.String).alias("drop_reason"))
    return sorted(table.select("id", "drop_reason", "dup_of").rows(), key=lambda r: r[0])


def _decisions_local(out: Path) -> list[tuple]:
    frames = [pl.read_parquet(f) for sub in ("data", "rejects") for f in sorted((out / sub).glob("*.parquet"))]
    table = pl.concat(frames, how="diagonal_relaxed")
    return sorted(table.select("id", "drop_reason", "dup_of").rows(), key=lambda r: r[0])


def _local_reference(tmp_path: Path) -> list[tuple]:
    src = tmp_path / "local-in"
    src.mkdir()
    for key, (source, rows) in INPUTS.items():
        lines = (DEV / source).read_text(encoding="utf-8").splitlines()[:rows]
        (src / key).write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "local-out"
    run_local(load_config(data={"input": {"paths": [str(src)], "batch_size": 64}, "output": {"dir": str(out)},
                                "stages": STAGES}), progress=None)
    return _decisions_local(out)


def _config(bucket: str) -> dict:
    return {"input": {"paths": [f"s3://{bucket}/in"], "batch_size": 64}, "output": {"dir": f"s3://{bucket}/out"},
            "stages": STAGES}


def _assert_outputs_in_bucket(s3_endpoint, bucket: str) -> None:
    keys = _keys(s3_endpoint, bucket, "out/")
    assert "out/manifest.json" in keys and "out/stats.json" in keys and "out/_taosha.json" in keys
    assert any(k.startswith("out/data/") for k in keys) and any(k.startswith("out/rejects/") for k in keys)
    assert any(k.startswith("out/index/dedup/kept") for k in keys), "the dedup index is in the bucket"
    assert any(k.startswith("out/_work/progress/") for k in keys), "markers are in the bucket"
    assert any(k.startswith("out/_work/global/") and k.endswith("-dedup/marks/_SUCCESS") for k in keys), \
        "dedup's marks and their completion marker are in the bucket"
    assert any(k.startswith("out/_work/global/") and k.endswith("-dedup/plan.json") for k in keys)
    assert "out/index/dedup/_SUCCESS" in keys and "out/index/dedup/meta.json" in keys
    assert not any(k.endswith(".tmp") for k in keys)
    marker = json.loads(s3_endpoint["client"].get_object(Bucket=bucket, Key="out/_taosha.json")["Body"].read())
    assert marker["status"] == "complete"
    stats = json.loads(s3_endpoint["client"].get_object(Bucket=bucket, Key="out/stats.json")["Body"].read())
    assert stats["records_in"] == sum(rows for _, rows in INPUTS.values())
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]


@pytest.mark.slow
def test_local_engine_on_s3_with_dedup(s3_endpoint, bucket, tmp_path, monkeypatch):
    reference = _local_reference(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    messages: list[str] = []
    run_local(load_config(data=_config(bucket)), progress=messages.append)
    _assert_outputs_in_bucket(s3_endpoint, bucket)
    assert _decisions_s3(s3_endpoint, bucket, "out") == reference
    assert not list(cwd.rglob("*")), "nothing written to local disk"
    manifest = s3_endpoint["client"].get_object(Bucket=bucket, Key="out/manifest.json")["Body"].read()

    messages.clear()
    run_local(load_config(data=_config(bucket)), progress=messages.append)  # a rerun resumes
    assert sum("done in an earlier run" in m for m in messages) == len(INPUTS)
    again = s3_endpoint["client"].get_object(Bucket=bucket, Key="out/manifest.json")["Body"].read()
    assert json.loads(again)["files"] == json.loads(manifest)["files"]
    assert not list(cwd.rglob("*"))


@pytest.mark.cluster
@pytest.mark.slow
def test_ray_engine_on_s3_with_dedup(s3_endpoint, bucket, tmp_path):
    reference = _local_reference(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    config = tmp_path / "s3.yaml"
    config.write_text(json.dumps({**_config(bucket), "run": {"engine": "ray", "ray": {"num_cpus": 2}}}))
    env = {**os.environ, **s3_endpoint["env"], "RAY_ADDRESS": ""}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(config), "--quiet"]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_outputs_in_bucket(s3_endpoint, bucket)
    assert _decisions_s3(s3_endpoint, bucket, "out") == reference
    assert not list(cwd.rglob("*")), "nothing written to local disk"
    again = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _decisions_s3(s3_endpoint, bucket, "out") == reference


def test_engine_without_global_stages_on_s3(s3_endpoint, bucket, tmp_path, monkeypatch):
    """The engine alone (readers, writers, markers, lock, manifest) on s3://."""
    monkeypatch.chdir(tmp_path)
    cfg = {**_config(bucket), "stages": ["normalize", "heuristics"]}
    result = run_local(load_config(data=cfg), progress=None)
    assert result.stats.records_in == sum(rows for _, rows in INPUTS.values())
    keys = _keys(s3_endpoint, bucket, "out/")
    assert "out/manifest.json" in keys and "out/_taosha.json" in keys and "out/_taosha.lock" not in keys
    fs, _ = pafs.FileSystem.from_uri(f"s3://{bucket}/out")
    assert fs.get_file_info(f"{bucket}/out/stats.json").size > 0
    assert not list(tmp_path.iterdir())
