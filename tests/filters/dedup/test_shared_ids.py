"""Dedup decides per document, not per id (issue 15, item 7).

Ids come from the user and need not be unique: two documents sharing an id in one
input must each get their own decision. Before, marks were keyed (and graph nodes
hashed) by id, so a duplicate's mark also dropped the unrelated document with its id,
and two copies sharing an id were one node: neither was dropped. ``dup_of`` stays the
survivor's (user-facing) id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.dedup.stage import DedupStage
from filters.dedup.index import INDEX_SUBDIR, index_files
from filters.dedup.storage import Store
from pipeline.config import load_config
from pipeline.run.local import run_local
from pipeline.schema import make_batch
from pipeline.stage import GlobalContext

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"
ROWS = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()]
NEG = [json.loads(line) for line in (DEV / "neg_en.jsonl").open()]
CMATH = [r for r in ROWS if r["label"] == "cmath-000"]


def shared_id_rows() -> list[dict]:
    """(id, text) rows where ids repeat: see the expectations in ``check``."""
    near = sorted(CMATH, key=lambda r: len(r["text"]))
    return [
        {"id": "y", "text": NEG[0]["text"]},           # 0 survivor of an exact pair
        {"id": "z", "text": NEG[0]["text"]},           # 1 exact copy of 0 -> dropped, dup_of y (z > y)
        {"id": "z", "text": NEG[1]["text"]},           # 2 unrelated, same id as 1 -> kept
        {"id": "w", "text": NEG[2]["text"]},           # 3 two copies sharing one id: one survives
        {"id": "w", "text": NEG[2]["text"]},           # 4 ... and one is dropped, dup_of w
        {"id": "n", "text": near[0]["text"]},          # 5 shortest of a near-dup cluster -> dropped
        {"id": "n", "text": NEG[3]["text"]},           # 6 unrelated, same id as 5 -> kept
        {"id": "m", "text": near[-1]["text"]},         # 7 longest of the cluster -> survivor
    ] + [{"id": f"c{i}", "text": r["text"]} for i, r in enumerate(near[1:-1])]


def check(out: pa.Table) -> None:
    reasons, dup_of = out["drop_reason"].to_pylist(), out["dup_of"].to_pylist()
    assert reasons[:3] == [None, "dedup:exact", None] and dup_of[:3] == [None, "y", None]
    assert sorted([reasons[3] or "", reasons[4] or ""]) == ["", "dedup:exact"]
    assert sorted([dup_of[3] or "", dup_of[4] or ""]) == ["", "w"]
    assert reasons[5] == "dedup:near" and dup_of[5] == "m"
    assert reasons[6] is None and dup_of[6] is None and out["dup_cluster"][6].as_py() is None
    assert reasons[7] is None and out["dup_cluster"][7].as_py() == "m"
    assert all(r == "dedup:near" for r in reasons[8:]) and set(dup_of[8:]) == {"m"}


def run_stage(rows: list[dict], tmp_path: Path, engine: str = "local", output_dir: Path | None = None,
              offsets: bool = True) -> pa.Table:
    extra = {"source_offset": pa.array(range(1, len(rows) + 1), pa.int64())} if offsets else {}  # as every reader gives (line, row, byte)
    batch = make_batch([r["text"] for r in rows], ids=[r["id"] for r in rows], source="s", extra=extra)
    paths = [str(tmp_path / "in-0.parquet"), str(tmp_path / "in-1.parquet")]
    pq.write_table(batch.slice(0, 5), paths[0])
    pq.write_table(batch.slice(5), paths[1])
    stage = DedupStage(num_partitions=2)
    stage.run_global(paths, GlobalContext(engine=engine, work_dir=str(tmp_path / f"work-{engine}"),
                                          output_dir=output_dir and str(output_dir)))
    out = []
    for p in paths:
        stage.bind_input(p)
        out.append(stage(pq.read_table(p)))
    return pa.concat_tables(out)


def test_documents_sharing_an_id_get_their_own_decisions(tmp_path):
    check(run_stage(shared_id_rows(), tmp_path, output_dir=tmp_path / "out"))
    # the index holds the kept documents: the unrelated "z" and "n", one "w", never a dropped namesake
    index = pa.concat_tables([pq.read_table(f) for f in index_files(Store.at(tmp_path / "out").sub(INDEX_SUBDIR))])
    rows = shared_id_rows()
    want = sorted((rows[i]["id"], len(rows[i]["text"])) for i in (0, 2, 3, 6, 7))
    assert sorted(zip(index["id"].to_pylist(), index["length"].to_pylist())) == want


def test_without_reader_offsets_the_text_tells_namesakes_apart(tmp_path):
    """Rows from a caller without reader offsets: both phases key a row by its text too, so
    namesakes with different texts get their own decisions (rows 1 and 2, 5 and 6). Two
    rows alike in id and text (3 and 4) are then one key, and one decision: both kept."""
    out = run_stage(shared_id_rows(), tmp_path, offsets=False)
    reasons, dup_of = out["drop_reason"].to_pylist(), out["dup_of"].to_pylist()
    assert reasons[:3] == [None, "dedup:exact", None] and dup_of[:3] == [None, "y", None]
    assert reasons[3] is None and reasons[4] is None
    assert reasons[5] == "dedup:near" and dup_of[5] == "m" and reasons[6] is None and reasons[7] is None
    assert all(r == "dedup:near" for r in reasons[8:]) and set(dup_of[8:]) == {"m"}


def test_a_run_over_a_file_with_repeated_ids_drops_only_the_duplicates(tmp_path):
    """Through the runner: the key is the reader's (source, line), whatever the ids."""
    path = tmp_path / "in.jsonl"
    rows = shared_id_rows()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    config = load_config(data={"input": {"paths": [str(path)], "batch_size": 3}, "output": {"dir": str(out)},
                               "stages": ["dedup"]})
    run_local(config, progress=None)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"] == len(rows)
    tables = [pq.read_table(f) for sub in ("data", "rejects") for f in sorted((out / sub).glob("*.parquet"))]
    table = pa.concat_tables(tables, promote_options="permissive").sort_by("source_offset")
    assert table["source_offset"].to_pylist() == list(range(1, len(rows) + 1))
    check(table)


@pytest.mark.cluster
def test_documents_sharing_an_id_on_ray(tmp_path, ray_local):
    check(run_stage(shared_id_rows(), tmp_path, engine="ray"))


def test_row_keys_are_per_row_the_same_in_any_slice_and_keep_the_id_order():
    from filters.dedup.signatures import node_ids, row_keys

    rows = shared_id_rows()
    batch = make_batch([r["text"] for r in rows], ids=[r["id"] for r in rows], source="s",
                       extra={"source_offset": pa.array(range(len(rows)), pa.int64())})
    keys = row_keys(batch)
    assert len(set(keys.tolist())) == len(rows)
    assert (row_keys(batch.slice(3, 4)) == keys[3:7]).all()
    # the high half is the id's hash: nodes of distinct ids sort as they did when nodes were id hashes
    ids = batch["id"].to_pylist()
    assert ((keys.view("uint64") >> 32) == (node_ids(ids).view("uint64") >> 32)).all()
    # without reader offsets a shared id is told apart by the text
    bare = batch.drop_columns(["source_offset"])
    assert row_keys(bare)[1] != row_keys(bare)[2] and row_keys(bare)[3] == row_keys(bare)[4]
