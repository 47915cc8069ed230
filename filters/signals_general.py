"""General text-quality signals (Gopher, C4, FineWeb), vectorized with polars.

Line-level signals are regex counts over a ``text`` column. Duplicate lines/paragraphs
and top n-gram repetition explode the batch into one row per line or word and group by
(document, item): one polars group-by for the whole batch, no per-document Python.
Words are whitespace tokens for alphabetic text and jieba tokens for Chinese (see
``filters.signals_zh``); they arrive as a list column so both share this code.
"""

from __future__ import annotations

import polars as pl

BULLET_LINE = r"(?m)^[ \t]*[•●○◦▪▫■□‣⁃∙·\-\*–➢►✓✔]"
ELLIPSIS_LINE = r"(?m)(?:\.\.\.|…|。。。)[ \t]*$"
TERMINAL_LINE = r"(?m)[.!?\"'。！？」』”’…)）][ \t]*$"
NONBLANK_LINE = r"(?m)^[ \t]*\S"
BOILERPLATE_LINE = (
    r"(?mi)^.*(?:javascript|cookie|terms of use|terms of service|privacy policy|all rights reserved"
    r"|版权所有|隐私政策|免责声明|用户协议|备案号|ICP备).*$"
)
LOREM = r"(?i)lorem ipsum"
STOPWORDS_EN = r"(?i-u)\b(?:the|be|to|of|and|that|have|with)\b"
SYMBOL_HASH_ELLIPSIS = r"#|\.\.\.|…"
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constants for combining word hashes
_MIX_DOC = 0xC2B2AE3D27D4EB4F


def line_signals(text: pl.Expr, cjk: pl.Expr, short_line_chars: int = 30, short_line_chars_cjk: int = 10) -> list[pl.Expr]:
    """Per-document line fractions; ``cjk`` (bool) picks the short-line length, since a
    10-character Chinese line says as much as a 30-character English one."""
    lines = pl.max_horizontal(text.str.count_matches(NONBLANK_LINE), 1)
    short = pl.when(cjk).then(
        text.str.count_matches(rf"(?m)^[ \t]*\S[^\n]{{0,{short_line_chars_cjk - 2}}}$")
    ).otherwise(text.str.count_matches(rf"(?m)^[ \t]*\S[^\n]{{0,{short_line_chars - 2}}}$"))
    return [
        (text.str.count_matches(BULLET_LINE) / lines).alias("quality_bullet_lines_frac"),
        (text.str.count_matches(ELLIPSIS_LINE) / lines).alias("quality_ellipsis_lines_frac"),
        (text.str.count_matches(TERMINAL_LINE) / lines).alias("quality_terminal_punct_frac"),
        (short / lines).alias("quality_short_line_frac"),
        (text.str.count_matches(BOILERPLATE_LINE) / lines).alias("quality_boilerplate_lines_frac"),
        text.str.contains(LOREM).alias("quality_lorem_ipsum"),
        text.str.contains("{", literal=True).alias("quality_curly_bracket"),
        text.str.count_matches(STOPWORDS_EN).cast(pl.Int64).alias("quality_stopwords_en"),
        text.str.count_matches(SYMBOL_HASH_ELLIPSIS).cast(pl.Int64).alias("_symbols"),
    ]


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


def word_signals(words: pl.Series, ngrams: tuple[int, ...] = (2, 3, 4)) -> pl.DataFrame:
    """From a list[str] column of tokens: ``quality_word_count``,
    ``quality_mean_word_len``, ``quality_alpha_word_frac`` and, per n in ``ngrams``,
    ``quality_top_<n>gram_frac``: the characters covered by the most frequent word
    n-gram over all word characters (Gopher)."""
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
    for n in ngrams:
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
