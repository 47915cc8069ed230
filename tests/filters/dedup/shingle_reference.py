"""The numpy reference for shingle hashing (no compiled code), used by tests and the
speed benchmark to check the compiled path of ``filters.dedup.sketch.shingles``.

Every shingle is a contiguous byte span of the normalized text (tokens separated by
one space); its hash comes from prefix sums of a polynomial hash (mod 2^64, wrapping
numpy uint64 arithmetic), so all shingles of a batch are hashed in a handful of numpy
passes with no per-shingle Python code (~10 MB/s with normalization, against ~45 MB/s
compiled).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from filters.dedup.sketch.shingles import _CHUNK_BYTES, _P, ShingleConfig, char_classes, fmix64


@lru_cache(maxsize=2)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2^64 for i < n (numpy uint64 products wrap mod 2^64)."""
    inv = pow(int(_P), -1, 1 << 64)
    with np.errstate(over="ignore"):
        pw = np.full(n, _P, dtype=np.uint64)
        pw[0] = 1
        pw = np.cumprod(pw, dtype=np.uint64)
        ipw = np.full(n, np.uint64(inv), dtype=np.uint64)
        ipw[0] = 1
        ipw = np.cumprod(ipw, dtype=np.uint64)
    return pw, ipw


def shingle_hashes(
    normalized: pl.Series, config: ShingleConfig = ShingleConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every shingle of every document, vectorized over the batch.

    Returns ``(hashes, doc_offsets)``: uint64 hashes (``span_hash64`` of each shingle
    string, repeats kept, document order) and int64 offsets of length n_docs + 1 so
    that document i owns ``hashes[doc_offsets[i]:doc_offsets[i+1]]``.
    """
    arr = normalized.cast(pl.String).to_arrow().cast("large_string")
    n_docs = len(arr)
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n_docs + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    if arr.null_count:
        raise ValueError("normalized texts must not contain nulls")
    # chunk documents so that the polynomial power tables stay small
    out_h: list[np.ndarray] = []
    counts = np.zeros(n_docs, dtype=np.int64)
    start_doc = 0
    while start_doc < n_docs:
        end_doc = int(np.searchsorted(offsets, offsets[start_doc] + _CHUNK_BYTES, side="right")) - 1
        end_doc = max(end_doc, start_doc + 1)
        end_doc = min(end_doc, n_docs)
        lo, hi = int(offsets[start_doc]), int(offsets[end_doc])
        h, c = _chunk_hashes(data[lo:hi], offsets[start_doc : end_doc + 1] - lo, config)
        out_h.append(h)
        counts[start_doc:end_doc] = c
        start_doc = end_doc
    hashes = np.concatenate(out_h) if out_h else np.zeros(0, np.uint64)
    doc_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts, out=doc_offsets[1:])
    del lengths
    return hashes, doc_offsets


def _first_char_is_cjk(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per token: is it one character of class CJK (vectorized UTF-8 decode)."""
    pad = np.concatenate([data, np.zeros(4, np.uint8)]).astype(np.int64)
    b0, b1, b2, b3 = (pad[starts + k] for k in range(4))
    width = np.where(b0 < 0x80, 1, np.where(b0 < 0xE0, 2, np.where(b0 < 0xF0, 3, 4)))
    cp = np.where(width == 1, b0, np.where(width == 2, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
         np.where(width == 3, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                  ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F))))
    return (ends - starts == width) & (char_classes()[np.minimum(cp, 0x10FFFF)] == 3)


def _chunk_hashes(data: np.ndarray, offsets: np.ndarray, config: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    n_docs = len(offsets) - 1
    n = len(data)
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(n_docs, np.int64)
    # token boundaries: tokens are separated by one space; documents abut without separator
    is_sp = data == 0x20
    doc_start = np.zeros(n + 1, dtype=bool)
    doc_start[offsets[:-1][np.diff(offsets) > 0]] = True
    prev_sp = np.empty(n, dtype=bool)
    prev_sp[0] = True
    prev_sp[1:] = is_sp[:-1]
    next_sp = np.empty(n, dtype=bool)
    next_sp[-1] = True
    next_sp[:-1] = is_sp[1:]
    starts = np.flatnonzero(~is_sp & (prev_sp | doc_start[:n]))
    ends = np.flatnonzero(~is_sp & (next_sp | doc_start[1:])) + 1
    tok_doc = np.searchsorted(offsets, starts, side="right") - 1
    cjk = _first_char_is_cjk(data, starts, ends)
    # runs: maximal sequences of tokens of the same kind in the same document
    n_tok = len(starts)
    new_run = np.ones(n_tok, dtype=bool)
    new_run[1:] = (tok_doc[1:] != tok_doc[:-1]) | (cjk[1:] != cjk[:-1])
    run_id = np.cumsum(new_run) - 1
    run_first = np.flatnonzero(new_run)
    run_end = np.append(run_first[1:], n_tok)  # exclusive token index
    tok_run_end = run_end[run_id]
    ngram = np.where(cjk, config.n_cjk, config.n_word)
    idx = np.arange(n_tok)
    valid = (idx + ngram <= tok_run_end) | (new_run & (idx + ngram > tok_run_end))
    first = idx[valid]
    last = np.minimum(first + ngram[valid], tok_run_end[valid]) - 1
    s_byte, e_byte = starts[first], ends[last]
    # polynomial prefix hash: G[k] = sum_{j<k} (data[j]+1) P^j
    pw, ipw = _powers(max(_CHUNK_BYTES, n) + 1)
    with np.errstate(over="ignore"):
        g = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum((data.astype(np.uint64) + np.uint64(1)) * pw[:n], out=g[1:])
        h = (g[e_byte] - g[s_byte]) * ipw[s_byte]
        h = fmix64(h)
    counts = np.bincount(tok_doc[first], minlength=n_docs).astype(np.int64)
    return h, counts
