"""General text-quality signals (Gopher, C4, FineWeb), computed over a whole batch.

Line signals, duplicate lines/paragraphs, stop words and symbols come from one compiled
pass per text (:func:`text_line_signals`, ``filters.signals.line_kernel``); word counts,
lengths and top n-gram repetition from another (:func:`text_word_signals`,
``filters.signals.word_kernel``); no Python string per line or word. Words are whitespace
tokens for alphabetic text and jieba tokens for Chinese (see ``filters.signals.zh``). The
regexes below define the rules; the polars implementations written with them, which the
kernels replaced, are the tests' reference (``tests/filters/signals/polars_reference.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

# patterns applied to one stripped line each
BULLET_START = r"^[•●○◦▪▫■□‣⁃∙·\-\*–➢►✓✔]"
ELLIPSIS_END = r"(?:\.\.\.|…|。。。)$"
TERMINAL_END = r"[.!?\"'。！？」』”’…)）]$"
BOILERPLATE = (
    r"(?i)javascript|cookie|terms of use|terms of service|privacy policy|all rights reserved"
    r"|版权所有|隐私政策|免责声明|用户协议|备案号|ICP备"
)
LOREM = r"(?i)lorem ipsum"
STOPWORDS_EN = r"(?i-u)\b(?:the|be|to|of|and|that|have|with)\b"
SYMBOL_HASH_ELLIPSIS = r"#|\.\.\.|…"
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constants for combining word hashes
_MIX_DOC = 0xC2B2AE3D27D4EB4F


def text_flag_signals(text: pl.Expr) -> list[pl.Expr]:
    """C4's lorem ipsum and curly bracket (the whole-text flags :func:`text_line_signals`
    leaves to polars)."""
    return [
        text.str.contains(LOREM).alias("quality_lorem_ipsum"),
        text.str.contains("{", literal=True).alias("quality_curly_bracket"),
    ]


@lru_cache(maxsize=1)
def _ngram_kernel():
    """The compiled top-n-gram loop for several n at once
    (``filters.signals.ngram_kernel.top_ngrams_covered``), or None without numba."""
    try:
        from filters.signals.ngram_kernel import top_ngrams_covered
    except ImportError:  # pragma: no cover - numba is a dependency; the polars path stays correct
        return None
    return top_ngrams_covered


def text_word_signals(texts: pa.Array | pa.ChunkedArray, joined: np.ndarray | None = None,
                      ngrams: tuple[int, ...] = (2, 3, 4)) -> pl.DataFrame:
    """Gopher's word signals straight from the texts, without a Python or polars string per
    word: one compiled pass (:mod:`filters.signals.word_kernel`) cuts every text into word
    hashes and lengths, and the top n-grams are counted by the same kernel as
    :func:`word_signals`. A text is cut at whitespace, or,
    where ``joined`` is true, it holds tokens joined by ``word_kernel.SEP`` (jieba's) and the
    tokens without a letter or number are left out. Same columns and values as
    the polars reference on the same words (tested)."""
    from filters.signals.script_detect import utf8_buffers

    data, offsets = utf8_buffers(texts)
    n_docs = len(offsets) - 1
    sep = np.zeros(n_docs, dtype=np.bool_) if joined is None else np.asarray(joined, dtype=np.bool_)
    return pl.DataFrame(_word_columns(data, offsets[:-1], offsets[1:], sep, ngrams))


def mixed_word_signals(texts: pa.Array | pa.ChunkedArray, rows: np.ndarray, joined: pa.Array | pa.ChunkedArray,
                       ngrams: tuple[int, ...] = (2, 3, 4)) -> pl.DataFrame:
    """:func:`text_word_signals` of ``texts`` whose rows ``rows`` (int64 indices, ascending) are
    replaced by ``joined`` (their jieba tokens joined by ``word_kernel.SEP``, in that order) and
    cut in the separator mode: the same frame, without building that mixed array. The other
    rows are read where they are; building the array copied every text of the batch
    (Arrow's ``replace_with_mask``, ~0.1 CPU-s of the benchmark corpus's run)."""
    from filters.signals.script_detect import utf8_buffers

    data, offsets = utf8_buffers(texts)
    n_docs = len(offsets) - 1
    rows = np.asarray(rows, dtype=np.int64)
    others = np.setdiff1d(np.arange(n_docs, dtype=np.int64), rows, assume_unique=True)
    plain = _word_columns(data, offsets[others], offsets[others + 1], np.zeros(len(others), np.bool_), ngrams)
    jdata, joffsets = utf8_buffers(joined)
    tokens = _word_columns(jdata, joffsets[:-1], joffsets[1:], np.ones(len(rows), np.bool_), ngrams)
    out = {}
    for name, values in plain.items():
        column = np.empty(n_docs, dtype=values.dtype)
        column[others] = values
        column[rows] = tokens[name]
        out[name] = column
    return pl.DataFrame(out)


def _word_columns(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, sep: np.ndarray,
                  ngrams: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The columns of :func:`text_word_signals` for the texts ``data[starts[d]:ends[d]]``."""
    from filters.signals.word_kernel import doc_sums, word_tokens

    doc_offsets, hashes, lengths, alpha = word_tokens(data, starts, ends, sep, char_flags())
    count = np.diff(doc_offsets)
    word_chars, alpha_words = doc_sums(doc_offsets, lengths, alpha)
    has = count > 0
    safe = np.maximum(count, 1)
    out = {
        "quality_word_count": count.astype(np.int64),
        "quality_mean_word_len": np.where(has, word_chars / safe, 0.0),
        "quality_alpha_word_frac": np.where(has, alpha_words / safe, 0.0),
    }
    chars = np.maximum(word_chars, 1)
    ns = sorted(set(ngrams))
    covered = _ngram_kernel()(doc_offsets, hashes, lengths, np.array(ns, dtype=np.int64), np.uint64(_MIX))
    for n in ngrams:
        out[f"quality_top_{n}gram_frac"] = np.where(has, covered[:, ns.index(n)] / chars, 0.0)
    return out


@lru_cache(maxsize=1)
def char_flags(top: int = 0x40000) -> np.ndarray:
    """uint8 per code point (0..0x10FFFF): ``word_kernel.LETTER`` where polars' ``\\pL``
    matches it, ``NUMBER`` for ``\\pN``, ``SPACE`` for ``\\s``: the regexes' own Unicode tables,
    read by running them over the characters once (0.03-0.15 CPU-s) and kept on disk per polars
    build (``filters.array_cache``). Planes 4-16 hold no letter, number or space (tags,
    variation selectors, private use; ``top`` = 0x110000 checks it in a test), so only planes
    0-3 are read."""
    from filters.array_cache import cached_table, polars_binary

    return cached_table(f"char-flags-{top:x}", polars_binary(), __file__, lambda: _read_char_flags(top))


def _read_char_flags(top: int) -> np.ndarray:
    from filters.signals.word_kernel import LETTER, NUMBER, SPACE

    from filters.signals.script_detect import char_strings

    cp, arr = char_strings(top)
    chars = pl.Series(arr)
    flags = np.zeros(0x110000, dtype=np.uint8)
    flags[cp] = (chars.str.contains(r"\pL").to_numpy() * LETTER | chars.str.contains(r"\pN").to_numpy() * NUMBER
                 | chars.str.contains(r"\s").to_numpy() * SPACE)
    return flags


BULLET_CHARS = "•●○◦▪▫■□‣⁃∙·-*–➢►✓✔"  # BULLET_START's class
TERMINAL_CHARS = ".!?\"'。！？」』”’…)）"  # TERMINAL_END's class
ELLIPSES = ("...", "…", "。。。")  # ELLIPSIS_END's alternatives
BOILERPLATE_PHRASES = ("javascript", "cookie", "terms of use", "terms of service", "privacy policy",
                       "all rights reserved", "版权所有", "隐私政策", "免责声明", "用户协议", "备案号", "icp备")
STOPWORDS = ("the", "be", "to", "of", "and", "that", "have", "with")  # STOPWORDS_EN's words


def text_line_signals(texts: pl.Series, cjk: np.ndarray, short_line_chars: int = 30, short_line_chars_cjk: int = 10,
                      autogen_head_lines: int | None = None, arrow: pa.Array | None = None) -> pl.DataFrame:
    """Line fractions, duplicate lines and paragraphs (Gopher), the stop-word and symbol
    counts and the StarCoder code columns, from one compiled pass per text
    (:mod:`filters.signals.line_kernel`) instead of exploded frames and a dozen regex passes. Columns (same names, types and values as
    the reference, tested on the dev sets): ``quality_stopwords_en``, ``_symbols``, the four
    code columns, the seven line fractions and the two paragraph fractions. Only the
    auto-generated marker still runs a regex, on each text's first lines. ``arrow``: the same
    texts as an Arrow array, when the caller has it (the kernel reads its bytes in place; a
    polars string column would be copied out to Arrow first)."""
    from filters.signals.code import AUTOGEN, AUTOGEN_HEAD_LINES
    from filters.signals.line_kernel import (BASE64_RUNS, BOILER, BULLET, CHARS, DATA_LINES, DUP_LINE_CHARS,
                                             DUP_LINES, DUP_PARA_CHARS, DUP_PARAS, ELLIPSIS, HEAD_CHARS, LINE_CHARS,
                                             LINES, MAX_LINE_LEN, NEWLINES, PARA_CHARS, PARAS, SHORT, STOPWORDS,
                                             SYMBOLS, TERMINAL, line_counts)
    from filters.signals.script_detect import utf8_buffers

    texts = texts.fill_null("")
    data, offsets = utf8_buffers(texts.to_arrow() if arrow is None else arrow)
    t = _line_tables()
    head_lines = AUTOGEN_HEAD_LINES if autogen_head_lines is None else autogen_head_lines
    phrase_docs = texts.str.contains(BOILERPLATE).to_numpy()  # one fast pass; lines searched only there
    c = line_counts(data, offsets, np.asarray(cjk, dtype=np.bool_), phrase_docs, t["marks"], t["phrases"], t["phrase_off"],
                    t["stopwords"], t["stop_off"], t["ellipses"], t["ellipsis_off"], short_line_chars,
                    short_line_chars_cjk, head_lines)
    lines = np.maximum(c[:, LINES], 1)
    n_lines = c[:, NEWLINES] + 1

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.where(den > 0, num / np.maximum(den, 1), 0.0)

    heads = pl.DataFrame({"t": texts, "n": c[:, HEAD_CHARS]}).select(
        pl.col("t").str.slice(0, pl.col("n")).str.contains(AUTOGEN).fill_null(False))
    return pl.DataFrame({
        "quality_stopwords_en": c[:, STOPWORDS],
        "_symbols": c[:, SYMBOLS],
        "quality_max_line_len": c[:, MAX_LINE_LEN],
        "quality_mean_line_len": c[:, CHARS] / n_lines,
        "quality_autogen": heads.to_series(),
        "quality_data_file": (c[:, DATA_LINES] / n_lines >= 0.6) | (c[:, BASE64_RUNS] * 120 >= c[:, CHARS] * 0.3),
        "quality_bullet_lines_frac": c[:, BULLET] / lines,
        "quality_ellipsis_lines_frac": c[:, ELLIPSIS] / lines,
        "quality_terminal_punct_frac": c[:, TERMINAL] / lines,
        "quality_short_line_frac": c[:, SHORT] / lines,
        "quality_boilerplate_lines_frac": c[:, BOILER] / lines,
        "quality_dup_line_frac": c[:, DUP_LINES] / lines,
        "quality_dup_line_char_frac": c[:, DUP_LINE_CHARS] / np.maximum(c[:, LINE_CHARS], 1),
        "quality_dup_para_frac": ratio(c[:, DUP_PARAS], c[:, PARAS]),
        "quality_dup_para_char_frac": ratio(c[:, DUP_PARA_CHARS], c[:, PARA_CHARS]),
    })


@lru_cache(maxsize=1)
def _line_tables() -> dict[str, np.ndarray]:
    """The character sets and phrases of :func:`text_line_signals` as arrays for the kernel."""
    from filters.signals.line_kernel import M_B64, M_BULLET, M_DATA, M_SPACE, M_TERMINAL, M_WORD, SPACE_CHARS

    marks = np.zeros(0x10000, dtype=np.uint8)
    for chars, bit in ((BULLET_CHARS, M_BULLET), (TERMINAL_CHARS, M_TERMINAL), (DATA_CHARS, M_DATA),
                       (BASE64_CHARS, M_B64), (ASCII_WORD_CHARS, M_WORD), (SPACE_CHARS, M_SPACE)):
        marks[[ord(ch) for ch in chars]] |= bit

    def packed(items, encode):
        parts = [np.array(encode(x), dtype=np.int64) for x in items]
        off = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in parts], out=off[1:])
        return np.concatenate(parts), off

    phrases, phrase_off = packed(BOILERPLATE_PHRASES, lambda x: [ord(ch) for ch in x])
    stopwords, stop_off = packed(STOPWORDS, lambda x: list(x.encode()))
    ellipses, ellipsis_off = packed(ELLIPSES, lambda x: list(x.encode()))
    return {"marks": marks, "phrases": phrases, "phrase_off": phrase_off, "stopwords": stopwords.astype(np.uint8),
            "stop_off": stop_off, "ellipses": ellipses.astype(np.uint8), "ellipsis_off": ellipsis_off}


DATA_CHARS = " \t0123456789.,;:+-eE\"'[]{}()|/"  # filters.signals.code.DATA_LINE's class
BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="  # BASE64_RUN's class
ASCII_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"  # (?-u)\w


