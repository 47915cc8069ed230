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

The signals are the regexes' counts (``filters.signals.code``, ``filters.signals.math``):
two compiled passes over the UTF-8 bytes count them (``filters.signals.kind_kernel``; and
``filters.signals.code_line_kernel`` for ``CODE_LINE``, which leaves the rare line it cannot
decide to the regex), tested equal to the regexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

from filters.signals.code import CODE_LINE

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
    each row's 64-bit head hash: when every text of a call was in the previous call, its
    rows are gathered instead of recomputed (a hash lookup instead of a compiled pass and
    a regex pass). The function stays pure: the same texts give the same frame either way."""
    head = _heads(texts, config)
    keys = head.hash(seed=0)
    last = _LAST.get(config)
    if last is not None and len(keys):
        row = pl.DataFrame({"h": keys}).join(
            pl.DataFrame({"h": last[0], "row": pl.int_range(0, len(last[0]), eager=True, dtype=pl.Int64)})
            .unique("h", keep="first", maintain_order=True),
            on="h", how="left", maintain_order="left")["row"]
        if row.null_count() == 0:
            return last[1].select(pl.all().gather(row))
    frame = _doc_kind_frame(texts, config, head)
    _LAST.clear()
    _LAST[config] = (keys, frame)
    return frame


def _heads(texts: pa.Array | pa.ChunkedArray, config: DocKindConfig) -> pl.Series:
    """The texts' first ``head_chars`` characters (nulls as empty), as polars views: no copy."""
    series = pl.Series("text", texts)
    if series.null_count():
        series = series.fill_null("")
    return series.str.slice(0, config.head_chars) if config.head_chars > 0 else series


@lru_cache(maxsize=1)
def _kernel_tables() -> tuple[np.ndarray, ...]:
    """The character tables and math word lists as ``kind_kernel.kind_counts`` reads them."""
    from filters.signals.kind_kernel import byte_table, char_table, grouped_words, prefix_bits
    from filters.signals.math import MATH_WORDS_EN_WORDS, MATH_WORDS_ZH_WORDS

    en_words = tuple(w.lower() for w in MATH_WORDS_EN_WORDS)
    en = grouped_words(en_words, lambda w: ord(w[0]))
    zh = grouped_words(MATH_WORDS_ZH_WORDS, lambda w: ord(w[0]))
    return (char_table(), byte_table(), *en, prefix_bits(en_words), *zh)


def _code_lines(data: np.ndarray, offsets: np.ndarray, head_bytes: np.ndarray, head: pl.Series) -> np.ndarray:
    """``CODE_LINE`` matches on each head: compiled (``filters.signals.code_line_kernel``, half
    the regex's cost), and by the regex on the heads the kernel leaves undecided (an operator
    next to a non-ASCII character, where Unicode's ``\\w`` decides)."""
    from filters.signals.code_line_kernel import line_code_counts

    starts = offsets[:-1]
    counts, undecided = line_code_counts(data, starts, starts + head_bytes)
    if undecided.any():
        rows = np.flatnonzero(undecided)
        counts[rows] = head.gather(rows).str.count_matches(CODE_LINE).to_numpy()
    return counts


def _doc_kind_frame(texts: pa.Array | pa.ChunkedArray, config: DocKindConfig, head: pl.Series | None = None) -> pl.DataFrame:
    """The frame of :func:`doc_kind_frame`, computed. Everything but ``CODE_LINE`` comes from one
    compiled pass over the bytes (``filters.signals.kind_kernel``: the same counts as the
    regexes of ``filters.signals.code`` and ``filters.signals.math``, tested); ``head``: the
    texts' heads as a polars Series, when the caller has them."""
    from filters.signals import kind_kernel as k
    from filters.signals.script_detect import utf8_buffers

    data, offsets = utf8_buffers(texts)
    c = k.kind_counts(data, offsets, config.head_chars, *_kernel_tables())
    if head is None:
        head = _heads(texts, config)
    code_lines = _code_lines(data, offsets, c[:, k.HEAD_END], head)
    code_lines = code_lines + c[:, k.STARS] * c[:, k.C_COMMENT]  # code.code_line_count
    lines = np.maximum(c[:, k.NONBLANK], 1)
    code_frac = code_lines / lines
    chars = np.maximum(c[:, k.CHARS], 1)
    latex_density = c[:, k.LATEX] * 1000.0 / chars
    equation_lines = c[:, k.EQ_LINES]
    keywords = c[:, k.MW_EN] + c[:, k.MW_ZH]
    per_1k = 1000.0 / chars
    latex_math = latex_density >= config.math_latex_per_1k
    is_code = (
        (lines >= config.code_min_lines)
        & (code_frac >= config.code_line_frac)
        & ~(latex_math & (code_frac < config.code_over_math_frac))
    )
    evidence = (c[:, k.DIGIT] > 0) | (latex_density > 0) | (keywords >= 2)
    is_math = evidence & (
        (latex_density >= config.math_latex_per_1k)
        | (equation_lines / lines >= config.math_equation_line_frac)
        | (keywords * per_1k >= config.math_keywords_per_1k)
    )
    kind = np.where(is_code, KINDS.index("code"), np.where(is_math, KINDS.index("math"), KINDS.index("prose")))
    return pl.DataFrame({
        "doc_kind": pl.Series(KINDS, dtype=pl.String).gather(kind),
        "quality_code_line_frac": code_frac,
        "quality_latex_density": latex_density,
        "quality_equation_lines": equation_lines,
        "quality_math_keywords": keywords,
    })


def doc_kind(texts: pa.Array | pa.ChunkedArray, config: DocKindConfig = DocKindConfig()) -> pa.Array:
    """The ``doc_kind`` of every text (``prose``/``math``/``code``)."""
    return doc_kind_frame(texts, config)["doc_kind"].to_arrow()
