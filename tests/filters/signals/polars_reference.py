"""The polars/regex implementations the compiled signal kernels replaced, kept as the
references the tests compare the kernels against (same columns, types and values).

Production code computes these signals with ``filters.signals.general.text_line_signals``
and ``text_word_signals`` (numba kernels); nothing outside the tests imports this module.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from filters.signals.code import AUTOGEN, AUTOGEN_HEAD_LINES, BASE64_RUN, DATA_LINE, n_lines
from filters.signals.general import (BOILERPLATE, BULLET_START, ELLIPSIS_END, SYMBOL_HASH_ELLIPSIS, STOPWORDS_EN,
                                     TERMINAL_END, _MIX, _MIX_DOC, _ngram_kernel, text_flag_signals)


def head_lines(text: pl.Expr, n: int) -> pl.Expr:
    """The first ``n`` lines of every text."""
    return text.str.extract(r"\A((?:[^\n]*\n){0,%d}[^\n]*)" % max(n - 1, 0), 1)


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
        ns = sorted(set(ngrams))
        both = kernel(doc_offsets, hashes, lengths, np.array(ns, dtype=np.int64), np.uint64(_MIX))
        covered = {n: both[:, ns.index(n)] for n in ngrams}
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


def whitespace_words(texts: pl.Series) -> pl.Series:
    """Whitespace tokens (Gopher's words for alphabetic languages)."""
    return texts.str.extract_all(r"[^\s]+")


def code_signals(text: pl.Expr, autogen_head_lines: int = AUTOGEN_HEAD_LINES) -> list[pl.Expr]:
    """StarCoder-style columns. ``quality_alnum_frac`` is computed from character
    counts in ``filters.heuristics.stage`` (it needs the per-class counts)."""
    lines = n_lines(text)
    line_lens = text.str.split("\n").list.eval(pl.element().str.len_chars())
    return [
        line_lens.list.max().fill_null(0).cast(pl.Int64).alias("quality_max_line_len"),
        (text.str.len_chars() / lines).alias("quality_mean_line_len"),
        head_lines(text, autogen_head_lines).str.contains(AUTOGEN).fill_null(False).alias("quality_autogen"),
        (
            (text.str.count_matches(DATA_LINE) / lines >= 0.6)
            | (text.str.count_matches(BASE64_RUN) * 120 >= text.str.len_chars() * 0.3)
        ).alias("quality_data_file"),
    ]
