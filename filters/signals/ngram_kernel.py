"""Compiled Gopher top-n-gram coverage for :func:`filters.signals.general.word_signals`.

Per document, over its word hashes: every window of ``n`` words gets the same 64-bit key as
the polars path (``h0 * MIX + h1``, wrapping, and so on), keys are sorted (stably, so each
group's first element is the n-gram's first occurrence), and the most frequent key that
repeats wins, ties going to the larger coverage (count x the first occurrence's
characters), exactly the polars path's sort order. Its coverage is returned (0 when no
n-gram repeats). Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def top_ngram_covered(doc_offsets: np.ndarray, hashes: np.ndarray, lengths: np.ndarray, n: int,
                      mix: np.uint64) -> np.ndarray:
    n_docs = len(doc_offsets) - 1
    out = np.zeros(n_docs, dtype=np.int64)
    for d in range(n_docs):
        s, e = doc_offsets[d], doc_offsets[d + 1]
        m = e - s - n + 1
        if m < 2:
            continue
        keys = np.empty(m, dtype=np.uint64)
        lens = np.empty(m, dtype=np.int64)
        for i in range(m):
            k = hashes[s + i]
            length = lengths[s + i]
            for j in range(1, n):
                k = k * mix + hashes[s + i + j]
                length += lengths[s + i + j]
            keys[i] = k
            lens[i] = length
        order = np.argsort(keys, kind="mergesort")
        best_cnt, best_cov = 0, 0
        i = 0
        while i < m:
            key = keys[order[i]]
            j = i + 1
            while j < m and keys[order[j]] == key:
                j += 1
            cnt = j - i
            if cnt > 1:
                cov = cnt * lens[order[i]]
                if cnt > best_cnt or (cnt == best_cnt and cov > best_cov):
                    best_cnt, best_cov = cnt, cov
            i = j
        out[d] = best_cov
    return out
