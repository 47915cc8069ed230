"""Typed Arrow columns for the extra fields of JSON records, stable across one file.

A streaming reader sees a file one chunk at a time, but every chunk of a file must
carry the same column types (the writer appends them to one Parquet schema). The rule:

- a field's type is fixed by the first chunk in which it has a non-null value:
  bool -> bool, int -> int64, int and float mixed -> float64, str -> string, and
  lists, objects or any mix of kinds -> string (lists/objects as JSON text);
- in later chunks values are coerced to that type where it is lossless (any value
  into a string column as JSON text, int into float64, an integral float into int64);
  a value that cannot be (a string where an int64 column was fixed) becomes null and
  is counted in ``conflicts`` (logged once per field) — the record itself is kept;
- a field first seen in a later chunk is appended as a new column, and every later
  chunk carries all columns seen so far (nulls where absent), so schemas only grow.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pyarrow as pa

log = logging.getLogger(__name__)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def infer_type(values: list[Any]) -> pa.DataType:
    """The Arrow type for a first sighting of a field (see the module rule)."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.string()
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        if all(_INT64_MIN <= v <= _INT64_MAX for v in values if v is not None):
            return pa.int64()
        return pa.string()
    if kinds <= {int, float}:
        return pa.float64()
    return pa.string()


_NONE = type(None)
_NATIVE = {pa.bool_(): {bool, _NONE}, pa.int64(): {int, _NONE}, pa.float64(): {float, _NONE}, pa.string(): {str, _NONE}}


def coerce(values: list[Any], dtype: pa.DataType) -> tuple[list[Any], int]:
    """Values converted to ``dtype`` where lossless; others null. Returns (values, conflicts)."""
    if set(map(type, values)) <= _NATIVE.get(dtype, set()):
        return values, 0  # the common case: nothing to convert
    out: list[Any] = []
    conflicts = 0
    if pa.types.is_string(dtype):
        return [v if v is None or type(v) is str else _json_text(v) for v in values], 0
    for v in values:
        if v is None:
            out.append(None)
        elif pa.types.is_boolean(dtype):
            ok = isinstance(v, bool)
            out.append(v if ok else None)
            conflicts += not ok
        elif pa.types.is_int64(dtype):
            if isinstance(v, int) and not isinstance(v, bool) and _INT64_MIN <= v <= _INT64_MAX:
                out.append(v)
            elif isinstance(v, float) and v.is_integer() and _INT64_MIN <= v <= _INT64_MAX:
                out.append(int(v))
            else:
                out.append(None)
                conflicts += 1
        elif pa.types.is_float64(dtype):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            out.append(float(v) if ok else None)
            conflicts += not ok
        else:
            out.append(None)
            conflicts += 1
    return out, conflicts


class ColumnTypes:
    """The extra columns of one file: their order and their fixed types."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.types: dict[str, pa.DataType] = {}
        self.conflicts: dict[str, int] = {}

    def build(self, columns: dict[str, list[Any]], n: int) -> dict[str, pa.Array]:
        """Arrow columns (all fields seen so far in the file) for one chunk of ``n`` rows.

        ``columns`` maps field -> values, possibly shorter than ``n`` (missing at the end).
        """
        out: dict[str, pa.Array] = {}
        for key in list(self.types) + [k for k in columns if k not in self.types]:
            values = columns.get(key)
            if values is None:
                out[key] = pa.nulls(n, self.types[key])
                continue
            if len(values) < n:
                values.extend([None] * (n - len(values)))
            if key not in self.types:
                self.types[key] = infer_type(values)
            dtype = self.types[key]
            coerced, bad = coerce(values, dtype)
            if bad:
                if key not in self.conflicts:
                    log.warning("%s: field %r changes type mid-file (column is %s); %d value(s) stored as null",
                                self.source, key, dtype, bad)
                self.conflicts[key] = self.conflicts.get(key, 0) + bad
            out[key] = pa.array(coerced, dtype)
        return out
