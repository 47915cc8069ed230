"""The prose view of a document: what a language identifier should read.

Formulas, code, URLs and markup are not natural language: ``$\\frac{a}{b}$`` or
``for (i = 0; ...)`` pull lid.176 toward English whatever the surrounding prose is. The
prose view masks them (replaces each span by a space) with one RE2 pass over a whole
Arrow array, then cuts long documents into segments of about ``chunk_bytes`` at line
boundaries so that a page is scored piecewise and the pieces vote by length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

# One alternation, so the text is scanned once. Order matters: fenced blocks and
# display math before inline forms. RE2 has no backreferences, so \begin{X}...\end{Y}
# matches the nearest \end of any environment (nested environments leave a tail that
# the LaTeX-command arm still masks).
MASK_PATTERN = "|".join(
    [
        r"(?s)```.*?```",  # fenced code (Markdown)
        r"(?s)~~~.*?~~~",
        r"(?s)<pre\b.*?</pre>",  # HTML code blocks, when the reader kept markup
        r"(?s)<code\b.*?</code>",
        r"(?s)<script\b.*?</script>",
        r"(?s)<style\b.*?</style>",
        r"(?s)\$\$.*?\$\$",  # display math
        r"(?s)\\\[.*?\\\]",
        r"(?s)\\\(.*?\\\)",
        r"(?s)\\begin\{[^}]*\}.*?\\end\{[^}]*\}",
        r"\$[^$\n]{1,300}\$",  # inline math on one line
        r"\\[A-Za-z]+\*?",  # any remaining LaTeX command
        r"`[^`\n]+`",  # inline code
        r"(?i)\b(?:https?|ftp)://[^\s<>\"']+",  # URLs
        r"(?i)\bwww\.[^\s<>\"']+",
        r"[\w.+-]+@[\w-]+\.[\w.-]+",  # e-mail addresses
        r"<[^<>\n]{1,200}>",  # HTML/XML tags
        r"&#?\w{1,8};",  # HTML entities
    ]
)


def prose_view(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Mask LaTeX, code, URLs and markup in every text (newlines are kept)."""
    out = pc.replace_substring_regex(texts, MASK_PATTERN, " ")
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


@dataclass(frozen=True)
class Segments:
    """Flattened pieces of many documents: ``text[i]`` belongs to document ``doc[i]``."""

    text: pa.Array  # one line each (no newlines)
    doc: np.ndarray  # int64 index of the source document
    weight: np.ndarray  # UTF-8 byte length, the vote weight

    def sample(self, max_chars: int) -> pa.Array:
        """The first ``max_chars`` characters of every segment: what fastText reads.
        Language is settled well within a few hundred characters; the vote still
        weighs each segment by its full length."""
        return pc.utf8_slice_codeunits(self.text, 0, max_chars)


def segment(view: pa.Array, long_doc_bytes: int = 2000, chunk_bytes: int = 400) -> Segments:
    """One segment per short document; long documents (> ``long_doc_bytes``) cut at
    lines: a line of at least ``chunk_bytes / 2`` is a segment, runs of shorter lines are
    packed into pieces of about ``chunk_bytes``. Newlines become spaces
    (fastText reads one line at a time). Empty segments are dropped; a document with no
    segment at all gets none (its caller treats it as having no text)."""
    df = pl.from_arrow(pa.table({"text": view})).with_row_index("doc")
    df = df.with_columns(pl.col("text").fill_null(""), pl.col("doc").cast(pl.Int64))
    size = pl.col("text").str.len_bytes()
    short = df.filter(size <= long_doc_bytes)
    long = df.filter(size > long_doc_bytes)
    parts = [short.select("doc", "text")]
    if long.height:
        lines = (
            long.with_columns(pl.col("text").str.split("\n"))
            .explode("text")
            .filter(pl.col("text").str.strip_chars().str.len_bytes() > 0)
            .with_columns(size=pl.col("text").str.len_bytes() + 1)
            .with_columns(big=pl.col("size") >= chunk_bytes // 2)
            # a paragraph-sized line is its own segment (so a bilingual page keeps its
            # languages apart); runs of short lines are packed into ~chunk_bytes pieces
            .with_columns(run=(pl.col("big") | pl.col("big").shift(1).fill_null(True)).cum_sum())
            .with_columns(chunk=pl.col("size").cum_sum().over("run") // chunk_bytes)
            .group_by(["doc", "run", "chunk"], maintain_order=True)
            .agg(pl.col("text").str.join(" "))
        )
        parts.append(lines.select("doc", "text"))
    seg = pl.concat(parts).with_columns(pl.col("text").str.replace_all("\n", " ", literal=True))
    seg = seg.filter(pl.col("text").str.contains(r"[^\s]"))
    return Segments(
        text=seg["text"].to_arrow(),
        doc=seg["doc"].to_numpy(),
        weight=seg["text"].str.len_bytes().to_numpy().astype(np.float64),
    )
