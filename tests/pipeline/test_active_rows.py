from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from pipeline.active_rows import ActiveRows
from pipeline.schema import drop_rows, empty_batch, make_batch


def _batch(n: int = 5, dropped: tuple[int, ...] = (1, 3)) -> pa.Table:
    batch = make_batch([f"text {i}" for i in range(n)], ids=[str(i) for i in range(n)], source="s")
    mask = np.zeros(n, dtype=bool)
    mask[list(dropped)] = True
    return drop_rows(batch, mask, "earlier:gone")


def test_selects_the_rows_not_dropped():
    rows = ActiveRows.of(_batch())
    assert rows.indices.tolist() == [0, 2, 4]
    assert rows.mask.tolist() == [True, False, True, False, True]
    assert len(rows) == 3 and rows.num_rows == 5 and not rows.all
    assert rows.column("text").to_pylist() == ["text 0", "text 2", "text 4"]
    assert rows.column("text").type == pa.large_string()
    assert rows.table(["id"]).column("id").to_pylist() == ["0", "2", "4"]
    assert rows.take(np.arange(5) * 10).tolist() == [0, 20, 40]
    with pytest.raises(KeyError):
        rows.column("nope")


def test_where_narrows_the_selection():
    rows = ActiveRows.of(_batch(), where=np.array([True, True, False, True, True]))
    assert rows.indices.tolist() == [0, 4]


def test_scatter_numpy_and_arrow_with_nulls_elsewhere_and_reasons_with_nulls():
    batch = _batch()
    rows = ActiveRows.of(batch)
    out = rows.scatter(batch, {
        "score": (np.array([0.5, 1.5, 2.5]), pa.float32()),
        "n": np.array([1, 2, 3], dtype=np.int64),
        "flag": np.array([True, False, True]),
        "label": pa.array(["a", None, "c"], pa.string()),
        "kind": (np.array(["x", "y", "z"], dtype=object), pa.string()),
    }, reasons=pa.array([None, "mine:bad", None], pa.string()))
    assert out.schema.field("score").type == pa.float32()
    assert out["score"].to_pylist() == [0.5, None, 1.5, None, 2.5]
    assert out.schema.field("n").type == pa.int64() and out["n"].to_pylist() == [1, None, 2, None, 3]
    assert out["flag"].to_pylist() == [True, None, False, None, True]
    assert out["label"].to_pylist() == ["a", None, None, None, "c"]
    assert out["kind"].to_pylist() == ["x", None, "y", None, "z"]
    assert out["drop_reason"].to_pylist() == [None, "earlier:gone", "mine:bad", "earlier:gone", None]
    assert out.schema.field("drop_reason") == batch.schema.field("drop_reason")
    assert out.column_names[:6] == batch.column_names  # core columns untouched, new ones appended


def test_reason_masks_first_listed_wins():
    batch = _batch()
    rows = ActiveRows.of(batch)
    out = rows.scatter(batch, reasons={"s:first": np.array([True, False, True]), "s:second": np.array([True, True, False])})
    assert out["drop_reason"].to_pylist() == ["s:first", "earlier:gone", "s:second", "earlier:gone", "s:first"]


def test_reasons_must_name_the_stage():
    batch = _batch()
    with pytest.raises(ValueError, match="<stage>:<why>"):
        ActiveRows.of(batch).scatter(batch, reasons=np.array(["bad", None, None], dtype=object))


def test_none_dropped_passes_arrays_through():
    batch = _batch(dropped=())
    rows = ActiveRows.of(batch)
    assert rows.all
    texts = rows.column("text")
    assert texts.to_pylist() == [f"text {i}" for i in range(5)]
    values = pa.array([1, 2, 3, 4, 5], pa.int32())
    out = rows.scatter(batch, {"v": values}, reasons=[None, None, "x:y", None, None])
    assert out["v"].to_pylist() == [1, 2, 3, 4, 5]
    assert out.schema.field("v").type == pa.int32()
    assert out["drop_reason"].to_pylist() == [None, None, "x:y", None, None]


def test_all_dropped():
    batch = _batch(dropped=(0, 1, 2, 3, 4))
    rows = ActiveRows.of(batch)
    assert len(rows) == 0
    assert rows.column("text").type == pa.large_string() and len(rows.column("text")) == 0
    out = rows.scatter(batch, {"score": (np.zeros(0), pa.float32()), "lang": pa.array([], pa.string())},
                       reasons=pa.array([], pa.string()))
    assert out["score"].type == pa.float32() and out["score"].null_count == 5
    assert out["lang"].type == pa.string() and out["lang"].null_count == 5
    assert out["drop_reason"].to_pylist() == ["earlier:gone"] * 5
    updated = rows.scatter(batch, {"text": pa.array([], pa.large_string())}, keep_inactive=True)
    assert updated["text"].to_pylist() == batch["text"].to_pylist()


