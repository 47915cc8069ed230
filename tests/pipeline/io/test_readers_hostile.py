"""Hostile inputs that once crashed a run or miscounted records (issue 15, item 6).

Each is now a contained outcome with file and offset, and a run over it keeps the
accounting ``records_in = kept + rejected + errored``:

* input fields named like reserved columns *and* like their renamed forms
  (``source`` and ``input_source``): every value in its own column, on its own row;
* dangling and looping ``*.jsonl`` symlinks (and a symlinked directory pointing back up)
  inside an input directory: skipped with a reason, on every rerun;
* a dictionary-encoded Parquet text column: read like a plain one;
* an undecodable Parquet row group: one error per row it held, at the rows' offsets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import InputConfig, load_config
from pipeline.io.readers import read_file, resolve_inputs
from pipeline.io.readers.jsonl import carried_name
from pipeline.run.local import run_local

ROOT = Path(__file__).resolve().parents[3]
BROKEN = ROOT / "tests" / "data" / "broken"
DEV = ROOT / "tests" / "data" / "dev"


def read_all(path: Path | str, batch_size: int = 3, **options) -> tuple[pa.Table, pa.Table]:
    chunks = list(read_file(str(path), InputConfig(batch_size=batch_size, **options)))
    records = pa.concat_tables([c.records for c in chunks], promote_options="permissive")
    errors = pa.concat_tables([c.errors for c in chunks])
    return records, errors


def run_dir(inputs: list[str], out: Path, overwrite: bool = False) -> dict:
    config = load_config(data={"input": {"paths": inputs, "batch_size": 4}, "output": {"dir": str(out)},
                               "run": {"max_error_rate": 1.0}, "stages": []})
    run_local(config, progress=None, overwrite=overwrite)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]
    return stats


# --- reserved names and their renamed forms -------------------------------------------------

def test_carried_name_is_one_to_one_and_never_reserved():
    names = ["source", "input_source", "input_input_source", "origin", "drop_reason", "source_offset",
             "input_source_offset", "input_ids", "lang", "input_", "input_lang"]
    carried = [carried_name(n) for n in names]
    assert len(set(carried)) == len(names)
    assert carried[:3] == ["input_source", "input_input_source", "input_input_input_source"]
    assert carried_name("input_ids") == "input_ids" and carried_name("lang") == "lang"
    assert not {"id", "text", "source", "url", "origin", "drop_reason", "source_offset"} & set(carried)


def test_one_row_with_a_field_and_its_renamed_form_is_read(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"text": "a", "source": "S", "input_source": "IS"}) + "\n")
    records, errors = read_all(path)
    assert errors.num_rows == 0 and records.num_rows == 1
    assert records["input_source"].to_pylist() == ["S"]
    assert records["input_input_source"].to_pylist() == ["IS"]
    assert records["source"].to_pylist() == [str(path)]


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_colliding_fields_stay_on_their_own_rows(batch_size):
    path = BROKEN / "field_collisions.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records, errors = read_all(path, batch_size=batch_size)
    assert errors.num_rows == 0 and records.num_rows == len(lines)
    assert records["id"].to_pylist() == [r["id"] for r in lines]
    assert records["source"].to_pylist() == [str(path)] * len(lines)
    assert records["source_offset"].to_pylist() == list(range(1, len(lines) + 1))
    assert records["url"].to_pylist() == [r.get("url") for r in lines]
    fields = {k for r in lines for k in r} - {"id", "text", "url"}
    for field in fields:
        column = carried_name(field)
        assert records[column].to_pylist() == [r.get(field) for r in lines], field


def test_parquet_columns_named_like_renamed_forms_are_all_kept(tmp_path):
    path = tmp_path / "cols.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "source": ["s0", "s1"], "input_source": ["is0", "is1"],
                             "origin": ["o0", None]}), path)
    records, errors = read_all(path)
    assert errors.num_rows == 0
    assert records["input_source"].to_pylist() == ["s0", "s1"]
    assert records["input_input_source"].to_pylist() == ["is0", "is1"]
    assert records["input_origin"].to_pylist() == ["o0", None]
    assert records["origin"].to_pylist() == ["crawl", "crawl"]


# --- Parquet: dictionary-encoded text, an undecodable row group ---------------------------------

def dev_rows(name: str, n: int) -> list[dict]:
    with open(DEV / name, encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def test_dictionary_encoded_text_id_and_url_columns_are_read(tmp_path):
    rows = dev_rows("neg_en.jsonl", 12)
    texts = [r["text"] for r in rows] + [rows[0]["text"]]  # a repeated value, as dictionaries hold
    ids = [r["id"] for r in rows] + ["again"]
    table = pa.table({"text": pa.array(texts).dictionary_encode(), "id": pa.array(ids).dictionary_encode(),
                      "url": pa.array([None] * len(ids), pa.string()).dictionary_encode(),
                      "license": pa.array([r["license"] for r in rows] + ["x"]).dictionary_encode()})
    path = tmp_path / "dict.parquet"
    pq.write_table(table, path, row_group_size=5)
    assert pa.types.is_dictionary(pq.ParquetFile(path).schema_arrow.field("text").type)
    records, errors = read_all(path, batch_size=4)
    assert errors.num_rows == 0
    assert records["text"].to_pylist() == texts and records.schema.field("text").type == pa.large_string()
    assert records["id"].to_pylist() == ids
    assert records["source_offset"].to_pylist() == list(range(len(texts)))


def test_a_corrupt_row_group_counts_each_of_its_rows_as_errored():
    records, errors = read_all(BROKEN / "corrupt_rowgroup.parquet", batch_size=3)
    assert errors["offset"].to_pylist() == list(range(10, 20))
    assert all("unreadable Parquet row group 1 (rows 10..19)" in e for e in errors["error"].to_pylist())
    assert records.num_rows + errors.num_rows == pq.read_metadata(BROKEN / "corrupt_rowgroup.parquet").num_rows
    chunks = list(read_file(str(BROKEN / "corrupt_rowgroup.parquet"), InputConfig(batch_size=3)))
    assert max(c.errors.num_rows for c in chunks) <= 3  # errors come in chunks of the batch size too


# --- symlinks in an input directory -------------------------------------------------------------

@pytest.fixture
def linked_dir(tmp_path) -> Path:
    """An input dir with a good file, a dangling and a looping *.jsonl symlink, a symlink
    to the good file, and a symlinked directory pointing back up the tree."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    rows = dev_rows("neg_en.jsonl", 5)
    (d / "sub" / "good.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.symlink("nowhere.jsonl", d / "dangling.jsonl")
    os.symlink("loop.jsonl", d / "loop.jsonl")
    os.symlink(d / "sub" / "good.jsonl", d / "alias.jsonl")
    os.symlink("..", d / "sub" / "up")
    return d


def test_broken_symlinks_are_skipped_with_a_reason(linked_dir):
    skipped: list[tuple[str, str]] = []
    found = resolve_inputs([str(linked_dir)], skipped)
    assert found == [str(linked_dir / "alias.jsonl"), str(linked_dir / "sub" / "good.jsonl")]
    assert dict(skipped).keys() == {str(linked_dir / "dangling.jsonl"), str(linked_dir / "loop.jsonl")}
    assert "symbolic links" in dict(skipped)[str(linked_dir / "loop.jsonl")]


def test_recursive_glob_does_not_follow_a_link_back_up(linked_dir):
    skipped: list[tuple[str, str]] = []
    found = resolve_inputs([str(linked_dir / "**" / "*.jsonl")], skipped)
    assert found == [str(linked_dir / "alias.jsonl"), str(linked_dir / "sub" / "good.jsonl")]
    assert len(skipped) == 2


def test_a_run_over_a_dir_with_broken_symlinks_completes_and_reruns(linked_dir, tmp_path):
    out = tmp_path / "out"
    for overwrite in (False, True):
        stats = run_dir([str(linked_dir)], out, overwrite=overwrite)
        assert stats["records_in"] == stats["kept"] == 10 and stats["errored"] == 0


def test_an_input_that_vanishes_before_it_is_read_is_one_error_at_offset_0(tmp_path):
    path = tmp_path / "gone.jsonl"
    path.write_text('{"text": "x"}\n')
    [resolved] = resolve_inputs([str(path)])
    path.unlink()
    records, errors = read_all(resolved)
    assert records.num_rows == 0
    assert errors.to_pylist() == [{"source": resolved, "offset": 0, "error": errors["error"][0].as_py()}]
    assert "cannot open input file" in errors["error"][0].as_py()


# --- all of it in one run -----------------------------------------------------------------------

def test_a_run_over_every_hostile_input_keeps_the_accounting(linked_dir, tmp_path):
    rows = dev_rows("neg_en.jsonl", 6)
    pq.write_table(pa.table({"text": pa.array([r["text"] for r in rows]).dictionary_encode(),
                             "id": [r["id"] for r in rows]}), linked_dir / "dict.parquet")
    for name in ("field_collisions.jsonl", "corrupt_rowgroup.parquet"):
        (linked_dir / name).write_bytes((BROKEN / name).read_bytes())
    stats = run_dir([str(linked_dir)], tmp_path / "out")
    # 5 good + 5 via the alias + 6 dictionary rows + 8 colliding rows + 20 of 30 Parquet rows
    assert stats["kept"] == 5 + 5 + 6 + 8 + 20
    assert stats["errored"] == 10 and stats["records_in"] == stats["kept"] + 10
    errors = pq.read_table(sorted((tmp_path / "out" / "errors").glob("*.parquet"))[0])
    assert sorted(errors["offset"].to_pylist()) == list(range(10, 20))
