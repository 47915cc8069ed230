"""Compiled per-text character-class counting for :func:`filters.signals.script_detect.char_stats`.

One pass over the UTF-8 bytes: an ASCII byte is classified by the byte table, a lead byte
of a multi-byte character is decoded and classified by the code-point table, continuation
bytes are counted in their own column (as the numpy path does). Compiled on first use and
cached on disk (``cache=True``), like the dedup kernels. The numpy path in
``script_detect`` stays the reference and the fallback; a test checks they agree.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def class_counts(data: np.ndarray, offsets: np.ndarray, byte_table: np.ndarray, cp_table: np.ndarray,
                 k: int, han: int) -> np.ndarray:
    """``counts[text, class]`` over ``k`` classes (the last one: continuation bytes).

    Decoding reads past a text's end into the next text (and zeros past the data), exactly
    as the numpy path's padded gathers do, so malformed UTF-8 counts the same either way."""
    n = len(offsets) - 1
    size = len(data)
    counts = np.zeros((n, k), dtype=np.int64)
    # four interleaved tallies (by byte position), summed per text: one tally waits for its
    # last increment to land before the next (a run of letters is a chain of increments of
    # one counter), four let consecutive bytes count in parallel
    lanes = np.zeros((4, k), dtype=np.int64)
    for t in range(n):
        lanes[:, :] = 0
        for i in range(offsets[t], offsets[t + 1]):
            b0 = np.int32(data[i])
            if b0 < 0xC0:
                lanes[i & 3, byte_table[b0]] += 1
                continue
            b1 = np.int32(data[i + 1]) & 0x3F if i + 1 < size else np.int32(0)
            b2 = np.int32(data[i + 2]) & 0x3F if i + 2 < size else np.int32(0)
            if b0 < 0xE0:
                cp = ((b0 & 0x1F) << 6) | b1
            else:
                cp = ((b0 & 0x0F) << 12) | (b1 << 6) | b2
            cls = cp_table[cp] if b0 < 0xF0 else cp_table[0]
            if b0 == 0xF0 and b1 >= 0x20:
                cls = han  # supplementary ideographs U+20000..U+3FFFF
            lanes[i & 3, cls] += 1
        for c in range(k):
            counts[t, c] = lanes[0, c] + lanes[1, c] + lanes[2, c] + lanes[3, c]
    return counts
