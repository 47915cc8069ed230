"""Which texts need the prose view's counted arms counted.

Two arms of the mask bound their length: inline math ``\\$[^$\\n]{1,300}\\$`` and a tag
``<[^<>\\n]{1,200}>``. The counting costs Rust's lazy DFA about half of the whole pass, and it
only matters where the unbounded arm would match farther: the class excludes the closing
character, so a match from a ``$`` can only end at the next ``$`` of the line (and from a ``<``
at the next ``>`` before any ``<``). A text in which every such span is within the bound
masks alike with ``+`` in place of the count, at every position, so the alternation picks
the same matches. This pass finds the texts with a longer span (counted in characters, as
the regex counts); :func:`filters.langid.prose_view.prose_view` runs the exact pattern on
them only. Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

DOLLAR_MAX_CHARS = 300  # \$[^$\n]{1,300}\$
TAG_MAX_CHARS = 200  # <[^<>\n]{1,200}>


_NEWLINE, _DOLLAR, _LT, _GT = 1, 2, 3, 4
_KIND = np.zeros(256, np.uint8)
_KIND[ord("\n")], _KIND[ord("$")], _KIND[ord("<")], _KIND[ord(">")] = _NEWLINE, _DOLLAR, _LT, _GT


@numba.njit(cache=True, nogil=True, inline="always")
def _chars(data: np.ndarray, start: int, end: int) -> int:
    """Characters (UTF-8 lead bytes) in ``data[start:end]``."""
    n = 0
    for i in range(start, end):
        if (data[i] & 0xC0) != 0x80:
            n += 1
    return n


@numba.njit(cache=True, nogil=True, boundscheck=False)
def long_spans(data: np.ndarray, offsets: np.ndarray, dollar_max: int, tag_max: int) -> np.ndarray:
    """Per text: whether a ``$``..``$`` span on one line holds more than ``dollar_max``
    characters, or a ``<``..``>`` span without ``<`` or a newline more than ``tag_max``.
    Only the four delimiters are looked at; characters are counted only in a span longer
    than the bound in bytes (a character is at least one byte)."""
    n = len(offsets) - 1
    out = np.zeros(n, np.bool_)
    kind = _KIND
    for t in range(n):
        dollar_at = -1
        tag_at = -1
        for i in range(offsets[t], offsets[t + 1]):
            k = kind[data[i]]
            if k == 0:
                continue
            if k == _NEWLINE:
                dollar_at = -1
                tag_at = -1
            elif k == _DOLLAR:
                if dollar_at >= 0 and i - dollar_at - 1 > dollar_max and _chars(data, dollar_at + 1, i) > dollar_max:
                    out[t] = True
                    break
                dollar_at = i
            elif k == _LT:
                tag_at = i
            elif tag_at >= 0:  # >
                if i - tag_at - 1 > tag_max and _chars(data, tag_at + 1, i) > tag_max:
                    out[t] = True
                    break
                tag_at = -1
    return out
