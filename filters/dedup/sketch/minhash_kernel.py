"""The compiled inner loop of MinHash (numba): per document, per shingle, per
permutation ``min(a_k * h + b_k mod 2^32)``. Imported lazily by ``filters.dedup.sketch.minhash``;
compiled on first use and cached on disk (``cache=True``), so workers pay it once."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def min_affine32(h32, offsets, a, b, out):  # pragma: no cover - compiled
    num_perm = a.shape[0]
    for d in range(offsets.shape[0] - 1):
        row = out[d]
        for i in range(offsets[d], offsets[d + 1]):
            h = h32[i]
            for k in range(num_perm):
                v = np.uint32(a[k] * h + b[k])
                if v < row[k]:
                    row[k] = v
