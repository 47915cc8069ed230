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


@numba.njit(cache=True, nogil=True, boundscheck=False)
def decode_text(data: np.ndarray, s: int, e: int, cp: np.ndarray, at: np.ndarray) -> int:  # pragma: no cover - compiled
    """Decode ``data[s:e]`` into ``cp`` (code points) and ``at`` (the byte where each
    starts, and ``at[n] = e``); -> n. Both arrays need ``e - s + 1`` entries."""
    n = 0
    p = s
    while p < e:
        c, w = decode_utf8(data, p)
        cp[n] = c
        at[n] = p
        n += 1
        p += w
    at[n] = e
    return n


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


_SEED = np.uint64(0xCBF29CE484222325)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: each multiply is a bijection of the state
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def hash_bytes(data: np.ndarray, s: int, e: int) -> np.uint64:  # pragma: no cover - compiled
    """64-bit hash of ``data[s:e]``, eight bytes per multiply-xorshift-multiply step (a
    byte-at-a-time FNV waits a multiply per byte), the length mixed in, then murmur3's
    finalizer. For equality of lines, paragraphs and words within a batch (set membership,
    n-gram counts), never stored. A multiply carries a difference only upward; the xorshift
    folds it back down and the second multiply carries it up again, so it reaches every bit
    (a multiply-only step confused two real line pairs: ``tests/filters/signals``)."""
    h = _SEED
    i = s
    while i + 8 <= e:
        w = (np.uint64(data[i]) | (np.uint64(data[i + 1]) << np.uint64(8)) | (np.uint64(data[i + 2]) << np.uint64(16))
             | (np.uint64(data[i + 3]) << np.uint64(24)) | (np.uint64(data[i + 4]) << np.uint64(32))
             | (np.uint64(data[i + 5]) << np.uint64(40)) | (np.uint64(data[i + 6]) << np.uint64(48))
             | (np.uint64(data[i + 7]) << np.uint64(56)))
        h = (h ^ w) * _MIX
        h ^= h >> np.uint64(32)
        h *= _MIX2
        i += 8
    w = np.uint64(0)
    shift = np.uint64(0)
    while i < e:
        w |= np.uint64(data[i]) << shift
        shift += np.uint64(8)
        i += 1
    h = (h ^ w) * _MIX
    h ^= np.uint64(e - s)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h
