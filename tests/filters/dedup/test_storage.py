"""Dedup's storage rules: a directory counts only with its marker, leftovers are cleared
before a rewrite, and where the marks are is runtime state, never config."""

import dataclasses
import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from filters.dedup.index import INDEX_SUBDIR, load_index
from filters.dedup.marks import read_marks, write_marks
from filters.dedup.stage import DedupStage
from filters.dedup.storage import DONE, Store
from pipeline.run.ray.stage_actor import build_from_spec, stage_spec
from pipeline.schema import make_batch
from pipeline.stage import GlobalContext

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"


def _marks(parts: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"node": list(range(len(parts))), "id": [f"d{i}" for i in range(len(parts))], "part": parts,
                         "dup_cluster": ["d0"] * len(parts), "dup_of": [None] + ["d0"] * (len(parts) - 1),
                         "dup_reason": [None] + ["near"] * (len(parts) - 1)},
                        schema_overrides={"part": pl.Int32})


def test_a_directory_is_done_only_with_its_marker_and_leftovers_are_cleared(tmp_path):
    store = Store.at(str(tmp_path / "work"))
    leftover = tmp_path / "work" / "marks" / "part=7" / "marks.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a file")  # a run killed before the marker
    assert store.exists("marks") and not store.is_done("marks")
    marks = write_marks(_marks([0, 0, 1]), store)
    assert store.is_done("marks") and (tmp_path / "work" / "marks" / DONE).exists()
    assert not leftover.exists()
    assert sorted(read_marks(marks)["part"].unique().to_list()) == [0, 1]
    assert not list((tmp_path / "work").rglob("*.tmp"))


def test_an_index_without_its_marker_is_an_error_not_a_silent_miss(tmp_path):
    rows = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()][:12]
    path = tmp_path / "in.parquet"
    pq.write_table(make_batch([r["text"] for r in rows], ids=[r["id"] for r in rows], source="s"), path)
    stage = DedupStage()
    stage.run_global([str(path)], GlobalContext(engine="local", work_dir=str(tmp_path / "w"),
                                                output_dir=str(tmp_path / "out")))
    meta = stage.plan().meta()
    assert load_index([str(tmp_path / "out")], meta).num_rows > 0
    (tmp_path / "out" / INDEX_SUBDIR / DONE).unlink()
    with pytest.raises(ValueError, match="_SUCCESS"):
        load_index([str(tmp_path / "out")], meta)


def test_where_the_marks_are_is_runtime_state_shipped_to_ray_actors(tmp_path):
    assert "work_dir" not in {f.name for f in dataclasses.fields(DedupStage)}
    assert "work_uri" not in {f.name for f in dataclasses.fields(DedupStage)}
    rows = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()][:30]
    path = str(tmp_path / "in.parquet")
    batch = make_batch([r["text"] for r in rows], ids=[r["id"] for r in rows], source="s")
    pq.write_table(batch, path)
    stage = DedupStage(threshold=0.6)
    assert stage_spec(stage, "dedup", 0)["params"] == {f.name: getattr(stage, f.name)
                                                       for f in dataclasses.fields(stage)}
    stage.run_global([path], GlobalContext(engine="local", work_dir=str(tmp_path / "w")))
    spec = stage_spec(stage, "dedup", 0)
    assert spec["params"]["work_uri"] == str(tmp_path / "w") and spec["params"]["threshold"] == 0.6
    actor = build_from_spec(spec)  # as a Ray actor builds it
    actor.setup()
    actor.bind_input(path)
    stage.bind_input(path)
    out = actor(batch)
    assert out.equals(stage(batch)) and out["drop_reason"].null_count < out.num_rows


def test_hash_tables_are_written_plain_and_read_back_the_same(tmp_path):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(0)
    sig = pa.FixedSizeListArray.from_arrays(pa.array(rng.integers(0, 2**32, 128 * 500, dtype=np.uint32)), 128)
    table = pa.table({"id": [f"d{i}" for i in range(500)], "sig": sig})
    store = Store.at(str(tmp_path))
    plain = store.write_table(table, "plain.parquet", hashes=True)
    default = store.write_table(table, "default.parquet")
    for path, dictionary, codec in ((plain, False, "UNCOMPRESSED"), (default, True, "SNAPPY")):
        column = pq.ParquetFile(path).metadata.row_group(0).column(1)
        assert column.has_dictionary_page == dictionary and column.compression == codec
        assert store.read_table(path).equals(table)
