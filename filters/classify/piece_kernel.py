"""The classify stage's pieces as byte ranges of the Arrow texts.

:func:`filters.classify.stage.document_pieces` cuts every candidate document into the
pieces the models score (``filters.classify.data.text_chunks`` at line breaks, or the
head) and :func:`filters.classify.tokens.tokenize_many_binary` joins them, encodes the
batch to UTF-16 and tokenizes it. Done in Python that needed a ``str`` per document and
per piece, a join and an encode: ~0.45 CPU-s of the stage's ~3.8 on the 50,000-document
benchmark corpus. Here the same pieces are found as byte ranges of the texts' UTF-8
(:func:`piece_ranges`, code point by code point as the Python does it), which
:func:`filters.classify.token_kernel.tokenize_pieces` reads. The tests compare pieces,
lengths and tokenized lines with the Python path.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from filters.utf8_kernel import decode_text


@lru_cache(maxsize=1)
def space_table() -> np.ndarray:
    """``str.isspace`` of every BMP code point (no character above the BMP is a space)."""
    return np.array([chr(c).isspace() for c in range(0x10000)], dtype=np.bool_)


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _round_half_even(x: float) -> int:  # pragma: no cover - compiled
    """Python's ``round(x)`` of a non-negative float."""
    r = np.floor(x)
    d = x - r
    n = np.int64(r)
    if d > 0.5 or (d == 0.5 and n % 2 == 1):
        n += 1
    return n


@numba.njit(cache=True, nogil=True, boundscheck=False)
def piece_ranges(data: np.ndarray, offsets: np.ndarray, docs: np.ndarray, chunk_chars: int, max_chunks: int,
                 head_only: bool, is_space: np.ndarray):  # pragma: no cover - compiled
    """(byte starts, byte ends, code point lengths, per-document first piece with one
    entry more than documents) of the pieces of the texts ``docs`` (indices into
    ``offsets``, so the texts are not copied) of ``document_pieces`` in mode ``head``
    (``head_only``) or ``share``/``max`` (``text_chunks``): a document that fits is one
    piece; a longer one is cut at the last ``\\n`` in the second half of each
    ``chunk_chars`` window (hard where there is none), all-space pieces dropped, and at
    most ``max_chunks`` kept, spread as ``round(i * step)`` picks them."""
    n_docs = len(docs)
    longest = 0
    total = 0
    for t in range(n_docs):
        size = offsets[docs[t] + 1] - offsets[docs[t]]
        longest = max(longest, size)
        total += size
    # a window advances by more than chunk_chars // 2 characters: a document of n characters
    # (n <= its bytes) has at most n // (chunk_chars // 2 + 1) + 1 pieces
    step_min = chunk_chars // 2 + 1
    at = np.empty(longest + 1, np.int64)  # byte position of each code point of the document
    cp = np.empty(longest + 1, np.int64)
    local_s = np.empty(longest // step_min + 2, np.int64)
    local_e = np.empty(longest // step_min + 2, np.int64)
    most = n_docs + total // step_min + 1
    starts = np.empty(most, np.int64)
    ends = np.empty(most, np.int64)
    lengths = np.empty(most, np.int64)
    doc_first = np.zeros(n_docs + 1, np.int64)
    k = 0
    for t in range(n_docs):
        n = decode_text(data, offsets[docs[t]], offsets[docs[t] + 1], cp, at)
        if n <= chunk_chars or head_only:
            m = min(n, chunk_chars)
            starts[k], ends[k], lengths[k] = at[0], at[m], m
            k += 1
            doc_first[t + 1] = k
            continue
        count = 0
        start = 0
        while start < n:
            end = min(start + chunk_chars, n)
            if end < n:
                lo = start + chunk_chars // 2
                cut = -1
                for q in range(end - 1, lo - 1, -1):
                    if cp[q] == 10:
                        cut = q
                        break
                if cut > start:
                    end = cut + 1
            visible = False
            for q in range(start, end):
                c = cp[q]
                if c >= 0x10000 or not is_space[c]:
                    visible = True
                    break
            if visible:
                local_s[count], local_e[count] = start, end
                count += 1
            start = end
        keep = count
        if max_chunks > 0 and count > max_chunks:
            keep = max_chunks
        step = (count - 1) / (max_chunks - 1) if keep < count and max_chunks > 1 else 0.0
        for i in range(keep):
            j = i if keep == count or max_chunks == 1 else _round_half_even(i * step)
            starts[k], ends[k], lengths[k] = at[local_s[j]], at[local_e[j]], local_e[j] - local_s[j]
            k += 1
        doc_first[t + 1] = k
    return starts[:k], ends[:k], lengths[:k], doc_first
