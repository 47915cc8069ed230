"""Core schema helpers: stable ids, typed columns, first drop reason wins."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.schema import (CORE_SCHEMA, active_mask, concat, drop_rows, make_batch, set_column, stable_id)


def test_stable_id_is_deterministic_and_distinct():
    assert stable_id("a.warc.gz", 10) == stable_id("a.warc.gz", 10)
    assert stable_id("a.warc.gz", 10) != stable_id("a.warc.gz", 11)
    assert stable_id("a.warc.gz", 10) != stable_id("b.warc.gz", 10)
    assert len(stable_id("x", 1)) == 16


def test_make_batch_has_core_schema():
    batch = make_batch(["一", "two"], ids=["1", "2"], source="s.jsonl", urls=[None, "http://x"])
    assert batch.schema.equals(CORE_SCHEMA)
    assert batch["origin"].to_pylist() == ["crawl", "crawl"]
    assert batch["drop_reason"].null_count == 2


def test_first_reason_wins():
    batch = make_batch(["a", "b", "c"], ids=["1", "2", "3"], source="s")
    batch = drop_rows(batch, np.array([True, False, False]), "first:x")
    batch = drop_rows(batch, np.array([True, True, False]), "second:y")
    assert batch["drop_reason"].to_pylist() == ["first:x", "second:y", None]
    assert active_mask(batch).tolist() == [False, False, True]


def test_per_row_reasons_and_set_column():
    batch = make_batch(["a", "b"], ids=["1", "2"], source="s")
    batch = drop_rows(batch, np.array([True, True]), ["s:a", "s:b"])
    assert batch["drop_reason"].to_pylist() == ["s:a", "s:b"]
    batch = set_column(batch, "score", pa.array([0.5, 0.25]))
    batch = set_column(batch, "score", pa.array([1.0, 2.0]))
    assert batch.column_names.count("score") == 1 and batch["score"].to_pylist() == [1.0, 2.0]


def test_concat_fills_missing_columns():
    a = set_column(make_batch(["a"], ids=["1"], source="s"), "lang", pa.array(["en"]))
    b = make_batch(["b"], ids=["2"], source="s")
    both = concat([a, b])
    assert both["lang"].to_pylist() == ["en", None]
