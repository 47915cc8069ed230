"""Route documents by nature: ``prose``, ``math`` or ``code``.

Prose rules (minimum words, terminal punctuation, symbol ratio) reject a good Python file
or a one-line arithmetic word problem; language ID calls a code file "English". A cheap,
vectorized decision made once lets every stage apply the rules that fit: ``langid`` and
``heuristics`` both add the ``doc_kind`` column and reuse it when an earlier stage
already computed it; ``classify`` may reuse it too.

Rules (thresholds in :class:`DocKindConfig`, defaults measured on tests/data/dev):

* code: at least ``code_min_lines`` lines and ``code_line_frac`` of them look like code
  (``filters.signals.code.CODE_LINE``: keywords and directives at line start, enum/argument
  and string-literal continuation lines, brace/semicolon endings, trailing comments, code
  operators; each line counted once);
* math: LaTeX density, equation lines or math vocabulary per 1000 characters above the
  thresholds, with a digit, a LaTeX token or two math words as evidence (a word problem
  has numbers); a LaTeX-rich page with some code lines (Asymptote figures) stays math;
* prose: everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from filters.signals.code import code_line_count, nonblank_lines
from filters.signals.math import math_signals

KINDS = ("prose", "math", "code")


@dataclass(frozen=True)
class DocKindConfig:
    code_min_lines: int = 3
    code_line_frac: float = 0.3
    code_over_math_frac: float = 0.6  # a LaTeX-rich page stays math unless this share of lines is code
    math_latex_per_1k: float = 8.0  # LaTeX tokens per 1000 chars
    math_equation_line_frac: float = 0.15  # share of lines holding an equation
    math_keywords_per_1k: float = 4.0  # zh/en math words per 1000 chars
    head_chars: int = 4000  # decide on the head of the document: cheap, and a file's head says what it is


_LAST: dict[DocKindConfig, tuple[pl.Series, pl.DataFrame]] = {}
"""The last batch's frame per config, by row text hash (see :func:`doc_kind_frame`)."""


def doc_kind_frame(texts: pa.Array | pa.ChunkedArray, config: DocKindConfig = DocKindConfig()) -> pl.DataFrame:
    """Columns ``doc_kind`` plus the signals it was decided on (``quality_code_line_frac``,
    ``quality_latex_density``, ``quality_equation_lines``, ``quality_math_keywords``),
    all measured on the first ``config.head_chars`` characters.

    ``langid`` and ``heuristics`` both need this frame for the same texts (heuristics for
    the rows langid kept), so the last batch's frame is remembered per process, keyed by
    each row's 64-bit text hash: when every text of a call was in the previous call, its
    rows are gathered instead of recomputed (a hash lookup instead of ~8 regex passes).
    The function stays pure: the same texts give the same frame either way."""
    head = pc.utf8_slice_codeunits(texts, 0, config.head_chars) if config.head_chars > 0 else texts
    keys = pl.Series("h", head).fill_null("").hash(seed=0)
    last = _LAST.get(config)
    if last is not None and len(keys):
        row = pl.DataFrame({"h": keys}).join(
            pl.DataFrame({"h": last[0], "row": pl.int_range(0, len(last[0]), eager=True, dtype=pl.Int64)})
            .unique("h", keep="first", maintain_order=True),
            on="h", how="left", maintain_order="left")["row"]
        if row.null_count() == 0:
            return last[1].select(pl.all().gather(row))
    frame = _doc_kind_frame(head, config)
    _LAST.clear()
    _LAST[config] = (keys, frame)
    return frame


def _doc_kind_frame(head: pa.Array | pa.ChunkedArray, config: DocKindConfig) -> pl.DataFrame:
    df = pl.from_arrow(pa.table({"text": head})).with_columns(pl.col("text").fill_null(""))
    text = pl.col("text")
    lines = pl.max_horizontal(nonblank_lines(text), 1)
    df = df.select(
        (code_line_count(text) / lines).alias("quality_code_line_frac"),
        lines.alias("_lines"),
        text.str.len_chars().alias("_chars"),
        text.str.contains(r"\d").alias("_digit"),
        *math_signals(text),
    )
    per_1k = 1000.0 / pl.max_horizontal(pl.col("_chars"), 1)
    latex_math = pl.col("quality_latex_density") >= config.math_latex_per_1k
    is_code = (
        (pl.col("_lines") >= config.code_min_lines)
        & (pl.col("quality_code_line_frac") >= config.code_line_frac)
        & ~(latex_math & (pl.col("quality_code_line_frac") < config.code_over_math_frac))
    )
    evidence = pl.col("_digit") | (pl.col("quality_latex_density") > 0) | (pl.col("quality_math_keywords") >= 2)
    is_math = evidence & (
        (pl.col("quality_latex_density") >= config.math_latex_per_1k)
        | (pl.col("quality_equation_lines") / pl.col("_lines") >= config.math_equation_line_frac)
        | (pl.col("quality_math_keywords") * per_1k >= config.math_keywords_per_1k)
    )
    kind = pl.when(is_code).then(pl.lit("code")).when(is_math).then(pl.lit("math")).otherwise(pl.lit("prose"))
    return df.select(kind.alias("doc_kind"), "quality_code_line_frac", "quality_latex_density", "quality_equation_lines", "quality_math_keywords")


def doc_kind(texts: pa.Array | pa.ChunkedArray, config: DocKindConfig = DocKindConfig()) -> pa.Array:
    """The ``doc_kind`` of every text (``prose``/``math``/``code``)."""
    return doc_kind_frame(texts, config)["doc_kind"].to_arrow()
