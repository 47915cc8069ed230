"""Traditional -> Simplified Chinese with OpenCC's ``t2s`` dictionaries.

The dictionaries are those of opencc-python-reimplemented (Apache-2.0): ``TSPhrases``
then ``TSCharacters``, first candidate of each. OpenCC converts by maximum forward
matching over both; that is Aho-Corasick leftmost-longest, which Polars'
``str.replace_many(leftmost=True)`` gives when the keys are sorted longest first. It is
vectorized (~15-20 MB/s on Traditional text against ~1 MB/s for the package's pure-Python
``OpenCC.convert``, plus ~10 ms per call to build the automaton) and its output equals
``OpenCC("t2s").convert`` on every Chinese row of the dev set (a test checks it).

Only rows that need it are converted. :func:`needs_simplification` is the vectorized
pre-check: the row contains at least one character that OpenCC's ``TSCharacters``
table maps to a different character (4,105 of them, looked up per code point with numpy), and no kana or
Hangul. The second condition matters: Japanese writes ``東 國 會 學`` too, and ``t2s``
changes 87 of the 105 Japanese sentences of the dev set (``東京`` -> ``东京``), so text
with kana or Hangul (Korean hanja) is never converted. Simplified text never matches,
so it is never touched. A Traditional phrase made only of characters shared by both
scripts (``反覆``) converts only when the row also holds a Traditional-only character,
which real Traditional text practically always does.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filters.normalize.unicode_text import code_point_counts, replace_many

def _lookup(ranges: list[tuple[int, int]] | None = None, chars: frozenset[str] | None = None) -> np.ndarray:
    table = np.zeros(0x110000, dtype=bool)
    for lo, hi in ranges or []:
        table[lo:hi + 1] = True
    if chars:
        table[np.array([ord(c) for c in chars])] = True
    return table


JAPANESE_OR_KOREAN = _lookup([(0x3040, 0x30FF), (0x31F0, 0x31FF), (0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)])
"""Kana, Hangul jamo and syllables: rows holding any are not Chinese and are skipped."""


@lru_cache(maxsize=1)
def traditional_chars() -> frozenset[str]:
    """Characters that OpenCC's t2s character table maps to another character."""
    out = set()
    with open(_dictionary_path("TSCharacters.txt"), encoding="utf-8") as f:
        for line in f:
            key, _, values = line.rstrip("\n").partition("\t")
            if key and values and values.split(" ")[0] != key:
                out.add(key)
    return frozenset(out)


@lru_cache(maxsize=1)
def _traditional_lookup() -> np.ndarray:
    return _lookup(chars=traditional_chars())


def _dictionary_path(name: str) -> str:
    import opencc

    return os.path.join(os.path.dirname(opencc.__file__), "dictionary", name)


@lru_cache(maxsize=1)
def t2s_table() -> tuple[list[str], list[str]]:
    """(keys, values) of t2s, phrases before characters, keys sorted longest first."""
    mapping: dict[str, str] = {}
    for name in ("TSPhrases.txt", "TSCharacters.txt"):
        with open(_dictionary_path(name), encoding="utf-8") as f:
            for line in f:
                key, _, values = line.rstrip("\n").partition("\t")
                if key and values:
                    mapping.setdefault(key, values.split(" ")[0])
    keys = sorted(mapping, key=len, reverse=True)
    return keys, [mapping[k] for k in keys]


def needs_simplification(arr: pa.Array) -> np.ndarray:
    """One bool per row: holds a Traditional-only character and no kana/Hangul."""
    trad = code_point_counts(arr, _traditional_lookup()) > 0
    if not trad.any():
        return trad
    return trad & (code_point_counts(arr, JAPANESE_OR_KOREAN) == 0)


def to_simplified(arr: pa.Array) -> pa.Array:
    """t2s of every row (maximum forward matching over phrases and characters)."""
    keys, values = t2s_table()
    return replace_many(arr, keys, values, leftmost=True)


def simplify(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Convert the rows that need it; returns the new array and which rows changed."""
    flagged = needs_simplification(arr)
    converted = np.zeros(len(arr), dtype=bool)
    if not flagged.any():
        return arr, converted
    idx = np.flatnonzero(flagged)
    before = arr.take(pa.array(idx))
    after = to_simplified(before)
    differs = np.asarray(pc.not_equal(after, before).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    converted[idx] = differs
    if not converted.any():
        return arr, converted
    return pc.replace_with_mask(arr, pa.array(converted), after.filter(pa.array(differs))), converted
