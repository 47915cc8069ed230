"""JSONL (plain/gzip/zstd) and Parquet readers on the real dev rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.config import InputConfig
from pipeline.io.readers import read_file
from pipeline.schema import CORE_COLUMNS, CORE_SCHEMA, stable_id

ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT / "tests" / "data" / "dev"


def read_all(path, **cfg):
    chunks = list(read_file(str(path), InputConfig(**cfg)))
    records = pa.concat_tables([c.records for c in chunks], promote_options="permissive")
    errors = pa.concat_tables([c.errors for c in chunks])
    return chunks, records, errors


def dev_lines(name):
    text = (DEV / name).read_text(encoding="utf-8")  # split on \n only: U+2028 inside a string is no line break
    return [json.loads(line) for line in text.split("\n") if line.strip()]


@pytest.mark.parametrize("name", ["math_pos_zh.jsonl", "math_pos_en.jsonl", "code_pos.jsonl", "langid.jsonl"])
def test_dev_files_read_completely_with_ids_as_given(name):
    rows = dev_lines(name)
    chunks, records, errors = read_all(DEV / name, batch_size=97)
    assert errors.num_rows == 0
    assert records.num_rows == len(rows)
    assert records["id"].to_pylist() == [r["id"] for r in rows]  # outside evaluations match on these
    assert records["text"].to_pylist() == [r["text"] for r in rows]
    assert records["source_offset"].to_pylist() == list(range(1, len(rows) + 1))
    assert all(c.records.num_rows <= 97 for c in chunks)
    assert records.schema.field("text").type == pa.large_string()
    assert tuple(records.column_names[: len(CORE_COLUMNS)]) == CORE_COLUMNS
    assert set(records["drop_reason"].to_pylist()) == {None}


def test_other_fields_become_columns_and_colliding_names_are_prefixed():
    rows = dev_lines("math_pos_zh.jsonl")
    _, records, _ = read_all(DEV / "math_pos_zh.jsonl", batch_size=50)
    assert records["input_source"].to_pylist() == [r["source"] for r in rows]  # "source" is a core column
    assert set(records["source"].to_pylist()) == {str(DEV / "math_pos_zh.jsonl")}
    assert records.schema.field("grade").type == pa.int64()
    assert records["answer"].to_pylist() == [r["answer"] for r in rows]
    assert "text" not in records.column_names[len(CORE_COLUMNS):] and "id" not in records.column_names[len(CORE_COLUMNS):]


def test_chunk_schemas_are_stable_within_a_file():
    chunks, _, _ = read_all(DEV / "code_pos.jsonl", batch_size=10)
    first = chunks[0].records.schema
    for chunk in chunks[1:]:
        schema = chunk.records.schema
        assert schema.names[: len(first.names)] == first.names
        for f in first:
            assert schema.field(f.name).type == f.type


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".ndjson"])
def test_compressed_files_match_the_plain_file(tmp_path, suffix):
    data = (DEV / "neg_zh.jsonl").read_bytes()
    path = tmp_path / f"neg_zh{suffix}"
    if suffix.endswith(".gz"):
        blob = gzip.compress(data)
    elif suffix.endswith(".zst"):
        blob = zstandard.ZstdCompressor().compress(data)
    else:
        blob = data
    path.write_bytes(blob)
    _, plain, _ = read_all(DEV / "neg_zh.jsonl")
    _, got, errors = read_all(path)
    assert errors.num_rows == 0
    assert got["id"].to_pylist() == plain["id"].to_pylist()
    assert got["text"].to_pylist() == plain["text"].to_pylist()


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path):
    a, b = b'{"text": "one"}\n', b'{"text": "two"}\n{"text": "three"}\n'
    (tmp_path / "m.jsonl.gz").write_bytes(gzip.compress(a) + gzip.compress(b))
    (tmp_path / "m.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(a) + zstandard.ZstdCompressor().compress(b))
    for name in ("m.jsonl.gz", "m.jsonl.zst"):
        _, records, errors = read_all(tmp_path / name)
        assert records["text"].to_pylist() == ["one", "two", "three"] and errors.num_rows == 0


def test_id_url_and_text_fields_are_configurable(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"content": "a", "doc_id": 7, "link": "https://x.org/a", "id": "other"}\n'
        '{"content": "b", "link": null}\n', encoding="utf-8")
    _, records, _ = read_all(path, text_field="content", id_field="doc_id", url_field="link")
    assert records["text"].to_pylist() == ["a", "b"]
    assert records["id"].to_pylist() == ["7", stable_id(str(path), 2)]
    assert records["url"].to_pylist() == ["https://x.org/a", None]
    assert records["input_id"].to_pylist() == ["other", None]


def test_field_types_fixed_by_first_sighting(tmp_path):
    lines = [{"text": f"t{i}", "n": i, "mixed": i if i % 2 else "s", "obj": {"k": i}} for i in range(4)]
    lines += [{"text": "t4", "n": "not a number", "late": True, "obj": [1, 2]}, {"text": "t5", "n": 5.0}]
    path = tmp_path / "types.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    chunks, records, errors = read_all(path, batch_size=4)
    assert errors.num_rows == 0 and records.num_rows == 6
    assert records.schema.field("n").type == pa.int64()
    assert records["n"].to_pylist() == [0, 1, 2, 3, None, 5]  # a later string cannot enter an int column
    assert records.schema.field("mixed").type == pa.string()  # mixed within the first chunk -> string
    assert records["mixed"].to_pylist()[:4] == ["s", "1", "s", "3"]
    assert records["obj"].to_pylist()[0] == '{"k":0}' and records["obj"].to_pylist()[4] == "[1,2]"
    assert chunks[1].records.schema.field("late").type == pa.bool_()
    assert "late" not in chunks[0].records.column_names


def test_parquet_reader_keeps_ids_types_and_row_offsets(tmp_path):
    rows = dev_lines("math_pos_zh.jsonl")[:50]
    table = pa.Table.from_pylist([{"id": r["id"], "text": r["text"], "grade": r["grade"], "source": r["source"]}
                                  for r in rows])
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path, row_group_size=16)
    chunks, records, errors = read_all(path, batch_size=10)
    assert errors.num_rows == 0
    assert records["id"].to_pylist() == [r["id"] for r in rows]
    assert records["text"].to_pylist() == [r["text"] for r in rows]
    assert records["source_offset"].to_pylist() == list(range(50))
    assert records["input_source"].to_pylist() == [r["source"] for r in rows]
    assert records.schema.field("grade").type == pa.int64()
    assert all(c.records.num_rows <= 10 for c in chunks)
    assert records.select(list(CORE_COLUMNS)).cast(CORE_SCHEMA).num_rows == 50


def test_parquet_null_text_and_missing_text_column_are_errors(tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c"], "id": [None, "x", "y"]}), path)
    _, records, errors = read_all(path)
    assert records["text"].to_pylist() == ["a", "c"]
    assert records["id"].to_pylist() == [stable_id(str(path), 0), "y"]
    assert errors.to_pylist() == [{"source": str(path), "offset": 1, "error": "text is null"}]
    other = tmp_path / "notext.parquet"
    pq.write_table(pa.table({"body": ["a", "b"]}), other)
    _, records, errors = read_all(other)
    assert records.num_rows == 0 and errors["offset"].to_pylist() == [0, 1]
    assert "missing text column 'text'" in errors["error"][0].as_py()


def test_extra_fields_as_one_json_column_or_dropped(tmp_path):
    from pipeline.io.readers.jsonl import read_jsonl
    from pipeline.io.readers.parquet import read_parquet

    rows = dev_lines("math_pos_zh.jsonl")[:30]
    chunks = list(read_jsonl(str(DEV / "math_pos_zh.jsonl"), batch_size=10, extra_fields="json"))
    records = pa.concat_tables([c.records for c in chunks])
    assert records.column_names == [*CORE_COLUMNS, "source_offset", "metadata"]
    meta = [json.loads(m) for m in records["metadata"].to_pylist()[:30]]
    assert meta == [{k: v for k, v in r.items() if k not in ("text", "id")} for r in rows]
    dropped = next(read_jsonl(str(DEV / "math_pos_zh.jsonl"), extra_fields="drop")).records
    assert dropped.column_names == [*CORE_COLUMNS, "source_offset"]
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "grade": [1, None]}), path)
    got = next(read_parquet(str(path), extra_fields="json")).records
    assert got["metadata"].to_pylist() == ['{"grade":1}', '{"grade":null}']
    with pytest.raises(ValueError, match="extra_fields"):
        next(read_jsonl(str(DEV / "math_pos_zh.jsonl"), extra_fields="typo"))
