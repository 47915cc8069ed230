"""The prose view of a document: what a language identifier should read.

Formulas, code, URLs and markup are not natural language: ``$\\frac{a}{b}$`` or
``for (i = 0; ...)`` pull lid.176 toward English whatever the surrounding prose is. The
prose view masks them (replaces each span by a space) with one regex pass over a whole
array, then cuts long documents into segments of about ``chunk_bytes`` at line
boundaries so that a page is scored piecewise and the pieces vote by length.

The pass runs on polars (Rust ``regex``), whose compiled pattern and lazy DFA are reused
from one batch to the next: Arrow's RE2 kernel compiles the pattern and rebuilds its DFA on
every call, which made this one regex cost ~3x as much in batches of 1,000 documents.
:data:`MASK_PATTERN` is :data:`MASK_PATTERN_RE2` (the reference, RE2 syntax) written for
Rust's engine: RE2's ``\\w``, ``\\b`` and ``\\s`` are ASCII-only, so they are spelled out
(ASCII classes, ``(?-u:\\b)``); both engines take the leftmost-first match, scope inline
flags alike and case-fold classes alike, so the two give the same view
(``tests/filters/langid/test_prose_view.py`` checks it on the dev sets). Segmentation is one
compiled pass over the view's UTF-8 bytes (:mod:`filters.langid.segment_kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from filters.signals.script_detect import utf8_buffers
from pipeline.active_rows import contiguous

# One alternation, so the text is scanned once. Order matters: fenced blocks and
# display math before inline forms. RE2 has no backreferences, so \begin{X}...\end{Y}
# matches the nearest \end of any environment (nested environments leave a tail that
# the LaTeX-command arm still masks).
MASK_PATTERN_RE2 = "|".join(
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
"""The mask in RE2 syntax (``pyarrow.compute``): the reference :data:`MASK_PATTERN` matches."""

_B = r"(?-u:\b)"  # RE2's \b: ASCII word boundary
_NOT_SPACE_OR_QUOTE = r"[^\t\n\f\r <>\"']"  # RE2's [^\s<>"']: \s is [\t\n\f\r ] there
MASK_PATTERN = "|".join(
    [
        r"(?s)```.*?```",
        r"(?s)~~~.*?~~~",
        r"(?s)<pre" + _B + r".*?</pre>",
        r"(?s)<code" + _B + r".*?</code>",
        r"(?s)<script" + _B + r".*?</script>",
        r"(?s)<style" + _B + r".*?</style>",
        r"(?s)\$\$.*?\$\$",
        r"(?s)\\\[.*?\\\]",
        r"(?s)\\\(.*?\\\)",
        r"(?s)\\begin\{[^}]*\}.*?\\end\{[^}]*\}",
        r"\$[^$\n]{1,300}\$",
        r"\\[A-Za-z]+\*?",
        r"`[^`\n]+`",
        r"(?i)" + _B + r"(?:https?|ftp)://" + _NOT_SPACE_OR_QUOTE + "+",
        r"(?i)" + _B + r"www\." + _NOT_SPACE_OR_QUOTE + "+",
        # RE2's \w as an ASCII class; the (?i) above still applies, and both engines then fold
        # it the Unicode way (k also matches U+212A KELVIN SIGN, s U+017F LONG S)
        r"[0-9A-Za-z_.+\-]+@[0-9A-Za-z_\-]+\.[0-9A-Za-z_.\-]+",
        r"<[^<>\n]{1,200}>",
        r"&#?[0-9A-Za-z_]{1,8};",
    ]
)
"""The mask in Rust ``regex`` syntax (polars): the exact pattern :func:`prose_view` applies."""

MASK_PATTERN_UNCOUNTED = MASK_PATTERN.replace(r"\$[^$\n]{1,300}\$", r"\$[^$\n]+\$").replace(r"<[^<>\n]{1,200}>", r"<[^<>\n]+>")
""":data:`MASK_PATTERN` with its two counted arms unbounded: the same view of every text whose
``$``/``<`` spans are within the counts (see :mod:`filters.langid.span_guard`), at half the cost."""


def prose_view(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Mask LaTeX, code, URLs and markup in every text (newlines are kept): :data:`MASK_PATTERN`,
    run as :data:`MASK_PATTERN_UNCOUNTED` on the texts where that gives the same view."""
    if isinstance(texts, pa.ChunkedArray):
        texts = contiguous(texts)
    if len(texts) == 0:
        return texts
    from filters.langid.span_guard import DOLLAR_MAX_CHARS, TAG_MAX_CHARS, long_spans

    series = pl.Series("text", texts)
    out = series.str.replace_all(MASK_PATTERN_UNCOUNTED, " ")
    data, offsets = utf8_buffers(texts)
    exact = np.flatnonzero(long_spans(data, offsets, DOLLAR_MAX_CHARS, TAG_MAX_CHARS))
    if len(exact):
        out = out.scatter(exact, series.gather(exact).str.replace_all(MASK_PATTERN, " "))
    out = out.to_arrow()
    return out if out.type == texts.type else out.cast(texts.type)


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
    segment at all gets none (its caller treats it as having no text). Segments come in
    the short documents' order, then the long documents' (one compiled pass, see
    :func:`filters.langid.segment_kernel.segment_bytes` for the exact packing rule)."""
    return _segments(view, long_doc_bytes, chunk_bytes, -1)


def segment_samples(view: pa.Array, long_doc_bytes: int = 2000, chunk_bytes: int = 400,
                    max_chars: int = 500) -> Segments:
    """:func:`segment`, each segment's text cut to its first ``max_chars`` characters (its
    :meth:`Segments.sample`, what fastText reads) and its weight still its whole length: the
    same samples and weights without writing out every segment whole first (a copy of the
    view) and cutting it after."""
    if max_chars < 0:  # a slice to so many characters before the end: cut the whole segments
        segs = segment(view, long_doc_bytes, chunk_bytes)
        return Segments(segs.sample(max_chars), segs.doc, segs.weight)
    return _segments(view, long_doc_bytes, chunk_bytes, max_chars)


def _segments(view: pa.Array, long_doc_bytes: int, chunk_bytes: int, max_chars: int) -> Segments:
    data, offsets = utf8_buffers(view)
    out, seg_off, seg_doc, seg_len = _segment_kernel()(data, offsets, long_doc_bytes, chunk_bytes, max_chars)
    text = pa.LargeStringArray.from_buffers(len(seg_doc), pa.py_buffer(seg_off), pa.py_buffer(out))
    return Segments(text=text, doc=seg_doc, weight=seg_len.astype(np.float64))


@lru_cache(maxsize=1)
def _segment_kernel():
    from filters.langid.segment_kernel import segment_bytes  # numba: compiled (or loaded) on first use

    return segment_bytes
