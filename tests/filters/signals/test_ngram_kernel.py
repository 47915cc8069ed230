"""ngram_kernel: several n at once (positions filtered by the shorter n-grams' repeats)
give exactly what one pass per n gives."""

from __future__ import annotations

import numpy as np
import pytest

from filters.signals.ngram_kernel import top_ngram_covered, top_ngrams_covered

MIX = np.uint64(0x9E3779B97F4A7C15)


def _docs(seed: int, n_docs: int = 300):
    """Word-hash documents over small vocabularies (so n-grams repeat at every length),
    some empty or one word long, with a repeated block inside some."""
    rng = np.random.default_rng(seed)
    hashes, lengths, offsets = [], [], [0]
    for d in range(n_docs):
        size = int(rng.choice([0, 1, 2, 3, 5, 40, 200]))
        vocab = int(rng.integers(2, 12))
        words = rng.integers(0, vocab, size)
        if size > 20 and d % 3 == 0:
            block = words[:7].copy()
            words = np.concatenate([words, block, words[3:9], block])
        hashes.append((words.astype(np.uint64) + np.uint64(1)) * np.uint64(0x100000001B3))
        lengths.append(words + 1)
        offsets.append(offsets[-1] + len(words))
    return (np.array(offsets, np.int64), np.concatenate(hashes).astype(np.uint64),
            np.concatenate(lengths).astype(np.int64))


@pytest.mark.parametrize("ns", [[2, 3, 4], [1, 2, 3], [2, 4], [1], [3, 5, 6], [4, 5, 6, 7, 8]])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_several_n_equal_one_pass_per_n(ns, seed):
    offsets, hashes, lengths = _docs(seed)
    got = top_ngrams_covered(offsets, hashes, lengths, np.array(ns, np.int64), MIX)
    want = np.stack([top_ngram_covered(offsets, hashes, lengths, n, MIX) for n in ns], axis=1)
    assert np.array_equal(got, want)
    assert (want > 0).any(axis=0).all()  # every n found repeats somewhere: the filter was exercised


def test_no_documents_or_no_n():
    empty = np.zeros(1, np.int64), np.zeros(0, np.uint64), np.zeros(0, np.int64)
    assert top_ngrams_covered(*empty, np.array([2, 3], np.int64), MIX).shape == (0, 2)
    offsets, hashes, lengths = _docs(0, 10)
    assert top_ngrams_covered(offsets, hashes, lengths, np.zeros(0, np.int64), MIX).shape == (10, 0)
