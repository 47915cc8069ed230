"""The synthetic loop with its output on object storage (a moto S3 server on 127.0.0.1):
every file of a round lands in the bucket, the decisions equal a run on local disk, nothing
is left on local disk outside a temp dir, and a killed round resumes from the request
cache uploaded beside the outputs."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from generators.cli import outputs_line
from generators.loop import run_generate
from tests.generators.llm.fault_server import FaultServer
from tests.generators.test_loop import loop_config, read_dir, scripted_model


def _keys(client, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _read_s3(client, bucket: str, keys: list[str]) -> pl.DataFrame:
    frames = [pl.from_arrow(pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=k)["Body"].read())))
              for k in keys]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def _decisions(frame: pl.DataFrame) -> list[tuple]:
    if "drop_reason" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("drop_reason"))
    return sorted(frame.select("id", "drop_reason", "gen_round").rows(), key=lambda r: r[0])


def _temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("taosha-generate-*")}


def test_a_generate_run_on_s3_writes_every_file_to_the_bucket_and_resumes(s3_endpoint, tmp_path, monkeypatch):
    client = s3_endpoint["client"]
    bucket = "taosha-generate-loop"
    client.create_bucket(Bucket=bucket)
    out = f"s3://{bucket}/synth"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    temp_before = _temp_dirs()
    with FaultServer(responder=scripted_model) as server:
        (tmp_path / "local").mkdir()
        local = run_generate(loop_config(tmp_path / "local", server.base_url),
                             output_dir=str(tmp_path / "local" / "out"), progress=None)
        sent_local = server.count()
        result = run_generate(loop_config(tmp_path, server.base_url), output_dir=out, progress=None)
        sent = server.count() - sent_local

        keys = _keys(client, bucket, "synth/")
        rel = [k.removeprefix("synth/") for k in keys]
        # the run's outputs, the round markers, the candidates and the request cache are objects in the bucket
        for name in ("manifest.json", "stats.json", "_work/generate/run.json", "_work/generate/requests.sqlite",
                     "_work/generate/round-000/done.json", "_work/generate/round-001/done.json",
                     "_work/generate/round-000/round-000.parquet", "dead_letters/round-000.parquet"):
            assert name in rel, (name, rel)
        assert any(r.startswith("data/") for r in rel) and any(r.startswith("rejects/") for r in rel)
        assert not any(r.endswith(".tmp") for r in rel), rel  # every write was temp-then-rename
        # nothing on local disk: the cwd is empty and the temp dir (log, cache) is gone
        assert list(cwd.iterdir()) == [] and _temp_dirs() == temp_before

        # the same decisions as on local disk; the manifest lists the shards in the bucket
        shards = [r for r in rel if r.startswith(("data/", "rejects/")) and r.endswith(".parquet")]
        data = _read_s3(client, bucket, [f"synth/{r}" for r in shards if r.startswith("data/")])
        rejects = _read_s3(client, bucket, [f"synth/{r}" for r in shards if r.startswith("rejects/")])
        local_out = tmp_path / "local" / "out"
        assert _decisions(pl.concat([data, rejects], how="diagonal_relaxed")) == _decisions(
            pl.concat([read_dir(local_out / "data"), read_dir(local_out / "rejects")], how="diagonal_relaxed"))
        assert result.stats.kept == local.stats.kept == data.height > 0 and sent == sent_local
        stats = json.loads(client.get_object(Bucket=bucket, Key="synth/stats.json")["Body"].read())
        manifest = json.loads(client.get_object(Bucket=bucket, Key="synth/manifest.json")["Body"].read())
        assert stats["kept"] == data.height and [r["round"] for r in stats["generate"]["rounds"]] == [0, 1]
        assert {f["path"] for f in manifest["files"]} == set(shards)
        # round 1's copies of round 0's code answer are duplicates found through the earlier round's
        # output on S3 (dedup against earlier rounds)
        assert set(rejects.filter(pl.col("drop_reason") == "dedup:exact")["gen_round"]) == {1}
        assert outputs_line(out).startswith(f"outputs: {out}/ (data/, rejects/, dead_letters/")

        # a round killed before its marker reruns from the cache uploaded to the bucket
        client.delete_object(Bucket=bucket, Key="synth/_work/generate/round-001/done.json")
        before = server.count()
        again = run_generate(loop_config(tmp_path, server.base_url), output_dir=out, progress=None)
        resumed = again.rounds[1]["client"]
        assert resumed.get("cache_hits", 0) > 0 and server.count() - before == resumed.get("requests", 0)
        assert again.stats.kept == result.stats.kept
        assert list(cwd.iterdir()) == [] and _temp_dirs() == temp_before


def test_the_loop_refuses_an_s3_output_of_another_config(s3_endpoint, tmp_path):
    from pipeline import RunError

    client = s3_endpoint["client"]
    client.create_bucket(Bucket="taosha-generate-refuse")
    out = "s3://taosha-generate-refuse/synth"
    with FaultServer(responder=scripted_model) as server:
        run_generate(loop_config(tmp_path, server.base_url, rounds=1, stages=[]), output_dir=out, progress=None)
        with pytest.raises(RunError, match="different config"):
            run_generate(loop_config(tmp_path, server.base_url, rounds=2, stages=[]), output_dir=out, progress=None)
        again = run_generate(loop_config(tmp_path, server.base_url, rounds=2, stages=[]), output_dir=out,
                             progress=None, overwrite=True)
    assert [r["round"] for r in again.rounds] == [0, 1]
    keys = _keys(client, "taosha-generate-refuse", "synth/_work/generate/")
    assert {k.split("/")[3] for k in keys if "/round-" in k} == {"round-000", "round-001"}


def test_seeds_are_read_from_object_storage_as_from_local_disk(s3_endpoint, tmp_path):
    """A cleaned run's output on S3 seeds the math task (``taosha run`` with an ``s3://`` output
    hands its dir to the loop), and problem files may be URIs, gzipped or not."""
    import gzip

    import pyarrow as pa

    from generators.tasks.seeds import load_corpus_documents, load_problems

    client = s3_endpoint["client"]
    client.create_bucket(Bucket="taosha-generate-seeds")
    text = "A train travels 60 km in 1.5 hours. What is its average speed? " * 3
    table = pa.table({"id": ["d1", "d2"], "text": [text, "too short"], "lang": ["en", "en"], "math_score": [0.9, 0.9]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    problems = b'{"id": "p1", "question": "What is 2 + 3?", "answer": "5"}\n'
    local = tmp_path / "clean" / "data"
    local.mkdir(parents=True)
    pq.write_table(table, local / "part-0000.parquet")
    (tmp_path / "problems.jsonl.gz").write_bytes(gzip.compress(problems))
    client.put_object(Bucket="taosha-generate-seeds", Key="clean/data/part-0000.parquet",
                      Body=sink.getvalue().to_pybytes())
    client.put_object(Bucket="taosha-generate-seeds", Key="seeds/problems.jsonl.gz", Body=gzip.compress(problems))

    remote = load_corpus_documents(["s3://taosha-generate-seeds/clean"], min_chars=80)
    assert remote == load_corpus_documents([str(tmp_path / "clean")], min_chars=80) and [s.id for s in remote] == ["d1"]
    assert load_problems(["s3://taosha-generate-seeds/seeds/problems.jsonl.gz"]) == load_problems(
        [str(tmp_path / "problems.jsonl.gz")])
