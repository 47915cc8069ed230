"""Compiled segmentation for :func:`filters.langid.prose_view.segment`.

One pass over the prose view's UTF-8 bytes writes every segment into one output buffer
(Arrow offsets + data), in the order the reference polars plan produced them: the short
documents' segments first (one each), then the long documents' pieces. Whitespace is
Unicode ``White_Space`` (what polars' ``strip_chars`` and Rust's ``\\s`` use), decoded
only where a byte is not ASCII. Compiled on first use and cached on disk (``cache=True``),
like the dedup kernels; ``tests/filters/langid/test_prose_view.py`` checks it against the
polars reference.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _is_space(cp: int) -> bool:
    return ((9 <= cp <= 13) or cp == 32 or cp == 0x85 or cp == 0xA0 or cp == 0x1680
            or (0x2000 <= cp <= 0x200A) or cp == 0x2028 or cp == 0x2029 or cp == 0x202F
            or cp == 0x205F or cp == 0x3000)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _has_text(data: np.ndarray, s: int, e: int) -> bool:
    """Whether ``data[s:e]`` (valid UTF-8) holds a character that is not whitespace."""
    i = s
    while i < e:
        b0 = np.int64(data[i])
        if b0 < 0x80:
            if not _is_space(b0):
                return True
            i += 1
        elif b0 < 0xE0:
            if not _is_space(((b0 & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F)):
                return True
            i += 2
        elif b0 < 0xF0:
            cp = ((b0 & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6) | (np.int64(data[i + 2]) & 0x3F)
            if not _is_space(cp):
                return True
            i += 3
        else:
            return True  # no supplementary-plane character is whitespace
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _put(data, s, e, out, pos, room, newline_to_space):
    """Copy ``data[s:e]`` to ``out[pos:]``, at most ``room`` characters of it (a negative
    ``room``: all); (the new position, the room left)."""
    if room < 0:
        for i in range(s, e):
            b = data[i]
            out[pos] = 32 if newline_to_space and b == 10 else b
            pos += 1
        return pos, room
    for i in range(s, e):
        b = data[i]
        if (b & 0xC0) != 0x80:  # a character starts here
            if room == 0:
                break
            room -= 1
        out[pos] = 32 if newline_to_space and b == 10 else b
        pos += 1
    return pos, room


@numba.njit(cache=True, nogil=True, boundscheck=False)
def segment_bytes(data: np.ndarray, offsets: np.ndarray, long_doc_bytes: int, chunk_bytes: int, max_chars: int = -1):
    """(segment data, segment offsets, segment's document, segment's full length in bytes) of
    the texts ``data``/``offsets``; with ``max_chars`` >= 0, each segment's data is only its
    first ``max_chars`` characters (what a sample of it reads), the length still the whole
    segment's.

    A text of at most ``long_doc_bytes`` bytes is one segment (newlines as spaces). Longer
    texts are cut at newlines; blank lines are left out; a line's size is its bytes + 1; a
    line of at least ``chunk_bytes // 2`` starts a run and so does the line after it, and
    within a run a line joins the open piece (with a space) while the run's running size
    // ``chunk_bytes`` stays the same and the document is the same. Each long text's first
    line starts a run: a text is cut the same whatever texts come before it in the batch (the
    run state once carried over from the text before, as the reference plan's frame-wide
    ``shift`` did, so a document's pieces, scores and even language depended on its batch).
    Segments without a non-space character are dropped."""
    n = len(offsets) - 1
    total = offsets[n] - offsets[0]
    limit = max_chars
    out = np.empty(total, dtype=np.uint8)
    seg_off = np.empty(total + n + 1, dtype=np.int64)
    seg_doc = np.empty(total + n, dtype=np.int64)
    seg_len = np.empty(total + n, dtype=np.int64)
    seg_off[0] = 0
    k = 0
    pos = 0
    for d in range(n):
        s, e = offsets[d], offsets[d + 1]
        if e - s > long_doc_bytes or not _has_text(data, s, e):
            continue
        pos, _ = _put(data, s, e, out, pos, limit, True)
        seg_doc[k] = d
        seg_len[k] = e - s
        k += 1
        seg_off[k] = pos
    half = chunk_bytes // 2
    prev_big = True
    run = 0
    run_size = 0
    open_piece = False
    cur_doc, cur_run, cur_chunk = -1, -1, -1
    room = limit
    length = 0
    for d in range(n):
        s, e = offsets[d], offsets[d + 1]
        if e - s <= long_doc_bytes:
            continue
        prev_big = True  # each document starts a run of its own: its pieces do not depend on its batch
        ls = s
        while ls <= e:
            le = ls
            while le < e and data[le] != 10:
                le += 1
            if _has_text(data, ls, le):
                size = le - ls + 1
                big = size >= half
                if big or prev_big:
                    run += 1
                    run_size = 0
                run_size += size
                chunk = run_size // chunk_bytes
                if open_piece and cur_doc == d and cur_run == run and cur_chunk == chunk:
                    if room != 0:  # the joining space is a character of the piece
                        out[pos] = 32
                        pos += 1
                        room -= room > 0
                    length += 1
                else:
                    if open_piece:
                        seg_doc[k] = cur_doc
                        seg_len[k] = length
                        k += 1
                        seg_off[k] = pos
                    open_piece = True
                    cur_doc, cur_run, cur_chunk = d, run, chunk
                    room = limit
                    length = 0
                pos, room = _put(data, ls, le, out, pos, room, False)
                length += le - ls
                prev_big = big
            ls = le + 1
    if open_piece:
        seg_doc[k] = cur_doc
        seg_len[k] = length
        k += 1
        seg_off[k] = pos
    return out[:pos], seg_off[: k + 1], seg_doc[:k], seg_len[:k]
