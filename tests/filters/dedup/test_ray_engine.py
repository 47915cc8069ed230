"""The Ray engine gives the same clusters and marks as the local engine."""

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from filters.dedup.stage import DedupStage
from filters.dedup.index import index_files
from filters.dedup.marks import read_marks
from filters.dedup.storage import Store
from pipeline.schema import make_batch
from pipeline.stage import GlobalContext

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"


@pytest.mark.cluster
@pytest.mark.slow
def test_local_and_ray_runs_give_the_same_clusters(tmp_path, ray_local):
    rows = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()]
    rows = rows[:60] + rows[360:400] + rows[-40:]  # cmath, gsd and gsm8k clusters; small keeps Ray fast
    texts = [r["text"] for r in rows] + [rows[0]["text"]]
    ids = [r["id"] for r in rows] + ["copy0"]
    batch = make_batch(texts, ids=ids, source="s")
    paths = []
    for i, (lo, hi) in enumerate([(0, 70), (70, len(ids))]):
        paths.append(str(tmp_path / f"in-{i}.parquet"))
        pq.write_table(batch.slice(lo, hi - lo), paths[-1])
    local = DedupStage()
    local.run_global(paths, GlobalContext(engine="local", work_dir=str(tmp_path / "local")))
    ray_stage = DedupStage(num_partitions=2)
    ray_stage.run_global(paths, GlobalContext(engine="ray", work_dir=str(tmp_path / "ray")))
    a = read_marks(Store.at(tmp_path / "local" / "marks"))
    b = read_marks(Store.at(tmp_path / "ray" / "marks"))
    assert a.height > 50 and a.equals(b)
    ray_stage.bind_input(paths[0])
    out = ray_stage(pq.read_table(paths[0]))
    assert out["drop_reason"].null_count < out.num_rows
    assert set(read_marks(Store.at(tmp_path / "ray" / "marks")).filter(pl.col("part") == 1)["id"].to_list()) <= set(ids[70:])


@pytest.mark.cluster
@pytest.mark.slow
def test_incremental_run_on_ray_matches_local(tmp_path, ray_local):
    rows = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()]
    gsm = [r for r in rows if r["label"].startswith("gsm8k")][:20]
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(make_batch([r["text"] for r in gsm[0::2]], ids=[r["id"] for r in gsm[0::2]], source="a"), first)
    pq.write_table(make_batch([r["text"] for r in gsm[1::2]] + ["A new sentence about rivers."],
                              ids=[r["id"] for r in gsm[1::2]] + ["fresh"], source="b"), second)
    DedupStage().run_global([str(first)], GlobalContext(engine="local", work_dir=str(tmp_path / "w1"),
                                                            output_dir=str(tmp_path / "o1")))
    for engine in ("local", "ray"):
        DedupStage(num_partitions=2).run_global(
            [str(second)], GlobalContext(engine=engine, work_dir=str(tmp_path / f"w2{engine}"),
                                         previous_outputs=(str(tmp_path / "o1"),),
                                         output_dir=str(tmp_path / f"o2{engine}")))
    a = read_marks(Store.at(tmp_path / "w2local" / "marks"))
    b = read_marks(Store.at(tmp_path / "w2ray" / "marks"))
    assert a.equals(b)
    old_ids = {r["id"] for r in gsm[0::2]}
    assert set(b.filter(pl.col("dup_of").is_not_null())["dup_of"].to_list()) <= old_ids
    assert b.filter(pl.col("dup_of").is_not_null()).height >= 9
    kept = pl.concat([pl.read_parquet(f) for f in index_files(Store.at(tmp_path / "o2ray" / "index" / "dedup"))])["id"].to_list()
    assert "fresh" in kept


@pytest.mark.cluster
@pytest.mark.slow
def test_exact_only_on_ray_matches_local(tmp_path, ray_local):
    """No near-duplicate edges: components are the exact groups (the Ray path without labels)."""
    rows = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()][:30]
    texts = [r["text"] for r in rows] + [rows[0]["text"], rows[5]["text"].upper()]
    ids = [r["id"] for r in rows] + ["copy0", "copy5"]
    path = str(tmp_path / "in.parquet")
    pq.write_table(make_batch(texts, ids=ids, source="s"), path)
    for engine in ("local", "ray"):
        DedupStage(near=False, num_partitions=2).run_global([path], GlobalContext(engine=engine, work_dir=str(tmp_path / engine)))
    a, b = read_marks(Store.at(tmp_path / "local" / "marks")), read_marks(Store.at(tmp_path / "ray" / "marks"))
    assert a.equals(b) and set(b["dup_reason"].drop_nulls().to_list()) == {"exact"}
    dropped = set(b.filter(pl.col("dup_of").is_not_null())["id"].to_list())
    # one of each injected copy pair goes (the rows may hold exact duplicates of their own)
    assert dropped & {"copy0", ids[0]} and dropped & {"copy5", ids[5]}
