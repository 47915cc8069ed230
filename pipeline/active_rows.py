"""The rows a stage works on, and writing its results back: one helper for every stage.

A stage computes only on the rows not yet dropped (``drop_reason`` null), optionally
narrowed further (a verifier only checks the rows it was configured for). The pattern is
always the same, and this module writes it once:

```python
rows = ActiveRows.of(batch)                       # the active rows, once per batch
texts = rows.column("text")                       # their text: one contiguous Arrow array
scores, reasons = compute(texts)                  # the stage's vectorized function
return rows.scatter(batch, {"score": (scores, pa.float32())}, reasons=reasons)
```

:meth:`ActiveRows.scatter` turns per-active-row values (numpy or Arrow, aligned with
:attr:`ActiveRows.indices`) into full columns and drops rows:

* a new column is null on the rows that were not active; a column that already exists is
  replaced the same way (a stage's columns describe the rows it saw), unless
  ``keep_inactive=True``: then the other rows keep the column's current values, and the
  column keeps its type and field (``normalize`` rewrites ``text`` this way; two verifiers
  that share columns each fill in their rows);
* types are explicit: a column is given as ``(values, type)``, or as bare values whose type
  is unambiguous (an Arrow array's own type; a numpy bool/int/float dtype). Numpy object or
  string arrays need a type;
* ``reasons`` are complete ``<stage>:<why>`` strings (see ``pipeline.stage.stage_reason``):
  one per active row with null for a kept row (Arrow, numpy object or a list), or a mapping
  ``{reason: mask}`` of boolean masks over the active rows where the first listed reason that
  matches a row wins. Only active rows can get a reason, so the first reason a row was
  dropped for always stays (the same rule as ``pipeline.schema.drop_rows``).

Everything is numpy/Arrow over whole columns; no Python code runs per row. When every row
is active (the common case) nothing is gathered or scattered: the arrays pass through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schema import active_mask

Values = np.ndarray | pa.Array | pa.ChunkedArray
"""Per-active-row values of one column (numpy or Arrow), aligned with ``ActiveRows.indices``."""
ColumnSpec = Values | tuple[Values, pa.DataType]
"""A column for :meth:`ActiveRows.scatter`: ``(values, type)``, or values of an unambiguous type."""
Reasons = pa.Array | pa.ChunkedArray | np.ndarray | Sequence[str | None] | Mapping[str, np.ndarray]
"""Drop reasons over the active rows: one (or null) per row, or ``{reason: mask}`` (first wins)."""


class ActiveRows:
    """The rows of one batch that a stage computes on: not dropped (and in ``where``).

    ``mask`` (bool, one per batch row) and ``indices`` (int64, ascending) say which;
    ``len(rows)`` is how many. Build it with :meth:`of`.
    """

    def __init__(self, batch: pa.Table, mask: np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (batch.num_rows,):
            raise ValueError(f"mask has shape {mask.shape}, the batch has {batch.num_rows} rows")
        self.batch = batch
        self.mask = mask
        self.indices = np.flatnonzero(mask).astype(np.int64, copy=False)

    @classmethod
    def of(cls, batch: pa.Table, where: np.ndarray | None = None) -> ActiveRows:
        """The rows of ``batch`` not yet dropped; with ``where`` (bool per row), only those of
        them where it is true."""
        mask = active_mask(batch)
        if where is not None:
            where = np.asarray(where, dtype=bool)
            if where.shape != mask.shape:
                raise ValueError(f"where has shape {where.shape}, the batch has {batch.num_rows} rows")
            mask &= where
        return cls(batch, mask)

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"ActiveRows({len(self)} of {self.num_rows})"

    @property
    def num_rows(self) -> int:
        """Rows of the whole batch."""
        return len(self.mask)

    @property
    def all(self) -> bool:
        """Every row of the batch is active (then nothing is gathered or scattered)."""
        return len(self.indices) == len(self.mask)

    # -- reading -----------------------------------------------------------------------

    def column(self, name: str) -> pa.Array:
        """The active rows' values of column ``name``, as one contiguous Arrow array (of the
        column's type). ``KeyError`` if the batch has no such column."""
        if name not in self.batch.column_names:
            raise KeyError(f"the batch has no column {name!r}")
        return self.take(self.batch[name])

    def table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The active rows of the batch (or of ``columns`` of it) as a table."""
        t = self.batch if columns is None else self.batch.select(list(columns))
        return t if self.all else t.take(self._index_array)

    def take(self, values: pa.Array | pa.ChunkedArray | np.ndarray) -> pa.Array | np.ndarray:
        """The active rows' part of a full-length array (Arrow: contiguous; numpy: numpy)."""
        if len(values) != self.num_rows:
            raise ValueError(f"{len(values)} values for a batch of {self.num_rows} rows")
        if isinstance(values, np.ndarray):
            return values if self.all else values[self.indices]
        values = contiguous(values)
        return values if self.all else values.take(self._index_array)

    # -- writing -----------------------------------------------------------------------

    def expand(self, values: Values, type: pa.DataType | None = None) -> pa.Array:
        """Full-length Arrow array: ``values`` on the active rows, null on the others."""
        values, type = _as_arrow_or_numpy(values, type, len(self))
        n = self.num_rows
        if isinstance(values, np.ndarray):  # numeric/bool: fill a numpy array, nulls by mask
            if self.all:
                return pa.array(values, type=type)
            full = np.zeros(n, dtype=values.dtype)
            full[self.indices] = values
            return pa.array(full, type=type, mask=~self.mask)
        if self.all:
            return values
        if not len(self):
            return pa.nulls(n, values.type)
        return values.take(self._scatter_array)

    def scatter(self, batch: pa.Table, columns: Mapping[str, ColumnSpec] | None = None, *,
                reasons: Reasons | None = None, keep_inactive: bool = False) -> pa.Table:
        """``batch`` with ``columns`` written (appended, or replaced in place) and ``reasons``
        applied to ``drop_reason``.

        ``batch`` is the batch the rows were selected from, or one derived from it (same
        rows, same order). Column values are per active row; see the module docstring for
        types, ``keep_inactive`` and the forms of ``reasons``.
        """
        if batch.num_rows != self.num_rows:
            raise ValueError(f"the batch has {batch.num_rows} rows, these rows were selected from {self.num_rows}")
        for name, spec in (columns or {}).items():
            values, type = spec if isinstance(spec, tuple) else (spec, None)
            index = batch.schema.get_field_index(name)
            if keep_inactive and index >= 0:
                batch = self._update(batch, index, values, type)
            else:
                full = self.expand(values, type)
                field = pa.field(name, full.type)
                batch = batch.set_column(index, field, full) if index >= 0 else batch.append_column(field, full)
        if reasons is not None:
            batch = self._drop(batch, reasons)
        return batch

    def _update(self, batch: pa.Table, index: int, values: Values, type: pa.DataType | None) -> pa.Table:
        """Column ``index`` with the active rows' values replaced; other rows keep theirs."""
        field = batch.schema.field(index)
        type = type or field.type
        values, _ = _as_arrow_or_numpy(values, type, len(self))
        new = pa.array(values, type=type) if isinstance(values, np.ndarray) else values
        if self.all:
            full = new
        else:
            old = contiguous(batch.column(index)).cast(type)
            if not len(self):
                full = old
            else:
                try:
                    full = pc.replace_with_mask(old, pa.array(self.mask), new)
                except pa.ArrowNotImplementedError:  # types replace_with_mask does not take
                    full = pc.if_else(pa.array(self.mask), self.expand(new), old)
        return batch.set_column(index, field.with_type(type), full)

    def _drop(self, batch: pa.Table, reasons: Reasons) -> pa.Table:
        if isinstance(reasons, Mapping):
            per_row = _first_reason(reasons, len(self))
        else:  # one per row: Arrow, numpy object/str or a list, null/None = kept
            per_row = _as_arrow_or_numpy(reasons, pa.string(), len(self))[0]
        if per_row.null_count == len(per_row):
            return batch
        _check_reasons(per_row)
        index = batch.schema.get_field_index("drop_reason")
        field = batch.schema.field(index)
        current = contiguous(batch.column(index))
        new = pc.coalesce(current, self.expand(per_row).cast(field.type))  # the first reason wins
        return batch.set_column(index, field, new)

    # -- cached index arrays ---------------------------------------------------------------

    @cached_property
    def _index_array(self) -> pa.Array:
        """Arrow positions of the active rows (for ``take`` of a full-length column)."""
        return pa.array(self.indices, pa.int64())

    @cached_property
    def _scatter_array(self) -> pa.Array:
        """Per batch row, the position of its value among the active rows' (null if inactive):
        ``values.take(this)`` is the full-length column."""
        pos = np.zeros(self.num_rows, dtype=np.int64)
        pos[self.indices] = np.arange(len(self.indices), dtype=np.int64)
        return pa.array(pos, pa.int64(), mask=~self.mask)


def contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow array (a chunked column's chunks concatenated; zero-copy for one chunk:
    ``ChunkedArray.combine_chunks`` copies even a single chunk)."""
    if isinstance(values, pa.Array):
        return values
    if values.num_chunks == 1:
        return values.chunk(0)
    if values.num_chunks == 0:
        return pa.array([], values.type)
    return values.combine_chunks()


def _as_arrow_or_numpy(values: Values | Sequence, type: pa.DataType | None, n: int) -> tuple[pa.Array | np.ndarray, pa.DataType]:
    """``values`` checked for length ``n`` and brought to ``type``: numeric/bool numpy stays
    numpy (cast to the numpy form of ``type``); everything else becomes one Arrow array."""
    if not isinstance(values, (np.ndarray, pa.Array, pa.ChunkedArray)):
        if type is None:
            raise TypeError("a list of values needs an explicit type: give (values, type)")
        values = pa.array(list(values), type)
    if len(values) != n:
        raise ValueError(f"{len(values)} values for {n} active rows")
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "biuf":
            if type is None:
                type = pa.from_numpy_dtype(values.dtype)
            elif pa.types.is_boolean(type) or pa.types.is_integer(type) or pa.types.is_floating(type):
                return values.astype(type.to_pandas_dtype(), copy=False), type
            else:
                return pa.array(values).cast(type), type
            return values, type
        if type is None:
            raise TypeError(f"numpy values of dtype {values.dtype} need an explicit type: give (values, type)")
        return pa.array(values, type), type
    values = contiguous(values)
    if type is not None and values.type != type:
        values = values.cast(type)
    return values, values.type


def _first_reason(masks: Mapping[str, np.ndarray], n: int) -> pa.Array:
    """One reason (or null) per row from ``{reason: mask}``; the first listed match wins."""
    code = np.full(n, -1, dtype=np.int64)
    for i, mask in enumerate(masks.values()):
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"a reason mask has shape {mask.shape}, there are {n} active rows")
        code[mask & (code < 0)] = i
    return pa.array(list(masks), pa.string()).take(pa.array(code, pa.int64(), mask=code < 0))


def _check_reasons(reasons: pa.Array) -> None:
    """Every reason is ``<stage>:<why>`` (checked on the distinct values: cheap)."""
    distinct = pc.unique(reasons.drop_null())
    bad = pc.invert(pc.match_substring(distinct, ":"))
    if pc.any(bad).as_py():
        example = distinct.filter(bad)[0].as_py()
        raise ValueError(f"drop reason {example!r} is not '<stage>:<why>'")
