"""signature_table: one row per active document, whatever the dropped rows around it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filters.dedup.signatures import SignatureConfig, signature_table


def _batch(with_offsets: bool) -> pa.Table:
    texts = [f"document {i} " + "word " * (i % 7) + "数学 题目" * (i % 3) for i in range(40)] + ["ΣΑΣ İ", ""]
    n = len(texts)
    reasons = [None if i % 4 else "heuristics:short" for i in range(n)]
    columns = {"source": pa.array(["a.jsonl"] * n), "id": pa.array([f"d{i % 30}" for i in range(n)]),
               "text": pa.array(texts), "drop_reason": pa.array(reasons, pa.string()),
               "quality_score": pa.array(np.linspace(0, 1, n))}
    if with_offsets:
        columns["source_offset"] = pa.array(np.arange(n) * 100, pa.int64())
    return pa.table(columns)


@pytest.mark.parametrize("with_offsets", [True, False])
def test_dropped_rows_change_nothing(with_offsets):
    """The active rows read in place give the table their filtered batch gives (with reader
    offsets the text is not copied out; without them the row keys hash it)."""
    batch = _batch(with_offsets)
    active = batch.filter(pc.is_null(batch["drop_reason"]))
    got = signature_table(batch, SignatureConfig(), part=3)
    want = signature_table(active, SignatureConfig(), part=3)
    assert got.num_rows == active.num_rows == 31
    assert got.equals(want)
