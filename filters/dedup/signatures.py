"""Per-batch dedup signatures: the first phase, a pure function of one batch.

:func:`signature_table` turns a batch (core schema, dropped rows included) into one
row per *active* document: ``id``, ``node`` (the row key, see below: the graph node and
what the marks are keyed by),
``exact`` (xxh3-128 of the normalized text), ``length`` (characters), ``score``
(quality score used by the survivor rule, null if none), ``old`` (false: the
document belongs to this run), ``part`` (index of the input file, which the marks are
partitioned by) and ``sig`` (num_perm uint32 datasketch ``affine32`` values,
little-endian, as one fixed-size binary value: :func:`sig_array`; a Parquet list column
writes and reads every element with its own levels, ~5x the cost, and :func:`sig_matrix`
still reads that form, which indexes written before hold). The same function runs in the local phases and in a
Ray ``map_batches``, which is why local and Ray runs give identical signatures.

Decisions are keyed by :func:`row_keys`, never by the user's ``id`` alone (ids need not
be unique: two documents sharing one must each get their own decision). A key is an
int64 whose high 32 bits are those of the id's hash (what the node was before, so the
order of nodes, which decides the LSH buckets' star anchors and so which candidate edges
get verified, and with it every decision on documents with distinct ids, is unchanged)
and whose low 32 bits hash where the row came from and what it is: ``source``, the
reader's ``source_offset`` (line, row or byte offset: unique per input file) and ``id``,
or without an offset, ``id`` and a hash of the raw text. These columns travel unchanged
from the reader through the spill to the stage, so the global phase and ``__call__`` compute the same key on both
engines without the runner's help. Two rows collide with probability 2^-64 (distinct
ids) or 2^-32 (a shared id); without ``source_offset`` (batches built in code,
synthetic rows), two rows of one source sharing id *and* text always do: they share a
decision (both survive or both go).

:func:`band_keys` hashes each band (``rows`` consecutive signature values) to a
uint64 bucket key, vectorized over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filters.dedup.sketch.minhash import SCHEME, signatures
from filters.dedup.sketch.shingles import ShingleConfig, fast_shingle_hashes
from pipeline.active_rows import contiguous

SCORE_COLUMNS = ("quality_score", "math_score", "code_score")
"""Score columns the survivor rule looks at when ``score_column`` is "auto": the
largest of those present (a math page and a code page each keep their own signal)."""


@dataclass(frozen=True)
class SignatureConfig:
    shingles: ShingleConfig = field(default_factory=ShingleConfig)
    num_perm: int = 128
    seed: int = 1
    score_column: str = "auto"

    def meta(self, bands: int, rows: int) -> dict:
        """What must match for two signature sets (or an index) to be comparable."""
        return {
            "scheme": SCHEME,
            "num_perm": self.num_perm,
            "seed": self.seed,
            "shingles": self.shingles.key(),
            "hash": "poly64-fmix64-lo32",
            "bands": bands,
            "rows": rows,
        }


def node_ids(ids: list[str], namespace: str = "") -> np.ndarray:
    """int64 graph node per id (xxh3-64; at 1e9 documents the chance of any collision
    is ~3%, and a collision only merges two documents' clusters)."""
    return np.array([xxhash.xxh3_64_intdigest((namespace + i).encode()) for i in ids], dtype=np.uint64).view(np.int64)


ROW_KEY_VERSION = 1
"""Bump when :func:`row_keys` changes: it is part of the dedup work dir's plan."""

ROW_KEY_COLUMNS = ("source", "source_offset", "id", "text")


def row_keys(batch: pa.Table, namespace: str = "") -> np.ndarray:
    """int64 per-run unique key of each row (see module docstring); the same for a row
    wherever it is computed. Python per row, but only hashing (xxh3): ~1 us a row with
    a reader offset, plus hashing the text (~3 us per 1.4 KB row) without one."""
    n = batch.num_rows
    sources = batch["source"].to_pylist()
    offsets = batch["source_offset"].to_pylist() if "source_offset" in batch.column_names else [None] * n
    ids = batch["id"].to_pylist()
    texts = batch["text"].to_pylist() if None in offsets else offsets  # read the text only when needed
    h = xxhash.xxh3_64_intdigest
    low = np.array([h(f"{s}\x00{o}\x00{i}\x00{_text_hash(t) if o is None else ''}".encode("utf-8", "surrogatepass"))
                    for s, o, i, t in zip(sources, offsets, ids, texts)], dtype=np.uint64)
    return combine_keys(node_ids(ids, namespace), low)


def _text_hash(text: str | None) -> int:
    """Needed only without a reader offset (source and offset alone are unique)."""
    return xxhash.xxh3_64_intdigest((text or "").encode("utf-8", "surrogatepass"))


def combine_keys(id_nodes: np.ndarray, low: np.ndarray) -> np.ndarray:
    """High 32 bits of the id's node, low 32 bits of ``low`` (uint64), as int64."""
    high = id_nodes.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)
    return (high | (low.astype(np.uint64) & np.uint64(0xFFFFFFFF))).view(np.int64)


