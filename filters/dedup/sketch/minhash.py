"""Vectorized MinHash signatures, bit-compatible with ``datasketch.MinHash`` (2.x).

datasketch 2.0's default scheme ``affine32``: a shingle's 32-bit hash ``h`` is
pre-mixed with the MurmurHash3 32-bit finalizer, then permutation k maps it to
``a_k * h + b_k mod 2^32`` (``a_k`` odd), where ``(a, b)`` are drawn from
``numpy.random.RandomState(seed)``; the signature is the per-permutation minimum.
We draw the same parameters and apply the same arithmetic to all shingles of a batch
at once (a (shingles x num_perm) uint32 block per slice, min-reduced per document),
so ``MinHash(num_perm, seed, hashfunc=shingle_hash32).update_batch(shingles)`` gives
exactly our values. The scheme name is stored with every signature set because
datasketch cannot rebuild a sketch from values without it.

An empty document (no shingles) gets the all-max signature, like an empty MinHash.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SCHEME = "affine32"
_MAX32 = np.uint32(0xFFFFFFFF)
_BLOCK = 1 << 13  # shingles per block: the uint32 block (8192 x 128) stays in L2/L3


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 parameters datasketch's affine32 scheme draws for ``seed``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (wrapping uint32 arithmetic)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(hashes: np.ndarray, doc_offsets: np.ndarray, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures from per-document shingle hashes.

    ``hashes`` holds 32-bit (or 64-bit, truncated to the low 32 bits) shingle hashes;
    document i owns ``hashes[doc_offsets[i]:doc_offsets[i+1]]``.
    """
    a, b = permutations(num_perm, seed)
    n_docs = len(doc_offsets) - 1
    out = np.full((n_docs, num_perm), _MAX32, dtype=np.uint32)
    if n_docs == 0 or len(hashes) == 0:
        return out
    kernel = _numba_kernel()
    if kernel is not None:  # the kernel cuts and pre-mixes each hash itself
        kernel(np.ascontiguousarray(hashes), np.ascontiguousarray(doc_offsets, dtype=np.int64), a, b, out)
        return out
    return _blocks(fmix32((hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)), doc_offsets, a, b, out)


def _signatures_blocks(hashes: np.ndarray, doc_offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    a, b = permutations(num_perm, seed)
    out = np.full((len(doc_offsets) - 1, num_perm), _MAX32, dtype=np.uint32)
    if len(hashes) == 0:
        return out
    return _blocks(fmix32((hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)), doc_offsets, a, b, out)


def _blocks(h32: np.ndarray, doc_offsets: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    num_perm = len(a)
    counts = np.diff(doc_offsets)
    nonempty = np.flatnonzero(counts > 0)
    starts = doc_offsets[:-1][nonempty]
    block = np.empty((_BLOCK, num_perm), dtype=np.uint32)
    total = len(h32)
    # walk the shingles in blocks; a document may straddle blocks (mins are merged)
    pos = 0
    while pos < total:
        end = min(pos + _BLOCK, total)
        m = end - pos
        buf = block[:m]
        np.multiply(h32[pos:end, None], a[None, :], out=buf)
        np.add(buf, b[None, :], out=buf)
        # documents whose shingles intersect [pos, end)
        first = int(np.searchsorted(starts, pos, side="right")) - 1
        last = int(np.searchsorted(starts, end, side="left"))
        seg_docs = nonempty[max(first, 0) : last]
        seg_starts = np.maximum(doc_offsets[seg_docs], pos) - pos
        mins = np.minimum.reduceat(buf, seg_starts, axis=0)
        np.minimum(out[seg_docs], mins, out=mins)
        out[seg_docs] = mins
        pos = end
    return out


@lru_cache(maxsize=1)
def _numba_kernel():
    """The fused per-document min loop, compiled once (cached on disk) when numba is
    installed; ~10x the numpy block path because the (shingles x num_perm) block is
    never materialized. None -> the numpy path (same values)."""
    try:
        from filters.dedup.sketch.minhash_kernel import min_affine32_mixed
    except ImportError:  # pragma: no cover - numba is a dependency; the numpy path stays correct
        return None
    return min_affine32_mixed


def signatures_numpy(hashes: np.ndarray, doc_offsets: np.ndarray, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """The numpy block path (reference for the compiled kernel)."""
    return _signatures_blocks(hashes, doc_offsets, num_perm, seed)


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise estimated Jaccard: the fraction of equal signature positions."""
    return np.mean(sig_a == sig_b, axis=-1)
