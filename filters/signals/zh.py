"""Chinese-aware signals: jieba words, CJK ratio, Chinese punctuation, spam keywords.

Whitespace does not separate Chinese words, so Gopher's word counts mean nothing on
Chinese text; jieba segments it (dictionary loaded once per worker by
:class:`JiebaWords`; HMM off: ~2x faster and word counts barely move, since the
unknown words HMM would join are then single characters).

Segmentation without HMM runs in ``filters.signals.jieba_kernel``: jieba's dictionary
and its DAG + max-probability route, compiled over the texts' UTF-8 bytes, with jieba's
tokens (``tests/filters/signals/test_jieba_kernel.py`` compares them). It replaced
jieba-rs (``rjieba``), whose tokens it equals on the benchmark corpus's Chinese
documents and the dev sets, at about half its CPU time once the per-token ``str``
objects jieba-rs returns are counted. HMM segmentation stays on jieba itself.
Character classes come from the vectorized ``filters.signals.script_detect.char_stats``;
keyword hits from one RE2 pass.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_SPAM_WORDS = Path(__file__).resolve().parent / "spam_words_zh.txt"


def load_keywords(path: str | Path | None, extra: list[str] | None = None) -> list[str]:
    """Terms from a one-per-line file ('#' comments) plus ``extra``, deduplicated."""
    words: list[str] = []
    if path:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                words.append(line)
    words.extend(w.strip() for w in (extra or []) if w.strip())
    return list(dict.fromkeys(words))


def keyword_pattern(words: list[str]) -> str | None:
    """One case-insensitive alternation (longest first, so 自拍偷拍 beats 偷拍)."""
    if not words:
        return None
    return "(?i)" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def keyword_hits(texts: pa.Array, pattern: str | None, candidates: np.ndarray | None = None) -> np.ndarray:
    """Occurrences of any keyword per text. ``candidates`` (a boolean mask), when given,
    names the only rows that can hold a keyword (see :func:`all_have_han`); the regex
    runs on those alone and the others count 0."""
    if pattern is None or len(texts) == 0:
        return np.zeros(len(texts), np.int64)
    if candidates is not None:
        hits = np.zeros(len(texts), np.int64)
        rows = np.flatnonzero(candidates)
        if len(rows):
            hits[rows] = keyword_hits(texts.take(pa.array(rows)), pattern)
        return hits
    found = pc.count_substring_regex(texts, pattern)
    return np.asarray(pc.fill_null(found, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


def all_have_han(words: list[str]) -> bool:
    """Whether every keyword holds a Han character (as ``char_stats`` counts them): then a
    text without Han holds none, and the keyword scan can skip it (the 80% of an
    English-heavy crawl that has no Han: half the scan's cost on the benchmark corpus)."""
    from filters.signals.script_detect import char_stats

    return bool(words) and bool((char_stats(pa.array(words)).han > 0).all())


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    """One initialized jieba tokenizer per process (dictionary load ~0.65 s), shared by
    every stage instance in the worker."""
    import jieba  # heavy import: only when a stage needs words

    jieba.setLogLevel(60)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def segmenter(hmm: bool = False, backend: str = "auto") -> Any:
    """``cut(text) -> list[str]``: jieba's precise mode. ``backend``: ``auto`` (the
    compiled kernel without HMM, jieba with it), ``compiled`` (no HMM only) or ``jieba``."""
    if backend not in ("auto", "compiled", "jieba"):
        raise ValueError(f"unknown jieba backend {backend!r}")
    if hmm and backend == "compiled":
        raise ValueError("the compiled segmenter has no HMM (jieba's HMM runs on jieba)")
    if not hmm and backend != "jieba":
        return _compiled_cut
    tok = _tokenizer()
    return lambda text: tok.lcut(text, HMM=hmm)


def _compiled_cut(text: str) -> list[str]:
    from filters.signals import jieba_kernel as jk

    cp = np.fromiter(map(ord, text), dtype=np.int64, count=len(text))
    starts = jk.load_dictionary().token_starts(cp).tolist()
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


class JiebaWords:
    """Word segmentation for Chinese documents (the compiled kernel without HMM, see the
    module doc)."""

    def __init__(self, hmm: bool = False, backend: str = "auto") -> None:
        self.hmm = hmm
        self._cut = segmenter(hmm, backend)
        self._compiled = self._cut is _compiled_cut

    def words(self, texts: list[str]) -> list[list[str]]:
        """Non-space tokens of every text (punctuation tokens included; callers that
        count words drop them by character class)."""
        cut = self._cut
        return [[w for w in cut(t) if not w.isspace()] for t in texts]

    def joined(self, texts: pa.Array | pa.ChunkedArray | list[str], sep: str = "\x00") -> pa.LargeStringArray:
        """Every token of every text (whitespace and punctuation tokens included), joined by
        ``sep`` (one ASCII character) into one string per text, nulls as empty: what
        :func:`filters.signals.general.text_word_signals` reads. The compiled segmenter
        writes it from the UTF-8 bytes, with no Python object per token or text."""
        if len(sep) != 1 or ord(sep) >= 128:
            raise ValueError("sep must be one ASCII character")
        if not self._compiled:
            values = texts.to_pylist() if isinstance(texts, (pa.Array, pa.ChunkedArray)) else texts
            cut = self._cut
            return pa.array([sep.join(cut(t or "")) for t in values], pa.large_string())
        from filters.signals import jieba_kernel as jk
        from filters.signals.script_detect import utf8_buffers

        arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.large_string())
        data, offsets = utf8_buffers(arr)
        out, out_offsets = jk.load_dictionary().joined(data, offsets, ord(sep))
        return pa.LargeStringArray.from_buffers(len(out_offsets) - 1, pa.py_buffer(out_offsets), pa.py_buffer(out))
