"""General text-quality signals (Gopher, C4, FineWeb), vectorized with polars.

Line signals, duplicate lines/paragraphs and top n-gram repetition explode the batch
into one row per line or word and aggregate per document: one polars pass for the whole
batch, no per-document Python. Whole-text signals are regex counts over a ``text`` column.
Words are whitespace tokens for alphabetic text and jieba tokens for Chinese (see
``filters.signals.zh``); they arrive as a list column so both share this code.
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
    """C4's lorem ipsum and curly bracket (the part of :func:`text_signals` that
    :func:`text_line_signals` leaves to polars)."""
    return [
        text.str.contains(LOREM).alias("quality_lorem_ipsum"),
        text.str.contains("{", literal=True).alias("quality_curly_bracket"),
    ]


def text_signals(text: pl.Expr) -> list[pl.Expr]:
    """Whole-text signals: C4's lorem ipsum and curly bracket, Gopher's stop words and
    the '#'/ellipsis count behind the symbol-to-word ratio."""
    return [
        *text_flag_signals(text),
        text.str.count_matches(STOPWORDS_EN).cast(pl.Int64).alias("quality_stopwords_en"),
        text.str.count_matches(SYMBOL_HASH_ELLIPSIS).cast(pl.Int64).alias("_symbols"),
    ]


def line_signals(texts: pl.Series, cjk: pl.Series, short_line_chars: int = 30, short_line_chars_cjk: int = 10) -> pl.DataFrame:
    """Per-document line fractions over non-blank lines, from one exploded frame of
    stripped lines: bullets, ellipses, terminal punctuation, short lines (``cjk`` picks
    the length: a 10-character Chinese line says as much as a 30-character English one),
    boilerplate, and Gopher's duplicate lines (a line equal to an earlier line of the
    same document, found with a hash set rather than a string group-by)."""
    n_docs = len(texts)
    df = pl.DataFrame({"text": texts, "cjk": cjk}).with_row_index("doc")
    ex = (
        df.select("doc", "cjk", pl.col("text").str.split("\n").alias("line"))
        .explode("line")
        .select("doc", "cjk", pl.col("line").str.strip_chars())
        .filter(pl.col("line").str.len_bytes() > 0)
    )
    line = pl.col("line")
    chars = line.str.len_chars()
    key = line.hash(seed=11) ^ (pl.col("doc").cast(pl.UInt64) * pl.lit(_MIX_DOC, pl.UInt64))
    dup = ~key.is_first_distinct()
    per_doc = ex.group_by("doc").agg(
        pl.len().alias("_lines"),
        line.str.contains(BULLET_START).sum().alias("_bullet"),
        line.str.contains(ELLIPSIS_END).sum().alias("_ellipsis"),
        line.str.contains(TERMINAL_END).sum().alias("_terminal"),
        pl.when(pl.col("cjk")).then(chars < short_line_chars_cjk).otherwise(chars < short_line_chars).sum().alias("_short"),
        line.str.contains(BOILERPLATE).sum().alias("_boiler"),
        dup.sum().alias("_dup"),
        chars.sum().alias("_chars"),
        chars.filter(dup).sum().alias("_dup_chars"),
    )
    out = pl.DataFrame({"doc": pl.arange(0, n_docs, eager=True).cast(pl.UInt32)}).join(per_doc, on="doc", how="left").sort("doc")
    lines = pl.max_horizontal(pl.col("_lines").fill_null(0), 1)
    frac = lambda c: (pl.col(c).fill_null(0) / lines)  # noqa: E731
    return out.select(
        frac("_bullet").alias("quality_bullet_lines_frac"),
        frac("_ellipsis").alias("quality_ellipsis_lines_frac"),
        frac("_terminal").alias("quality_terminal_punct_frac"),
        frac("_short").alias("quality_short_line_frac"),
        frac("_boiler").alias("quality_boilerplate_lines_frac"),
        frac("_dup").alias("quality_dup_line_frac"),
        (pl.col("_dup_chars").fill_null(0) / pl.max_horizontal(pl.col("_chars").fill_null(0), 1)).alias("quality_dup_line_char_frac"),
    )


def duplicate_fracs(texts: pl.Series, unit: str) -> pl.DataFrame:
    """Gopher's repetition of lines (``unit="line"``) or paragraphs (``"para"``): the
    share of items, and of their characters, that repeat an earlier item of the same
    document. Returns ``quality_dup_<unit>_frac`` and ``quality_dup_<unit>_char_frac``."""
    df = pl.DataFrame({"text": texts}).with_row_index("doc")
    col = pl.col("text")
    items = col.str.replace_all(r"\n[ \t]*\n\s*", "\x00").str.split("\x00") if unit == "para" else col.str.split("\n")
    ex = df.select("doc", items.alias("item")).explode("item").with_columns(pl.col("item").str.strip_chars())
    ex = ex.filter(pl.col("item").str.len_bytes() > 0)
    g = ex.group_by(["doc", "item"]).agg(pl.len().alias("n")).with_columns(pl.col("item").str.len_chars().alias("chars"))
    per_doc = g.group_by("doc").agg(
        pl.col("n").sum().alias("total"),
        (pl.col("n") - 1).sum().alias("dups"),
        (pl.col("n") * pl.col("chars")).sum().alias("total_chars"),
        ((pl.col("n") - 1) * pl.col("chars")).sum().alias("dup_chars"),
    )
    out = df.select("doc").join(per_doc, on="doc", how="left").sort("doc")
    return out.select(
        (pl.col("dups") / pl.col("total")).fill_null(0.0).fill_nan(0.0).alias(f"quality_dup_{unit}_frac"),
        (pl.col("dup_chars") / pl.col("total_chars")).fill_null(0.0).fill_nan(0.0).alias(f"quality_dup_{unit}_char_frac"),
    )


@lru_cache(maxsize=1)
def _ngram_kernel():
    """The compiled top-n-gram loop (``filters.signals.ngram_kernel``), or None without numba."""
    try:
        from filters.signals.ngram_kernel import top_ngram_covered
    except ImportError:  # pragma: no cover - numba is a dependency; the polars path stays correct
        return None
    return top_ngram_covered


def word_signals(words: pl.Series, ngrams: tuple[int, ...] = (2, 3, 4), *, compiled: bool = True) -> pl.DataFrame:
    """From a list[str] column of tokens: ``quality_word_count``,
    ``quality_mean_word_len``, ``quality_alpha_word_frac`` and, per n in ``ngrams``,
    ``quality_top_<n>gram_frac``: the characters covered by the most frequent word
    n-gram over all word characters (Gopher). The n-grams are counted per document by a
    numba kernel over the word hashes (``compiled=False``: the polars group-by path, the
    reference; both give the same figures)."""
    n_docs = len(words)
    df = pl.DataFrame({"w": words}).with_row_index("doc")
    ex = df.explode("w").drop_nulls("w").select(
        "doc", pl.col("w").str.len_chars().alias("len"), pl.col("w").hash(seed=7).alias("h"), pl.col("w").str.contains(r"\pL").alias("alpha")
    )
    base = ex.group_by("doc").agg(
        pl.len().alias("quality_word_count"),
        pl.col("len").sum().alias("_word_chars"),
        pl.col("alpha").mean().alias("quality_alpha_word_frac"),
    )
    out = pl.DataFrame({"doc": pl.arange(0, n_docs, eager=True).cast(pl.UInt32)}).join(base, on="doc", how="left")
    kernel = _ngram_kernel() if compiled else None
    if kernel is not None:
        # the words of a document are contiguous in ``ex`` (explode keeps order)
        doc_offsets = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(ex["doc"].to_numpy(), minlength=n_docs), out=doc_offsets[1:])
        hashes = ex["h"].to_numpy().astype(np.uint64, copy=False)
        lengths = ex["len"].to_numpy().astype(np.int64, copy=False)
        covered = {n: kernel(doc_offsets, hashes, lengths, n, np.uint64(_MIX)) for n in ngrams}
        out = out.sort("doc").with_columns(
            pl.Series(f"_top{n}", covered[n], dtype=pl.Int64).replace(0, None) for n in ngrams)
    for n in (() if kernel is not None else ngrams):
        # n-grams as a 64-bit hash of word hashes (wrapping multiply-add): an integer
        # group-by instead of concatenated strings, ~10x less work; collisions negligible
        same_doc = pl.all_horizontal([pl.col("doc").shift(-i) == pl.col("doc") for i in range(1, n)])
        key = pl.col("h")
        for i in range(1, n):
            key = key * pl.lit(_MIX, pl.UInt64) + pl.col("h").shift(-i)
        length = pl.sum_horizontal([pl.col("len").shift(-i) for i in range(n)])
        key = key ^ (pl.col("doc").cast(pl.UInt64) * pl.lit(_MIX_DOC, pl.UInt64))  # one integer key per (doc, n-gram)
        grams = ex.select("doc", key.alias("g"), length.alias("glen"), same_doc.alias("ok")).filter(pl.col("ok"))
        counts = grams.group_by("g").agg(pl.len().alias("cnt"), pl.col("doc").first(), pl.col("glen").first())
        top = (
            counts.filter(pl.col("cnt") > 1)
            .with_columns((pl.col("cnt") * pl.col("glen")).alias("covered"))
            .sort(["doc", "cnt", "covered"], descending=[False, True, True])
            .group_by("doc", maintain_order=True)
            .first()
            .select("doc", pl.col("covered").alias(f"_top{n}"))
        )
        out = out.join(top, on="doc", how="left")
    out = out.sort("doc").with_columns(
        pl.col("quality_word_count").fill_null(0).cast(pl.Int64),
        (pl.col("_word_chars") / pl.col("quality_word_count")).fill_null(0.0).alias("quality_mean_word_len"),
        pl.col("quality_alpha_word_frac").fill_null(0.0),
        *[
            (pl.col(f"_top{n}").fill_null(0) / pl.col("_word_chars")).fill_null(0.0).fill_nan(0.0).alias(f"quality_top_{n}gram_frac")
            for n in ngrams
        ],
    )
    return out.select(
        "quality_word_count", "quality_mean_word_len", "quality_alpha_word_frac", *[f"quality_top_{n}gram_frac" for n in ngrams]
    )


def text_word_signals(texts: pa.Array | pa.ChunkedArray, joined: np.ndarray | None = None,
                      ngrams: tuple[int, ...] = (2, 3, 4)) -> pl.DataFrame:
    """:func:`word_signals` straight from the texts, without a Python or polars string per
    word: one compiled pass (:mod:`filters.signals.word_kernel`) cuts every text into word
    hashes and lengths, and the top n-grams are counted by the same kernel as
    :func:`word_signals`. A text is cut at whitespace (:func:`whitespace_words`' words), or,
    where ``joined`` is true, it holds tokens joined by ``word_kernel.SEP`` (jieba's) and the
    tokens without a letter or number are left out. Same columns and values as
    ``word_signals`` on the same words (tested)."""
    from filters.signals.script_detect import utf8_buffers
    from filters.signals.word_kernel import doc_sums, word_tokens

    data, offsets = utf8_buffers(texts)
    n_docs = len(offsets) - 1
    sep = np.zeros(n_docs, dtype=np.bool_) if joined is None else np.asarray(joined, dtype=np.bool_)
    doc_offsets, hashes, lengths, alpha = word_tokens(data, offsets, sep, char_flags())
    count = np.diff(doc_offsets)
    word_chars, alpha_words = doc_sums(doc_offsets, lengths, alpha)
    has = count > 0
    safe = np.maximum(count, 1)
    out = {
        "quality_word_count": count.astype(np.int64),
        "quality_mean_word_len": np.where(has, word_chars / safe, 0.0),
        "quality_alpha_word_frac": np.where(has, alpha_words / safe, 0.0),
    }
    kernel = _ngram_kernel()
    chars = np.maximum(word_chars, 1)
    for n in ngrams:
        covered = kernel(doc_offsets, hashes, lengths, n, np.uint64(_MIX))
        out[f"quality_top_{n}gram_frac"] = np.where(has, covered / chars, 0.0)
    return pl.DataFrame(out)


@lru_cache(maxsize=1)
def char_flags(top: int = 0x40000) -> np.ndarray:
    """uint8 per code point (0..0x10FFFF): ``word_kernel.LETTER`` where polars' ``\\pL``
    matches it, ``NUMBER`` for ``\\pN``, ``SPACE`` for ``\\s``: the regexes' own Unicode tables,
    read by running them over the characters once (~30 ms). Planes 4-16 hold no letter, number
    or space (tags, variation selectors, private use; ``top`` = 0x110000 checks it in a test),
    so only planes 0-3 are read."""
    from filters.signals.word_kernel import LETTER, NUMBER, SPACE

    cp = np.arange(top, dtype=np.int64)
    cp = cp[(cp < 0xD800) | (cp > 0xDFFF)]  # surrogates are not characters
    size = 1 + (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000)
    offsets = np.zeros(len(cp) + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    data = np.zeros(offsets[-1], dtype=np.uint8)
    start = offsets[:-1]
    lead = np.array([0, 0x00, 0xC0, 0xE0, 0xF0])[size]
    data[start] = (lead | (cp >> (6 * (size - 1)))).astype(np.uint8)
    for k in (1, 2, 3):  # continuation bytes, most significant first
        has = size > k
        shift = 6 * (size[has] - 1 - k)
        data[start[has] + k] = (0x80 | ((cp[has] >> shift) & 0x3F)).astype(np.uint8)
    chars = pl.Series(pa.LargeStringArray.from_buffers(len(cp), pa.py_buffer(offsets), pa.py_buffer(data)))
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
                      autogen_head_lines: int | None = None) -> pl.DataFrame:
    """What :func:`line_signals`, :func:`duplicate_fracs` (``"para"``), the stop-word and
    symbol counts of :func:`text_signals` and :func:`filters.signals.code.code_signals`
    compute, from one compiled pass per text (:mod:`filters.signals.line_kernel`) instead
    of exploded frames and a dozen regex passes. Columns (same names, types and values as
    the reference, tested on the dev sets): ``quality_stopwords_en``, ``_symbols``, the four
    code columns, the seven line fractions and the two paragraph fractions. Only the
    auto-generated marker still runs a regex, on each text's first lines."""
    from filters.signals.code import AUTOGEN, AUTOGEN_HEAD_LINES
    from filters.signals.line_kernel import (BASE64_RUNS, BOILER, BULLET, CHARS, DATA_LINES, DUP_LINE_CHARS,
                                             DUP_LINES, DUP_PARA_CHARS, DUP_PARAS, ELLIPSIS, HEAD_CHARS, LINE_CHARS,
                                             LINES, MAX_LINE_LEN, NEWLINES, PARA_CHARS, PARAS, SHORT, STOPWORDS,
                                             SYMBOLS, TERMINAL, line_counts)
    from filters.signals.script_detect import utf8_buffers

    texts = texts.fill_null("")
    data, offsets = utf8_buffers(texts.to_arrow())
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


def whitespace_words(texts: pl.Series) -> pl.Series:
    """Whitespace tokens (Gopher's words for alphabetic languages)."""
    return texts.str.extract_all(r"[^\s]+")
