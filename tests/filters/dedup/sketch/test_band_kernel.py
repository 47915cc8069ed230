"""band_kernel.band_keys: the compiled band hashing gives the numpy reference's keys."""

from __future__ import annotations

import numpy as np
import pytest

from filters.dedup.signatures import band_keys
from filters.dedup.sketch.shingles import fmix64


def reference_band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The numpy expression band_keys was: one pass per signature value over all rows."""
    n = sig.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bands):
            h = np.full(n, np.uint64(j + 1) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
            for v in sig[:, j * rows : (j + 1) * rows].T:
                h = fmix64(h ^ v.astype(np.uint64))
            out[:, j] = h
    return out


@pytest.mark.parametrize("bands,rows", [(16, 8), (9, 13), (1, 1), (32, 4)])
def test_band_keys_equal_the_numpy_reference(bands, rows):
    rng = np.random.default_rng(bands * 100 + rows)
    sig = rng.integers(0, 2**32, size=(500, 128), dtype=np.uint64).astype(np.uint32)
    sig[7] = 0xFFFFFFFF  # an empty document's signature
    assert np.array_equal(band_keys(sig, bands, rows), reference_band_keys(sig, bands, rows))


def test_band_keys_of_a_strided_view_and_no_rows():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(40, 256), dtype=np.uint64).astype(np.uint32)[:, ::2]
    assert np.array_equal(band_keys(sig, 16, 8), reference_band_keys(sig, 16, 8))
    assert band_keys(np.zeros((0, 128), np.uint32), 16, 8).shape == (0, 16)
