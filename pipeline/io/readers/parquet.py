"""Parquet reader: row group by row group through ``ParquetFile.iter_batches``.

``offset`` is the 0-based row index in the file. The text column (``text_field``) is
cast to ``large_string`` (a dictionary-encoded column is decoded first: writers that
keep pandas categoricals or Arrow dictionaries produce them); a null text, or a value
that is not valid UTF-8 in a binary text column, is an error row. ``id_field`` values
are kept as given (cast to string), else ``stable_id(source, row)``; ``url_field`` ->
``url``. Other columns are carried with their Parquet types (stable for the whole
file), named as for JSONL (``jsonl.carried_name``: ``input_<name>`` where they collide
with a core column), or, with ``extra_fields``, as one JSON ``metadata`` column or not
at all.

A file whose footer cannot be read (truncated, not Parquet) yields one error row at
offset 0. A row group that cannot be decoded yields one error row per row it holds
that did not come out (the footer says how many), at their row offsets, so the
accounting counts the records lost, not the row group; the row groups before and
after it still come out.
"""

from __future__ import annotations

import json
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.io.readers.base import ReadChunk
from pipeline.io.readers.inputs import open_input
from pipeline.io.readers.jsonl import METADATA_COLUMN, OFFSET_COLUMN, carried_name
from pipeline.schema import empty_errors, make_batch, make_errors, stable_ids


def _no_records(source: str) -> pa.Table:
    return make_batch([], ids=[], source=source, extra={OFFSET_COLUMN: pa.array([], pa.int64())})


def _text_column(values: pa.Array) -> tuple[pa.Array, list[int], list[str]]:
    """Text as large_string plus (positions, reasons) of rows whose text is unusable."""
    bad: list[int] = []
    reasons: list[str] = []
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        try:
            values = values.cast(pa.large_string())
        except pa.ArrowInvalid:
            decoded = []
            for i, v in enumerate(values.to_pylist()):
                try:
                    decoded.append(None if v is None else v.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    decoded.append(None)
                    bad.append(i)
                    reasons.append(f"text is not valid UTF-8 at byte {exc.start}")
            values = pa.array(decoded, pa.large_string())
    elif not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"text column has type {values.type}, not a string")
    values = values.cast(pa.large_string())
    nulls = pc.is_null(values).to_numpy(zero_copy_only=False)
    for i in nulls.nonzero()[0].tolist():
        if i not in bad:
            bad.append(i)
            reasons.append("text is null")
    return values, bad, reasons


def _convert(batch: pa.RecordBatch, first_row: int, source: str, text_field: str, id_field: str,
             url_field: str, extra_fields: str = "columns") -> ReadChunk:
    n = batch.num_rows
    offsets = list(range(first_row, first_row + n))
    names = batch.schema.names
    if text_field not in names:
        return ReadChunk(_no_records(source),
                         make_errors(source, offsets, [f"missing text column {text_field!r}"] * n))
    try:
        texts, bad, reasons = _text_column(batch.column(text_field))
    except TypeError as exc:
        return ReadChunk(_no_records(source), make_errors(source, offsets, [str(exc)] * n))
    given = batch.column(id_field).cast(pa.string()) if id_field in names else None
    if given is None or given.null_count:  # hash only when some row has no id of its own
        hashed = pa.array(stable_ids(source, offsets), pa.string())
        ids = hashed if given is None else pc.coalesce(given, hashed)
    else:
        ids = given
    urls = batch.column(url_field).cast(pa.string()) if url_field in names else None
    extra: dict[str, pa.Array] = {OFFSET_COLUMN: pa.array(offsets, pa.int64())}
    others = [name for name in names if name not in (text_field, id_field, url_field)]
    if extra_fields == "columns":
        for name in others:
            extra[carried_name(name)] = batch.column(name)
    elif extra_fields == "json":
        rows = batch.select(others).to_pylist() if others else [{}] * n
        extra[METADATA_COLUMN] = pa.array([json.dumps(r, ensure_ascii=False, default=str, separators=(",", ":"))
                                           if r else None for r in rows], pa.string())
    records = make_batch(texts, ids=ids, source=source, urls=urls, extra=extra)  # type: ignore[arg-type]
    errors = empty_errors()
    if bad:
        bad_rows = set(bad)
        keep = pa.array([i not in bad_rows for i in range(n)])
        records = records.filter(keep)
        errors = make_errors(source, [first_row + i for i in bad], reasons)
    return ReadChunk(records, errors)


def read_parquet(path: str, *, text_field: str = "text", id_field: str = "id", url_field: str = "url",
                 batch_size: int = 1000, extra_fields: str = "columns") -> Iterator[ReadChunk]:
    """Stream one Parquet file as ReadChunks of at most ``batch_size`` records."""
    with open_input(path) as raw:
        try:
            pf = pq.ParquetFile(raw)
        except Exception as exc:  # noqa: BLE001 - any footer failure means the file is unreadable
            yield ReadChunk(_no_records(path), make_errors(path, [0], [f"unreadable Parquet file: {exc}"]))
            return
        meta = pf.metadata
        first_row = 0
        for group in range(meta.num_row_groups):
            group_rows = meta.row_group(group).num_rows
            row = first_row
            try:
                for batch in pf.iter_batches(batch_size=batch_size, row_groups=[group], use_threads=False):
                    yield _convert(batch, row, path, text_field, id_field, url_field, extra_fields)
                    row += batch.num_rows
            except Exception as exc:  # noqa: BLE001 - decoding errors come as several Arrow/OS types
                yield from _lost_rows(path, group, row, first_row + group_rows, exc, batch_size)
            first_row += group_rows


def _lost_rows(path: str, group: int, start: int, end: int, exc: Exception, batch_size: int) -> Iterator[ReadChunk]:
    """One error row per row ``start..end-1`` of an undecodable row group, in chunks of
    at most ``batch_size`` errors (a row group can hold millions of rows)."""
    message = f"unreadable Parquet row group {group} (rows {start}..{end - 1}): {exc}"
    for lo in range(start, end, batch_size):
        hi = min(lo + batch_size, end)
        yield ReadChunk(_no_records(path), make_errors(path, range(lo, hi), [message] * (hi - lo)))