def exact_hashes(norm: np.ndarray, offsets: np.ndarray) -> list[str]:
    """xxh3-128 (hex) of each normalized text: the exact-duplicate key."""
    view = memoryview(norm)
    return [xxhash.xxh3_128_hexdigest(view[offsets[i] : offsets[i + 1]]) for i in range(len(offsets) - 1)]


def _scores(batch: pa.Table, score_column: str) -> pa.Array:
    names = [c for c in SCORE_COLUMNS if c in batch.column_names] if score_column == "auto" else (
        [score_column] if score_column in batch.column_names else []
    )
    if score_column not in ("auto", "none") and not names:
        raise ValueError(f"dedup: score_column {score_column!r} is not a column of the batch")
    if not names or score_column == "none":
        return pa.nulls(batch.num_rows, pa.float64())
    cols = [pc.cast(batch[c], pa.float64()) for c in names]
    return pc.max_element_wise(*cols, skip_nulls=True) if len(cols) > 1 else cols[0].combine_chunks()


def signature_table(batch: pa.Table, config: SignatureConfig, part: int = -1) -> pa.Table:
    """One row per active document of ``batch`` (see module docstring); ``part`` is the
    index of the input file the batch came from (-1: none, e.g. a query)."""
    active = pc.is_null(batch["drop_reason"])
    rows = np.flatnonzero(active.to_numpy(zero_copy_only=False))
    text = batch["text"]
    norm, norm_off, hashes, offsets = fast_shingle_hashes(text, config.shingles, rows=rows)  # text read in place
    kept = batch.drop_columns(["text"]).filter(active)  # the small columns; the text is not copied out
    sig = signatures(hashes, offsets, config.num_perm, config.seed)
    exact = exact_hashes(norm, norm_off)
    ids = kept["id"].to_pylist()
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "node": pa.array(row_keys(batch)[rows]),
            "exact": pa.array(exact, pa.string()),
            "length": pc.utf8_length(text).filter(active).cast(pa.int64()),
            "score": _scores(kept, config.score_column),
            "old": pa.array(np.zeros(len(ids), dtype=bool)),
            "part": pa.array(np.full(len(ids), part, dtype=np.int32)),
            "sig": sig_array(sig.reshape(-1, config.num_perm)),
        }
    )


def sig_array(sig: np.ndarray) -> pa.FixedSizeBinaryArray:
    """The ``sig`` column of an (n, num_perm) uint32 matrix: each row's values as
    little-endian bytes in one fixed-size binary value."""
    n, num_perm = sig.shape
    data = np.ascontiguousarray(sig, dtype="<u4")
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * num_perm), n, [None, pa.py_buffer(data)])


def sig_matrix(sig_column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """(n, num_perm) uint32 matrix of a signature column: fixed-size binary (:func:`sig_array`),
    or a fixed-size list of uint32 (indexes written before that)."""
    arr = contiguous(sig_column)
    if len(arr) == 0:
        return np.zeros((0, num_perm), np.uint32)
    if pa.types.is_fixed_size_binary(arr.type):
        if arr.type.byte_width != 4 * num_perm:
            raise ValueError(f"signatures of {arr.type.byte_width // 4} values, expected {num_perm}")
        values = np.frombuffer(arr.buffers()[1], dtype="<u4", count=len(arr) * num_perm,
                               offset=arr.offset * 4 * num_perm)
        return values.astype(np.uint32, copy=False).reshape(-1, num_perm)
    return arr.flatten().to_numpy(zero_copy_only=False).astype(np.uint32, copy=False).reshape(-1, num_perm)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 bucket keys; band j hashes ``sig[:, j*rows:(j+1)*rows]`` and j
    (``filters.dedup.sketch.band_kernel``)."""
    from filters.dedup.sketch.band_kernel import band_keys as kernel

    return kernel(np.ascontiguousarray(sig, dtype=np.uint32), bands, rows)
