"""Traditional -> Simplified Chinese with OpenCC's ``t2s`` dictionaries.

Conversion uses opencc-python-reimplemented (pure Python, Apache-2.0; ~0.8 MB/s here),
so it must only see rows that need it. :func:`needs_simplification` is the vectorized
pre-check: the row contains at least one character that OpenCC's ``TSCharacters``
table maps to a different character (4,105 of them, an RE2 class), and no kana or
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

JAPANESE_OR_KOREAN = "[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"
"""Kana, Hangul jamo and syllables: rows holding any are not Chinese and are skipped."""


@lru_cache(maxsize=1)
def traditional_chars() -> frozenset[str]:
    """Characters that OpenCC's t2s character table maps to another character."""
    import opencc

    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, values = line.rstrip("\n").partition("\t")
            if key and values and values.split(" ")[0] != key:
                out.add(key)
    return frozenset(out)


@lru_cache(maxsize=1)
def _traditional_class() -> str:
    return "[" + "".join(sorted(traditional_chars())) + "]"


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def needs_simplification(arr: pa.Array) -> np.ndarray:
    """One bool per row: holds a Traditional-only character and no kana/Hangul."""
    trad = pc.match_substring_regex(arr, _traditional_class()).fill_null(False)
    trad = np.asarray(trad.to_numpy(zero_copy_only=False), dtype=bool)
    if not trad.any():
        return trad
    cjk_other = pc.match_substring_regex(arr, JAPANESE_OR_KOREAN).fill_null(False)
    return trad & ~np.asarray(cjk_other.to_numpy(zero_copy_only=False), dtype=bool)


def to_simplified(text: str) -> str:
    """OpenCC t2s of one string (phrases first, then characters)."""
    return _converter().convert(text)


def simplify(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Convert the rows that need it; returns the new array and which rows changed."""
    flagged = needs_simplification(arr)
    converted = np.zeros(len(arr), dtype=bool)
    if not flagged.any():
        return arr, converted
    idx = np.flatnonzero(flagged)
    before = arr.take(pa.array(idx)).to_pylist()
    after = [to_simplified(t) for t in before]
    converted[idx] = [a != b for a, b in zip(after, before)]
    if not converted.any():
        return arr, converted
    changed = [a for a, b in zip(after, before) if a != b]
    return pc.replace_with_mask(arr, pa.array(converted), pa.array(changed, arr.type)), converted
