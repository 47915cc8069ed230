"""Compiled LSH band keys: each band's ``rows`` signature values hashed to one uint64.

The same values as the numpy expression this replaced (``tests/filters/dedup`` keeps it as
the reference): per band ``j`` the state starts at ``(j + 1) * 0x9E3779B97F4A7C15`` and
takes each value of the band in turn as ``fmix64(state ^ value)``. numpy ran that as one
pass per signature value over all documents with a temporary per operation (~900 array
operations for 128 values); here one loop per document keeps the state in a register.
Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from filters.dedup.sketch.shingle_kernel import fmix64


@numba.njit(cache=True, nogil=True, boundscheck=False)
def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:  # pragma: no cover - compiled
    """(n, bands) uint64 bucket keys of the (n, >= bands * rows) uint32 signatures ``sig``."""
    n = sig.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    for d in range(n):
        for j in range(bands):
            h = np.uint64(j + 1) * np.uint64(0x9E3779B97F4A7C15)
            for r in range(j * rows, (j + 1) * rows):
                h = fmix64(h ^ np.uint64(sig[d, r]))
            out[d, j] = h
    return out