def test_empty_batch():
    batch = empty_batch()
    rows = ActiveRows.of(batch)
    assert len(rows) == 0 and rows.num_rows == 0 and rows.all
    assert rows.column("text").type == pa.large_string() and len(rows.column("text")) == 0
    out = rows.scatter(batch, {"flag": (np.zeros(0, dtype=bool), pa.bool_())}, reasons={"s:x": np.zeros(0, bool)})
    assert out.num_rows == 0 and out.schema.field("flag").type == pa.bool_()
    assert out.schema.field("text") == batch.schema.field("text")


def test_chunked_input_columns():
    a, b = _batch(3, dropped=(1,)), _batch(3, dropped=(0,))
    batch = pa.concat_tables([a, b])
    assert batch["text"].num_chunks == 2
    rows = ActiveRows.of(batch)
    assert rows.indices.tolist() == [0, 2, 4, 5]
    texts = rows.column("text")
    assert isinstance(texts, pa.Array)
    assert texts.to_pylist() == ["text 0", "text 2", "text 1", "text 2"]
    out = rows.scatter(batch, {"text": pc_upper(texts)}, reasons=["s:x", None, None, None], keep_inactive=True)
    assert out["text"].to_pylist() == ["TEXT 0", "text 1", "TEXT 2", "text 0", "TEXT 1", "TEXT 2"]
    assert out["drop_reason"].to_pylist() == ["s:x", "earlier:gone", None, "earlier:gone", None, None]


def pc_upper(arr: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.utf8_upper(arr)


def test_replacing_an_existing_column_keeps_its_type_and_field():
    batch = _batch()
    rows = ActiveRows.of(batch)
    new = pa.array(["A", "B", "C"], pa.string())  # given as string: stored as the column's large_string
    out = rows.scatter(batch, {"text": new}, keep_inactive=True)
    assert out.schema.field("text") == batch.schema.field("text")  # large_string, not nullable
    assert out["text"].to_pylist() == ["A", "text 1", "B", "text 3", "C"]
    assert out.column_names == batch.column_names


def test_keep_inactive_with_an_explicit_type_and_a_missing_column():
    batch = _batch()
    first = ActiveRows.of(batch, where=np.array([True, False, False, False, False]))
    batch = first.scatter(batch, {"verified": ([True], pa.bool_())}, keep_inactive=True)
    assert batch["verified"].to_pylist() == [True, None, None, None, None]  # new column: null elsewhere
    second = ActiveRows.of(batch, where=np.array([False, False, True, False, True]))
    batch = second.scatter(batch, {"verified": (np.array([False, True]), pa.bool_())}, keep_inactive=True)
    assert batch["verified"].to_pylist() == [True, None, False, None, True]  # the first rows keep theirs


def test_replacing_without_keep_inactive_nulls_the_other_rows():
    batch = _batch()
    rows = ActiveRows.of(batch)
    batch = rows.scatter(batch, {"lang": (np.array(["en", "en", "zh"], dtype=object), pa.string())})
    batch = rows.scatter(batch, {"lang": pa.array(["fr", "de", "it"])})
    assert batch.column_names.count("lang") == 1
    assert batch["lang"].to_pylist() == ["fr", None, "de", None, "it"]


def test_types_must_be_explicit_where_ambiguous_and_lengths_must_match():
    batch = _batch()
    rows = ActiveRows.of(batch)
    with pytest.raises(TypeError):
        rows.scatter(batch, {"lang": np.array(["a", "b", "c"], dtype=object)})
    with pytest.raises(ValueError):
        rows.scatter(batch, {"n": np.arange(5)})  # full length, not per active row
    with pytest.raises(ValueError):
        rows.scatter(batch.slice(0, 4), {"n": np.arange(3)})


def test_numpy_values_are_cast_to_the_given_type():
    batch = _batch()
    rows = ActiveRows.of(batch)
    out = rows.scatter(batch, {"f": (np.array([0.25, 0.5, 0.75]), pa.float32()),
                               "i": (np.array([1, 2, 3], dtype=np.int64), pa.int32())})
    assert out.schema.field("f").type == pa.float32() and out["f"].to_pylist() == [0.25, None, 0.5, None, 0.75]
    assert out.schema.field("i").type == pa.int32() and out["i"].to_pylist() == [1, None, 2, None, 3]


def test_keep_inactive_on_a_nested_column():
    batch = _batch()
    batch = batch.append_column("tags", pa.array([["a"], ["b"], [], ["d"], None], pa.list_(pa.string())))
    rows = ActiveRows.of(batch)
    out = rows.scatter(batch, {"tags": pa.array([["x"], None, ["z", "z"]], pa.list_(pa.string()))}, keep_inactive=True)
    assert out["tags"].to_pylist() == [["x"], ["b"], None, ["d"], ["z", "z"]]
