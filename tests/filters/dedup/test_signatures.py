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


def test_signature_column_round_trip_in_either_form():
    """sig_array stores each row's values as one little-endian binary value; sig_matrix
    reads them back from any slice or chunking, and reads the list form too."""
    import numpy as np
    import pyarrow as pa

    from filters.dedup.signatures import sig_array, sig_matrix

    rng = np.random.default_rng(3)
    sig = rng.integers(0, 2**32, size=(50, 16), dtype=np.uint64).astype(np.uint32)
    arr = sig_array(sig)
    assert arr.type == pa.binary(64) and arr[0].as_py() == sig[0].astype("<u4").tobytes()
    assert np.array_equal(sig_matrix(arr, 16), sig)
    assert np.array_equal(sig_matrix(arr.slice(7, 20), 16), sig[7:27])
    assert np.array_equal(sig_matrix(pa.chunked_array([arr.slice(0, 5), arr.slice(30)]), 16), np.vstack([sig[:5], sig[30:]]))
    listed = pa.FixedSizeListArray.from_arrays(pa.array(sig.ravel(), pa.uint32()), 16)
    assert np.array_equal(sig_matrix(listed, 16), sig)
    assert sig_matrix(arr.slice(0, 0), 16).shape == (0, 16)
    import pytest
    with pytest.raises(ValueError, match="16"):
        sig_matrix(arr, 8)
