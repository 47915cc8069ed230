"""A fastText model's top label per line, computed by :mod:`filters.fasttext_infer.kernel`.

langid's segment samples with lid.176 (character n-grams: ~4x faster than the library) and
classify's pieces with the math and code models (words and word bigrams: ~1.7x), answers
identical to the library's in both (labels and float32 probabilities). It reads the same
model file; :meth:`CompiledPredictor.load` raises :class:`ModelFileError` for a file it
cannot read (a quantized output matrix, a loss other than softmax or hierarchical softmax).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from filters.fasttext_infer.model_file import FastTextModel, ModelFileError, read_model
from filters.signals.script_detect import utf8_buffers

__all__ = ["CompiledPredictor", "ModelFileError", "hs_tree", "load_or_none"]
log = logging.getLogger(__name__)


def hs_tree(label_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) children of fastText's Huffman tree over the labels (counts sorted as in
    the file): leaves are 0..osz-1, inner nodes osz..2*osz-2, the root last; -1 at leaves."""
    osz = len(label_counts)
    count = np.full(2 * osz - 1, 10**15, dtype=np.int64)
    count[:osz] = label_counts
    left = np.full(2 * osz - 1, -1, dtype=np.int64)
    right = np.full(2 * osz - 1, -1, dtype=np.int64)
    leaf, node = osz - 1, osz
    for i in range(osz, 2 * osz - 1):
        pick = [0, 0]
        for j in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                pick[j], leaf = leaf, leaf - 1
            else:
                pick[j], node = node, node + 1
        left[i], right[i] = pick
        count[i] = count[pick[0]] + count[pick[1]]
    return left, right


class CompiledPredictor:
    """fastText's ``predict(line, k=1)`` for many lines at once, on a supervised model."""

    def __init__(self, model: FastTextModel, cache_entries: int = 0) -> None:
        if model.loss not in ("hs", "softmax"):
            raise ModelFileError(f"loss {model.loss!r}: only hierarchical softmax and softmax models are supported")
        self.model = model
        self.labels = [f"__label__{x}" for x in model.labels]
        from filters.fasttext_infer.kernel import prune_table, vocabulary_table

        self._word_offsets = np.zeros(len(model.words) + 1, dtype=np.int64)
        self._word_offsets[1:] = np.cumsum([len(w) for w in model.words])
        self._word_data = np.frombuffer(b"".join(model.words), dtype=np.uint8)
        self._table = vocabulary_table(self._word_data, self._word_offsets)
        if (model.prune_index == np.arange(len(model.prune_index))).all():  # unpruned: every bucket has its row
            self._prune_bits, self._prune_keys, self._prune_rows = np.zeros(0, np.uint64), np.zeros(0, np.int32), np.zeros(0, np.int32)
        else:
            self._prune_bits, self._prune_keys, self._prune_rows = prune_table(model.prune_index)
        # answers remembered by line hash (see kernel.predict_top): a table twice the entries
        size = 1 << max(4, (2 * cache_entries - 1).bit_length()) if cache_entries > 0 else 0
        self._cache_keys = np.zeros(size, np.uint64)
        self._cache_labels = np.zeros(size, np.int32)
        self._cache_probs = np.zeros(size, np.float32)
        self._cache_fill = np.array([0, cache_entries], np.int64)
        self._cache_threshold = 0.0
        if model.loss == "hs":
            self._left, self._right = hs_tree(model.counts[model.nwords:])
        else:
            self._left = self._right = np.zeros(1, dtype=np.int64)

    @classmethod
    def load(cls, path: str | Path, cache_entries: int = 0) -> "CompiledPredictor":
        """The predictor of the model file ``path``, remembering up to ``cache_entries``
        answers by line hash across calls (0: none)."""
        return cls(read_model(path), cache_entries)

    def top(self, lines: pa.Array | pa.ChunkedArray, threshold: float = 0.0,
            rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(label index into :attr:`labels`, -1 where fastText gives none; float32 probability)
        for each line, or for the lines ``rows`` (int64 indices) only, read in place; a line
        is read up to its first newline, as fastText reads it."""
        from filters.fasttext_infer.kernel import predict_top

        kind = lines.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
                or pa.types.is_large_binary(kind)):
            raise TypeError(f"lines must be Arrow strings or binaries, not {kind}")
        data, offsets = utf8_buffers(lines)  # a null reads as an empty line
        if threshold != self._cache_threshold:  # remembered answers hold for one threshold
            self._cache_keys[:] = 0
            self._cache_fill[0] = 0
            self._cache_threshold = threshold
        m = self.model
        if rows is None:
            line_starts, line_ends = offsets[:-1], offsets[1:]
        else:
            rows = np.asarray(rows, dtype=np.int64)
            line_starts, line_ends = offsets[rows], offsets[rows + 1]
        return predict_top(data, line_starts, line_ends, self._table, self._word_data, self._word_offsets, m.nwords, m.bucket, m.minn,
                           m.maxn, m.word_ngrams, self._prune_bits, self._prune_keys, self._prune_rows, m.input_rows, m.output_rows, m.loss == "hs",
                           self._left, self._right, np.float32(threshold), self._cache_keys, self._cache_labels,
                           self._cache_probs, self._cache_fill)


def load_or_none(paths: list[str], stage: str, cache_entries: int = 0) -> tuple[CompiledPredictor, ...] | None:
    """The compiled predictors of ``paths``, kernel loaded (or compiled) now rather than in
    the first batch; None, with a warning naming ``stage``, when any file is one the reader
    refuses: the stage then predicts with the fastText library (same answers, slower)."""
    try:
        predictors = tuple(CompiledPredictor.load(p, cache_entries=cache_entries) for p in paths)
    except ModelFileError as err:
        log.warning("%s: %s; predicting with the fastText library instead", stage, err)
        return None
    for predictor in predictors:
        predictor.top(pa.array([b"warm-up\n"]))
    return predictors
