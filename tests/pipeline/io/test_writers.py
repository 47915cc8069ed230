"""Writers: kept/rejected split, temp names renamed on close, schema drift, abort."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.config import OutputConfig
from pipeline.schema import drop_rows, make_batch, set_column
from pipeline.io.writers import OutputWriter


def batch(n: int, start: int = 0) -> pa.Table:
    texts = [f"document number {i} " * 20 for i in range(start, start + n)]
    b = make_batch(texts, ids=[str(i) for i in range(start, start + n)], source="in.jsonl")
    b = set_column(b, "score", pa.array(np.linspace(0, 1, n)))
    return drop_rows(b, np.arange(n) % 3 == 0, "test:third")


def test_split_and_rename(tmp_path):
    w = OutputWriter(str(tmp_path), OutputConfig(row_group_rows=8), "part-a")
    w.write(batch(30))
    assert list(tmp_path.rglob("*.tmp"))  # open shards are temp files until closed
    entries = w.close()
    assert not list(tmp_path.rglob("*.tmp"))
    kinds = {e.kind: e for e in entries}
    assert kinds["data"].rows == 20 and kinds["rejects"].rows == 10
    data = pq.read_table(tmp_path / kinds["data"].path)
    rejects = pq.read_table(tmp_path / kinds["rejects"].path)
    assert "drop_reason" not in data.column_names and "text" in data.column_names
    assert "text" not in rejects.column_names and set(rejects["drop_reason"].to_pylist()) == {"test:third"}
    assert pq.ParquetFile(tmp_path / kinds["data"].path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_small_batches_are_written_as_whole_row_groups(tmp_path):
    """Batches smaller than a row group wait for the next ones: the file has row groups of
    ``row_group_rows`` (and one remainder), not one per batch."""
    w = OutputWriter(str(tmp_path), OutputConfig(row_group_rows=50), "p")
    for k in range(10):
        w.write(batch(30, 30 * k))  # 20 kept rows each
    entries = w.close()
    data = [e for e in entries if e.kind == "data"][0]
    meta = pq.ParquetFile(tmp_path / data.path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [50, 50, 50, 50]
    assert pq.read_table(tmp_path / data.path)["id"].to_pylist() == [str(i) for i in range(300) if i % 3]


def test_rejects_text_when_configured(tmp_path):
    w = OutputWriter(str(tmp_path), OutputConfig(rejects_text=True), "p")
    w.write(batch(6))
    entries = w.close()
    rejects = [e for e in entries if e.kind == "rejects"][0]
    assert "text" in pq.read_table(tmp_path / rejects.path).column_names


def test_rolls_over_at_target_size_and_conforms_null_columns(tmp_path):
    w = OutputWriter(str(tmp_path), OutputConfig(target_shard_mb=0.005, row_group_rows=50), "p")
    first = set_column(batch(200), "note", pa.nulls(200))  # all-null column: stored as string
    w.write(first)
    w.write(set_column(batch(200, 200), "note", pa.array(["x"] * 200)))
    w.write(batch(200, 400))  # missing column: filled with nulls
    entries = [e for e in w.close() if e.kind == "data"]
    kept = 3 * 133  # a third of each batch is dropped
    assert len(entries) > 1 and sum(e.rows for e in entries) == kept
    table = pa.concat_tables([pq.read_table(tmp_path / e.path) for e in entries], promote_options="permissive")
    assert table.num_rows == kept and table.schema.field("note").type == pa.string()


def test_abort_leaves_nothing(tmp_path):
    w = OutputWriter(str(tmp_path), OutputConfig(), "p")
    w.write(batch(10))
    w.abort()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_clear_previous_removes_only_this_part(tmp_path):
    a = OutputWriter(str(tmp_path), OutputConfig(), "a")
    a.write(batch(5))
    a.close()
    b = OutputWriter(str(tmp_path), OutputConfig(), "b")
    b.write(batch(5))
    b.close()
    OutputWriter(str(tmp_path), OutputConfig(), "a").clear_previous()
    names = sorted(p.name for p in tmp_path.rglob("*.parquet"))
    assert names and all(n.startswith("b-") for n in names)


def test_spill_is_one_file_even_when_columns_appear_and_change_type(tmp_path):
    import pyarrow.fs as pafs

    from pipeline.io.writers import SpillWriter

    w = SpillWriter(pafs.LocalFileSystem(), str(tmp_path), "spill/seg1", "part-a", OutputConfig())
    first = batch(10)
    w.write(first)
    w.write(set_column(batch(5, start=10), "late", pa.array(list(range(5)), pa.int64())))
    w.write(set_column(batch(5, start=15), "late", pa.array([f"s{i}" for i in range(5)])))
    path = w.close()
    assert path == "spill/seg1/part-a-0000.parquet"
    assert sorted(p.name for p in tmp_path.rglob("*.parquet")) == ["part-a-0000.parquet"]
    table = pq.read_table(tmp_path / path)
    assert table.num_rows == 20
    assert table["id"].to_pylist() == [str(i) for i in range(20)]
    assert table["late"].to_pylist() == [None] * 10 + [str(i) for i in range(5)] + [f"s{i}" for i in range(5)]
    assert table["drop_reason"].to_pylist() == batch(10)["drop_reason"].to_pylist() + 2 * batch(5)["drop_reason"].to_pylist()


def test_dictionary_encoding_only_where_values_repeat(tmp_path):
    """Text, id and url are written plain (no dictionary built and dropped); short string
    and boolean columns keep their dictionaries; values read back unchanged."""
    b = set_column(batch(40), "lang", pa.array(["en", "zh"] * 20))
    b = set_column(b, "flag", pa.array([True, False] * 20))
    w = OutputWriter(str(tmp_path), OutputConfig(row_group_rows=16), "p")
    w.write(b)
    entries = {e.kind: e for e in w.close()}
    path = tmp_path / entries["data"].path
    meta = pq.ParquetFile(path).metadata
    encodings = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).encodings
                 for i in range(meta.num_columns)}
    for plain in ("text", "id", "score"):
        assert "RLE_DICTIONARY" not in encodings[plain] and "PLAIN_DICTIONARY" not in encodings[plain], plain
    assert "RLE_DICTIONARY" in encodings["lang"] and "RLE_DICTIONARY" in encodings["source"]
    kept = b.filter(pc.is_null(b["drop_reason"])).drop_columns(["drop_reason"])
    assert pq.read_table(path).equals(kept)
