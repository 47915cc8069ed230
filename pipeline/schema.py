"""The core Arrow schema of a taosha batch, stable ids, and column helpers.

A batch is a ``pyarrow.Table``. Every stage keeps the same rows in the same order and
only adds or updates columns. ``drop_reason`` is null for a kept row and
``<stage>:<why>`` for a dropped one; the first reason wins, so a later stage never
overwrites the reason a row was dropped for.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA_VERSION = 1

ORIGIN_CRAWL = "crawl"
ORIGIN_SYNTHETIC = "synthetic"

CORE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=True),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("drop_reason", pa.string(), nullable=True),
    ]
)
CORE_COLUMNS = tuple(CORE_SCHEMA.names)

ERROR_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("error", pa.string(), nullable=False),
    ]
)
"""Rows of ``errors/``: the input file, the line (JSONL), byte (WARC/WET) or row
(Parquet) offset of the record that could not be read, and why."""


def stable_id(source: str, offset: int | str) -> str:
    """A 16-hex-digit id from a source path and a record offset (or URL + date).

    Hashing keeps ids short and uniform; the same input gives the same id on every
    machine and every run, which resume and the Ray/local parity rely on.
    """
    return hashlib.blake2b(f"{source}\x00{offset}".encode(), digest_size=8).hexdigest()


def stable_ids(source: str, offsets: Iterable[int | str]) -> list[str]:
    return [stable_id(source, o) for o in offsets]


def make_batch(
    texts: Sequence[str],
    *,
    ids: Sequence[str],
    source: str | Sequence[str],
    urls: Sequence[str | None] | None = None,
    origin: str = ORIGIN_CRAWL,
    extra: dict[str, pa.Array | Sequence] | None = None,
) -> pa.Table:
    """Build a batch in the core schema (plus ``extra`` columns, appended as given)."""
    n = len(texts)
    sources = [source] * n if isinstance(source, str) else list(source)
    columns: dict[str, pa.Array] = {
        "id": pa.array(list(ids), pa.string()),
        "text": pa.array(list(texts), pa.large_string()),
        "source": pa.array(sources, pa.string()),
        "url": pa.array(list(urls) if urls is not None else [None] * n, pa.string()),
        "origin": pa.array([origin] * n, pa.string()),
        "drop_reason": pa.nulls(n, pa.string()),
    }
    table = pa.table(columns, schema=CORE_SCHEMA)
    for name, values in (extra or {}).items():
        table = set_column(table, name, values)
    return table


def empty_batch() -> pa.Table:
    return CORE_SCHEMA.empty_table()


def empty_errors() -> pa.Table:
    return ERROR_SCHEMA.empty_table()


def make_errors(source: str, offsets: Sequence[int], errors: Sequence[str]) -> pa.Table:
    return pa.table(
        {
            "source": pa.array([source] * len(offsets), pa.string()),
            "offset": pa.array(list(offsets), pa.int64()),
            "error": pa.array(list(errors), pa.string()),
        },
        schema=ERROR_SCHEMA,
    )


def set_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray | Sequence) -> pa.Table:
    """Replace column ``name`` if it exists, else append it."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pa.array(values)
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)


def active_mask(table: pa.Table) -> np.ndarray:
    """Boolean numpy mask of rows not yet dropped: the rows a stage should work on.

    Stages select those rows and write their results back with
    :class:`pipeline.active_rows.ActiveRows`, built on this mask."""
    return np.asarray(pc.is_null(table["drop_reason"]).to_numpy(zero_copy_only=False), dtype=bool)


def drop_rows(table: pa.Table, mask: np.ndarray | pa.Array, reason: str | Sequence[str | None] | pa.Array) -> pa.Table:
    """Set ``drop_reason`` on rows where ``mask`` is true, unless already dropped.

    ``reason`` is one string for all masked rows or one value per row. The first
    reason wins: rows that already carry a reason keep it.
    """
    mask_arr = pa.array(np.asarray(mask, dtype=bool)) if not isinstance(mask, pa.Array) else mask
    if isinstance(reason, str):
        reasons = pa.scalar(reason, pa.string())
    elif isinstance(reason, pa.Array):
        reasons = reason.cast(pa.string())
    else:
        reasons = pa.array(list(reason), pa.string())
    current = table["drop_reason"].combine_chunks() if table.num_rows else pa.array([], pa.string())
    new = pc.if_else(pc.and_(mask_arr, pc.is_null(current)), reasons, current)
    return set_column(table, "drop_reason", new)


def kept(table: pa.Table) -> pa.Table:
    return table.filter(pc.is_null(table["drop_reason"]))


def dropped(table: pa.Table) -> pa.Table:
    return table.filter(pc.is_valid(table["drop_reason"]))


def concat(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate batches whose extra columns may differ (missing ones become null)."""
    tables = [t for t in tables if t is not None]
    if not tables:
        return empty_batch()
    return pa.concat_tables(tables, promote_options="permissive")
