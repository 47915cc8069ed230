"""Chinese-aware signals: jieba words, CJK ratio, Chinese punctuation, spam keywords.

Whitespace does not separate Chinese words, so Gopher's word counts mean nothing on
Chinese text; jieba segments it (dictionary loaded once per worker by
:class:`JiebaWords`; HMM off: ~2x faster and word counts barely move, since the
unknown words HMM would join are then single characters).

Segmentation without HMM runs on ``rjieba`` (jieba-rs: jieba's dictionary and its
DAG + max-probability route, in Rust) when it is installed: ~20x jieba's speed, and the
same tokens as jieba on every text of the dev sets (``tests/filters/signals/test_zh.py``
checks it). With HMM jieba-rs splits unknown words differently from jieba, so HMM
segmentation stays on jieba, as does everything when rjieba is missing. Character classes come from
the vectorized ``filters.signals.script_detect.char_stats``; keyword hits from one RE2 pass.
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


@lru_cache(maxsize=1)
def _rjieba() -> Any:
    """One jieba-rs tokenizer per process (its dictionary is built in: ~0.1 s), or None
    when rjieba is not installed."""
    try:
        import rjieba
    except ImportError:
        return None
    return rjieba.Jieba()


def segmenter(hmm: bool = False, backend: str = "auto") -> Any:
    """``cut(text) -> list[str]``: jieba's precise mode. ``backend``: ``auto`` (rjieba
    without HMM when installed, else jieba), ``jieba`` or ``rjieba``."""
    if backend not in ("auto", "jieba", "rjieba"):
        raise ValueError(f"unknown jieba backend {backend!r}")
    if backend != "jieba" and not hmm:
        rj = _rjieba()
        if rj is not None:
            cut = rj.cut
            return lambda text: cut(text, False)
        if backend == "rjieba":
            raise ImportError("rjieba is not installed")
    elif backend == "rjieba":
        raise ValueError("rjieba is used without HMM only (its HMM splits differ from jieba's)")
    tok = _tokenizer()
    return lambda text: tok.lcut(text, HMM=hmm)


class JiebaWords:
    """Word segmentation for Chinese documents (rjieba when available, see the module doc)."""

    def __init__(self, hmm: bool = False, backend: str = "auto") -> None:
        self.hmm = hmm
        self._cut = segmenter(hmm, backend)

    def words(self, texts: list[str]) -> list[list[str]]:
        """Non-space tokens of every text (punctuation tokens included; callers that
        count words drop them by character class)."""
        cut = self._cut
        return [[w for w in cut(t) if not w.isspace()] for t in texts]

    def joined(self, texts: list[str], sep: str = "\x00") -> list[str]:
        """Every token of every text (whitespace and punctuation tokens included), joined by
        ``sep`` into one string per text: what :func:`filters.signals.general.text_word_signals`
        reads, with no Python code per token."""
        cut = self._cut
        return [sep.join(cut(t)) for t in texts]
