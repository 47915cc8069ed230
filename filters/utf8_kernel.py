"""UTF-8 decoding inside numba kernels: the one decoder the byte-level kernels share.

The kernels of heuristics (lines, words) and dedup (shingles) walk a text's UTF-8 bytes
as Arrow stores them, so no Python string is made per document. Their input comes from
Arrow string arrays, which hold valid UTF-8: the decoder does not validate.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def decode_utf8(data: np.ndarray, i: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """(code point, byte length) of the valid UTF-8 character starting at ``data[i]``."""
    b0 = np.int64(data[i])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F), 2
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6) | (np.int64(data[i + 2]) & 0x3F), 3
    return (((b0 & 0x07) << 18) | ((np.int64(data[i + 1]) & 0x3F) << 12) | ((np.int64(data[i + 2]) & 0x3F) << 6)
            | (np.int64(data[i + 3]) & 0x3F)), 4


@numba.njit(cache=True, nogil=True, inline="always")
def bytes_equal(data: np.ndarray, p: int, words: np.ndarray, ws: int, n: int, start: int,
                fold_ascii: bool) -> bool:  # pragma: no cover - compiled
    """True if ``data[p + q] == words[ws + q]`` for ``q`` in ``[start, n)``: a word of a packed
    word list (stored lower-case) compared in place, ASCII letters of ``data`` lowered first
    with ``fold_ascii``. ``start`` skips bytes the caller already matched."""
    for q in range(start, n):
        c = np.int64(data[p + q])
        if fold_ascii and 65 <= c <= 90:
            c += 32
        if c != words[ws + q]:
            return False
    return True
