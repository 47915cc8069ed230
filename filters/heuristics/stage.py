"""Heuristics stage: Gopher/C4/FineWeb-style quality rules, Chinese-aware, with code
(StarCoder-style) and math routes.

Every signal is kept as a ``quality_*`` column; rules (``filters.heuristics.rules``) turn
them into ``heuristics:<rule>`` reasons. Documents are routed by ``doc_kind``
(``filters.signals.doc_kind``; reused from ``langid`` when that ran first): prose gets the web
rules, math a short-text-tolerant subset, code the StarCoder rules. Chinese documents
(Han-dominated) are counted in jieba words and judged by Chinese punctuation.

Default thresholds: Gopher (Rae et al. 2021) for word counts, word length, symbol ratio,
bullets, ellipses, duplicate lines/paragraphs and top n-grams; FineWeb for terminal
punctuation (lines ending in punctuation >= 0.12) and short lines (<= 0.67);
StarCoder for code line lengths (max 1000, mean 100) and alphanumeric share (>= 0.25).

Note on short texts: ``min_words`` (50, Gopher) rejects single sentences as
``heuristics:too_few_words``. That is intended for web documents; for sentence-level
data (the neg_en/neg_zh dev rows, synthetic one-liners) lower ``min_words`` (and
``min_stopwords_en``) in the config. Math keeps its own, small ``math_min_words``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import polars as pl
import pyarrow as pa

from filters.signals.doc_kind import DocKindConfig, doc_kind_frame
from filters.heuristics.rules import build_rules, first_failed
from filters.signals.script_detect import char_stats
from filters.signals.general import mixed_word_signals, text_flag_signals, text_line_signals, text_word_signals
from filters.signals.word_kernel import SEP
from filters.signals.zh import DEFAULT_SPAM_WORDS, JiebaWords, all_have_han, keyword_hits, keyword_pattern, load_keywords
from pipeline.active_rows import ActiveRows, contiguous


@dataclass
class HeuristicsStage:
    """Rule-based quality filter; thresholds are the fields below."""

    name: ClassVar[str] = "heuristics"

    # prose, Gopher
    min_words: int = field(default=50, metadata={"help": "Gopher minimum words (jieba words for Chinese)"})
    max_words: int = 100_000  # drop prose with more words than this (Gopher)
    min_mean_word_len: float = 3.0  # drop prose whose mean word length is below (Gopher)
    max_mean_word_len: float = 10.0  # drop prose whose mean word length is above (Gopher)
    zh_min_mean_word_len: float = field(default=1.0, metadata={"help": "jieba words average ~1.6 characters"})
    zh_max_mean_word_len: float = 4.0  # the same ceiling for Chinese, in jieba words
    max_symbol_word_ratio: float = field(default=0.1, metadata={"help": "('#' + '...') per word"})
    max_bullet_lines_frac: float = 0.9  # drop when more lines than this start with a bullet (Gopher)
    max_ellipsis_lines_frac: float = 0.3  # drop when more lines than this end with an ellipsis (Gopher)
    min_alpha_word_frac: float = 0.8  # drop when fewer words than this contain a letter (Gopher)
    min_stopwords_en: int = field(default=2, metadata={"help": "Gopher: the/be/to/of/and/that/have/with, non-CJK prose"})
    max_dup_line_frac: float = 0.3  # drop when more lines than this are repeats (Gopher)
    max_dup_line_char_frac: float = 0.2  # the same, by characters in repeated lines
    max_dup_para_frac: float = 0.3  # drop when more paragraphs than this are repeats (Gopher)
    max_dup_para_char_frac: float = 0.2  # the same, by characters in repeated paragraphs
    max_top_2gram_frac: float = 0.2  # drop when the most frequent word 2-gram covers more characters than this (Gopher)
    max_top_3gram_frac: float = 0.18  # the same for 3-grams
    max_top_4gram_frac: float = 0.16  # the same for 4-grams
    # prose, C4 / FineWeb
    min_terminal_punct_frac: float = field(default=0.12, metadata={"help": "FineWeb: share of lines ending in punctuation"})
    max_short_line_frac: float = field(default=0.67, metadata={"help": "FineWeb: lines under 30 chars (10 for CJK)"})
    max_boilerplate_lines_frac: float = field(default=0.4, metadata={"help": "lines about javascript/cookies/policies/ICP"})
    drop_curly_bracket: bool = field(default=False, metadata={"help": "C4 drops pages with '{'; off: code snippets in prose are wanted here"})
    # Chinese
    min_zh_punct_ratio: float = field(default=0.02, metadata={"help": "Chinese punctuation per CJK character, CJK prose"})
    max_zh_punct_ratio: float = field(default=0.5, metadata={"help": "above: bracket-per-character SEO obfuscation (【随】【着】...)"})
    cjk_doc_share: float = field(default=0.5, metadata={"help": "Han share of letters above which a document is counted in jieba words"})
    spam_words_path: str = field(default=str(DEFAULT_SPAM_WORDS), metadata={"path": True, "help": "one keyword per line"})
    spam_words: list[str] = field(default_factory=list, metadata={"help": "extra keywords added to the file's"})
    spam_min_hits: int = field(default=3, metadata={"help": "drop at this many keyword hits"})
    spam_max_per_1k_han: float = field(default=10.0, metadata={"help": "or at this many hits per 1000 Han characters"})
    # math
    math_min_words: int = field(default=5, metadata={"help": "math problems can be one sentence"})
    # code, StarCoder
    code_max_line_len: int = 1000  # code: drop when a line is longer than this (StarCoder)
    code_max_mean_line_len: float = 100.0  # code: drop when the mean line length is above this (minified)
    code_min_alnum_frac: float = 0.25  # code: drop when fewer characters than this are alphanumeric
    code_drop_autogen: bool = True  # code: drop files whose header says they are generated
    code_drop_data_files: bool = True  # code: drop files that are mostly data (number tables, base64)
    jieba_hmm: bool = field(default=False, metadata={"help": "jieba HMM for unknown words (slower)"})
    jieba_max_chars: int = field(default=20_000, metadata={"help": "segment at most this head of a Chinese document (counts are scaled up)"})

    def __post_init__(self) -> None:
        self._jieba: JiebaWords | None = None
        self._spam_pattern: str | None = None
        self._spam_needs_han = False

    def setup(self) -> None:
        if self._jieba is None:
            self._jieba = JiebaWords(hmm=self.jieba_hmm)
            self._jieba.joined(["预热 warm-up"])  # load the dictionary and the kernel now, not in the first batch
            keywords = load_keywords(self.spam_words_path, self.spam_words)
            self._spam_pattern = keyword_pattern(keywords)
            self._spam_needs_han = all_have_han(keywords)
            char_stats(pa.array(["预热 warm-up"]))  # build the character tables now, not in the first batch
            doc_kind_frame(pa.array(["预热 warm-up"]), DocKindConfig())
            text_word_signals(pa.array(["预热 warm-up"]))
            text_line_signals(pl.Series(["预热 warm-up"]), np.zeros(1, bool))

    def signals(self, texts: pa.Array, kinds: np.ndarray | None = None) -> pl.DataFrame:
        """Every ``quality_*`` signal plus ``doc_kind`` for ``texts`` (no filtering)."""
        self.setup()
        assert self._jieba is not None
        texts = contiguous(texts)
        dk = doc_kind_frame(texts, DocKindConfig())
        if kinds is not None:
            dk = dk.with_columns(pl.Series("doc_kind", kinds, dtype=pl.String).fill_null(dk["doc_kind"]))
        st = char_stats(texts)
        cjk_doc = st.han_share >= self.cjk_doc_share
        series = pl.Series("text", texts).fill_null("")
        kind = dk["doc_kind"].to_numpy()
        # words: jieba for Chinese prose/math (tokens without a letter or number left out),
        # whitespace otherwise; code needs none. Both are cut in one compiled pass over the
        # bytes (the Chinese documents as jieba's tokens joined by a separator).
        need_jieba = cjk_doc & (kind != "code")
        scale = np.ones(len(series))
        if need_jieba.any():
            idx = np.flatnonzero(need_jieba)
            docs = series.gather(idx)
            head = docs.str.slice(0, self.jieba_max_chars)
            # word counts of a long document are extrapolated from its segmented head
            scale[idx] = (docs.str.len_chars() / pl.Series(head.str.len_chars()).clip(lower_bound=1)).to_numpy()
            words = mixed_word_signals(texts, idx, self._jieba.joined(head.to_arrow(), SEP))
        else:
            words = text_word_signals(texts)
        cjk_chars = st.han + st.kana + st.hangul
        df = pl.DataFrame({"text": series, "_cjk_doc": cjk_doc, "_han": st.han})
        df = df.with_columns(*text_flag_signals(pl.col("text")))
        # stop words, symbols, code, line and paragraph signals: one compiled pass
        lines = text_line_signals(series, cjk_doc, arrow=texts)
        para = ["quality_dup_para_frac", "quality_dup_para_char_frac"]
        df = pl.concat(
            [df, lines.drop(para), words, lines.select(para), dk],
            how="horizontal",
        )
        chars = np.maximum(st.chars, 1)
        df = df.with_columns((pl.col("quality_word_count") * pl.Series(scale)).round(0).cast(pl.Int64))
        df = df.with_columns(
            (pl.col("_symbols") / pl.max_horizontal(pl.col("quality_word_count"), 1)).alias("quality_symbol_word_ratio"),
            pl.Series("quality_cjk_ratio", st.cjk_ratio),
            pl.Series("quality_zh_punct_ratio", np.divide(st.zh_punct, np.maximum(cjk_chars, 1))),
            pl.Series("quality_alnum_frac", (st.letters + st.digits) / chars),
            pl.Series("quality_spam_hits", keyword_hits(texts, self._spam_pattern, st.han > 0 if self._spam_needs_han else None)),
        )
        return df.drop("text", "_symbols")

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        rows = ActiveRows.of(batch)
        kinds = rows.column("doc_kind").to_numpy(zero_copy_only=False) if "doc_kind" in batch.column_names else None
        sig = self.signals(rows.column("text"), kinds)
        reasons = first_failed(sig, build_rules(self), self.name, pl.col("doc_kind"))
        columns = {}
        for name in sig.columns:
            if name.startswith("_") or (name == "doc_kind" and kinds is not None):
                continue  # internal, or langid's doc_kind (kept on the rows it dropped too)
            values = sig[name].to_arrow()
            is_text = pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type)
            columns[name] = (values, pa.string() if is_text else values.type)  # polars' strings stored as string
        return rows.scatter(batch, columns, reasons=reasons.to_arrow())
