"""Unicode, control-character and whitespace normalization that is safe for math and code.

Why not plain NFKC: it folds Chinese full-width punctuation (``，。：`` -> ``,.:``),
superscripts (``x²`` -> ``x2``, a different expression), math alphanumerics
(``𝐱`` -> ``x``, vector vs scalar), circled numbers (``①`` -> ``1``) and the ideographic
space. So the default form, ``"safe"``, is:

* **NFC everywhere** (canonical equivalence only: never changes what text means);
* **selected compatibility folds** (:data:`FOLD_TABLE`), outside code spans: full-width
  ASCII letters, digits and symbols (``ｘ２＋１`` -> ``x2+1``) except the full-width
  punctuation that is standard in Chinese (``！（），．：；？`` are kept; ``．`` is the
  full stop of Chinese math textbooks), half-width katakana/Hangul/CJK punctuation,
  Latin ligatures (``ﬁ`` -> ``fi``), Kangxi radicals that PDF extraction leaves in
  Chinese text (``⼀`` -> ``一``). Superscripts, subscripts, ``…``, ``℃``, math
  alphanumerics, circled numbers and U+3000 are kept.

``"nfkc"`` applies full NFKC outside math and code spans (math spans get the safe folds,
code spans NFC only); with ``protect_spans=False`` it is NFKC on everything. ``"nfc"``
is NFC only. Code spans are Markdown fences (```` ``` ````, ``~~~``) and inline
backticks; math spans are ``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` and
``\\begin{env}..\\end{env}``. A code file with no fences is not recognizable here, so a
full-width letter inside one of its string literals would be folded (rare; documented).

Whitespace: CR LF, CR, VT, FF, U+2028/2029 -> LF; NBSP and the typographic spaces
U+2000-200A, U+202F, U+205F, U+1680 -> space (also in leading indentation: NBSP there
is ``&nbsp;`` indentation from HTML, and a space keeps its width); trailing spaces, tabs
and U+3000 removed; more than ``max_blank_lines`` blank lines collapsed; blank lines at
the start and whitespace at the end removed. Leading indentation (spaces, tabs, U+3000,
the Chinese paragraph indent) and internal runs of spaces are never touched: aligned
code, tables and indentation-based code cannot be told from prose at this stage.

Control characters: C0 except TAB/LF (after the line-break mapping), DEL, C1, ANSI
terminal escapes, and the invisible ZWSP, WORD JOINER, BOM, SOFT HYPHEN and invisible
math operators are removed. ZWJ/ZWNJ (emoji sequences, Persian/Indic) and bidi marks stay.

Everything runs on Arrow arrays: a cheap check picks the rows a rewrite can change (one
compiled pass for all of them, :func:`scan_flags`; each also has its regex, the reference),
and only those are rewritten (``apply_where``). Three steps use CPython per row because it
is measured faster there: the NFC quick check (``unicodedata.is_normalized``, ~2.5 GB/s,
against ~180 MB/s for a full ``utf8_normalize``), the compatibility folds (``str.translate``
of the few rows that hold a fold candidate: Polars' ``replace_many`` built its automaton
for every call, ~8 ms, and is slower even on all-full-width text), and span-protected
rewriting of the rows that both need a fold and contain span markers.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UnicodeForm = Literal["safe", "nfc", "nfkc"]

KEPT_FULLWIDTH_PUNCT = "！（），．：；？"
"""Full-width punctuation that is the standard form in Chinese text: never folded."""


def _build_fold_table() -> dict[str, str]:
    ranges = [
        (0xFF01, 0xFF5E),  # full-width ASCII
        (0xFF61, 0xFF9F),  # half-width CJK punctuation and katakana
        (0xFFA0, 0xFFDC),  # half-width Hangul
        (0xFFE0, 0xFFEE),  # full-width signs (￥ ￡) and half-width arrows/forms
        (0xFB00, 0xFB06),  # Latin ligatures
        (0x2F00, 0x2FD5),  # Kangxi radicals (PDF extraction look-alikes of Han characters)
        (0x2E9F, 0x2E9F),
        (0x2EF3, 0x2EF3),  # CJK radicals supplement with a compatibility mapping
    ]
    table: dict[str, str] = {}
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            folded = unicodedata.normalize("NFKC", ch)
            if folded != ch and ch not in KEPT_FULLWIDTH_PUNCT:
                table[ch] = folded
    return table


FOLD_TABLE: dict[str, str] = _build_fold_table()
_FOLD_TRANSLATION = str.maketrans(FOLD_TABLE)
_FOLD_LOOKUP = np.zeros(0x110000, dtype=bool)
_FOLD_LOOKUP[[ord(c) for c in FOLD_TABLE]] = True

_CODE_SPAN = r"(?P<code>```[\s\S]*?(?:```|\Z)|~~~[\s\S]*?(?:~~~|\Z)|`[^`\n]+`)"
_MATH_SPAN = (
    r"(?P<math>\$\$[\s\S]+?\$\$|\\\[[\s\S]+?\\\]|\\\([\s\S]+?\\\)"
    r"|\\begin\{(?P<env>[A-Za-z]+\*?)\}[\s\S]*?\\end\{(?P=env)\}|\$[^$\n]+\$)"
)
CODE_SPAN_RE = re.compile(_CODE_SPAN)
CODE_OR_MATH_SPAN_RE = re.compile(_CODE_SPAN + "|" + _MATH_SPAN)
_CODE_MARKERS = r"```|~~~|`"  # RE2: rows that may hold a code span
_MATH_MARKERS = r"\$|\\\(|\\\[|\\begin\{"

# RE2 patterns (pyarrow). ASCII-range escapes are written \xHH; others as literal characters.
_LINE_BREAKS = "[\\x0b\\x0c\\r\u2028\u2029]"
_ANSI_ESCAPE = r"\x1b\[[0-?]*[ -/]*[@-~]"
_REMOVED = "[\\x00-\\x08\\x0e-\\x1f\\x7f-\\x9f\u200b\u2060\ufeff\u00ad\u2061-\u2064]"
_NEEDS_CONTROL_FIX = "[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\u2028\u2029\u200b\u2060\ufeff\u00ad\u2061-\u2064]"
EXOTIC_SPACES = "[\u00a0\u1680\u2000-\u200a\u202f\u205f]"
_TRAILING = "[ \\t\u3000]"


def apply_where(arr: pa.Array, mask: np.ndarray, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Rewrite only the rows where ``mask`` is true with ``fn`` (which keeps length)."""
    if not mask.any():
        return arr
    sub = arr.filter(pa.array(mask))
    out = fn(sub).cast(arr.type)
    return pc.replace_with_mask(arr, pa.array(mask), out)


def matches(arr: pa.Array, pattern: str) -> np.ndarray:
    """Vectorized RE2 search: one bool per row."""
    return np.asarray(pc.match_substring_regex(arr, pattern).fill_null(False).to_numpy(zero_copy_only=False), bool)


def code_point_counts(arr: pa.Array, lookup: np.ndarray) -> np.ndarray:
    """Per row, how many characters ``c`` have ``lookup[ord(c)]`` true (``lookup``: 0x110000 bools).

    One compiled pass over the UTF-8 bytes (:func:`filters.normalize.scan_kernel.lookup_counts`).
    ASCII is never counted.
    """
    from filters.normalize.scan_kernel import lookup_counts
    from filters.signals.script_detect import utf8_buffers

    if len(lookup) < 0x110000:
        raise ValueError(f"lookup has {len(lookup)} entries; one per code point (0x110000) is needed")
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    data, offsets = utf8_buffers(arr)
    return lookup_counts(data, offsets, np.asarray(lookup, dtype=np.bool_))


@lru_cache(maxsize=1)
def _scan_table() -> np.ndarray:
    """The character table of :func:`filters.normalize.scan_kernel.scan_flags`, read off the
    very regexes it stands for (each run once over every BMP character)."""
    from filters.normalize import scan_kernel as k
    from filters.normalize.mojibake import _CP1252_SIGNS
    from filters.signals.script_detect import char_strings

    cps, chars = char_strings(0x10000)
    table = np.zeros(0x10000, dtype=np.uint8)
    table[cps[matches(chars, _NEEDS_CONTROL_FIX)]] |= k.T_CONTROL
    table[cps[matches(chars, EXOTIC_SPACES)]] |= k.T_EXOTIC
    table[0xC2:0xF5] |= k.T_LEAD
    table[0x80:0xC0] |= k.T_FOLLOW
    table[[ord(c) for c in _CP1252_SIGNS]] |= k.T_FOLLOW
    table[_FOLD_LOOKUP[:0x10000]] |= k.T_FOLD
    table[[ord(" "), ord("\t"), 0x3000]] |= k.T_TRAIL
    return table


def scan_flags(arr: pa.Array, max_blank_lines: int = 2) -> np.ndarray:
    """Per row, the bit set of :mod:`filters.normalize.scan_kernel` (which pre-checks match):
    one compiled pass instead of a regex pass per check."""
    from filters.normalize.scan_kernel import scan_flags as kernel
    from filters.signals.script_detect import utf8_buffers

    data, offsets = utf8_buffers(arr)
    return kernel(data, offsets, _scan_table(), max_blank_lines + 2)


def clean_controls(arr: pa.Array, needs: np.ndarray | None = None) -> pa.Array:
    """Line breaks to LF, ANSI escapes and control/invisible characters removed. ``needs``:
    the rows that hold such a character, when known (:func:`scan_flags`); else a regex finds them."""

    def fix(sub: pa.Array) -> pa.Array:
        sub = pc.replace_substring(sub, "\r\n", "\n")
        sub = pc.replace_substring_regex(sub, _LINE_BREAKS, "\n")
        sub = pc.replace_substring_regex(sub, _ANSI_ESCAPE, "")
        return pc.replace_substring_regex(sub, _REMOVED, "")

    return apply_where(arr, matches(arr, _NEEDS_CONTROL_FIX) if needs is None else needs, fix)


def whitespace_check(max_blank_lines: int = 2) -> str:
    """The regex of rows :func:`normalize_whitespace` rewrites."""
    too_many = "\n" * (max_blank_lines + 2)
    return "|".join(
        [EXOTIC_SPACES, _TRAILING + "\n", _TRAILING + "$", re.escape(too_many), r"^[ \t" + "\u3000" + r"]*\n", r"\n$"]
    )


def normalize_whitespace(arr: pa.Array, max_blank_lines: int = 2, needs: np.ndarray | None = None) -> pa.Array:
    """Exotic spaces, trailing whitespace, blank-line runs, blank edges; indentation kept.
    ``needs``: the rows :func:`whitespace_check` matches, when known (:func:`scan_flags`)."""

    def fix(sub: pa.Array) -> pa.Array:
        sub = pc.replace_substring_regex(sub, EXOTIC_SPACES, " ")
        sub = pc.replace_substring_regex(sub, "(?m)" + _TRAILING + "+$", "")
        sub = pc.replace_substring_regex(sub, "\n{%d,}" % (max_blank_lines + 2), "\n" * (max_blank_lines + 1))
        return pc.replace_substring_regex(sub, r"^\n+|\n+$", "")

    return apply_where(arr, matches(arr, whitespace_check(max_blank_lines)) if needs is None else needs, fix)


def fold_compat(text: str) -> str:
    """The safe compatibility folds of :data:`FOLD_TABLE` on one string."""
    return text.translate(_FOLD_TRANSLATION)


def map_outside_spans(text: str, span_re: re.Pattern, outside: Callable[[str], str],
                      inside: dict[str, Callable[[str], str]] | None = None) -> str:
    """Apply ``outside`` to the text between spans; spans get ``inside[kind]`` or stay as they are."""
    inside = inside or {}
    parts: list[str] = []
    pos = 0
    for m in span_re.finditer(text):
        parts.append(outside(text[pos:m.start()]))
        kind = "code" if m.group("code") is not None else "math"
        parts.append(inside.get(kind, _identity)(m.group()))
        pos = m.end()
    parts.append(outside(text[pos:]))
    return "".join(parts)


def _identity(s: str) -> str:
    return s


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def replace_many(arr: pa.Array, keys: list[str], values: list[str], *, leftmost: bool = False) -> pa.Array:
    """Polars' Aho-Corasick ``str.replace_many`` over an Arrow string array.

    The patterns go in as one-element list columns, built once per key list (Polars 2
    wants that form and converting ~4k Python strings per call costs ~8 ms); older
    Polars takes the plain lists.
    """
    import polars as pl

    series = pl.Series(arr)
    try:
        k, v = _pattern_series(tuple(keys), tuple(values))
        out = series.str.replace_many(k, v, leftmost=leftmost)
    except Exception:  # noqa: BLE001 - a Polars version without list-column patterns
        out = series.str.replace_many(keys, values, leftmost=leftmost)
    return out.to_arrow().cast(arr.type)


@lru_cache(maxsize=8)
def _pattern_series(keys: tuple[str, ...], values: tuple[str, ...]):
    import polars as pl

    return pl.Series([list(keys)]), pl.Series([list(values)])


def _per_row(fn: Callable[[str], str]) -> Callable[[pa.Array], pa.Array]:
    return lambda sub: pa.array([fn(t) for t in sub.to_pylist()], pa.large_string())


def normalize_unicode(arr: pa.Array, form: UnicodeForm = "safe", protect_spans: bool = True,
                      flags: np.ndarray | None = None) -> pa.Array:
    """NFC plus the folds of ``form`` (see the module docstring); ASCII rows are skipped.
    ``flags``: the rows' :func:`scan_flags`, when known (else regexes and scans find them)."""
    return normalize_unicode_rows(arr, form, protect_spans, flags)[0]


def normalize_unicode_rows(arr: pa.Array, form: UnicodeForm = "safe", protect_spans: bool = True,
                           flags: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
    """:func:`normalize_unicode`, and the rows it rewrote (a row outside them is unchanged):
    what a caller that keeps per-row state (``normalize``'s pre-check flags) must look at again."""
    from filters.normalize.scan_kernel import CODE_MARKS, FOLD, NON_ASCII

    if flags is None:
        non_ascii = ~np.asarray(pc.string_is_ascii(arr).fill_null(True).to_numpy(zero_copy_only=False), bool)
    else:
        non_ascii = (flags & NON_ASCII) != 0
    rewritten = np.zeros(len(arr), bool)
    if not non_ascii.any():
        return arr, rewritten
    if form == "safe":
        if flags is None:
            candidates = non_ascii & (code_point_counts(arr, _FOLD_LOOKUP) > 0)
            spans = matches(arr, _CODE_MARKERS) if protect_spans and candidates.any() else np.zeros(len(arr), bool)
        else:
            candidates = (flags & FOLD) != 0
            spans = (flags & CODE_MARKS) != 0 if protect_spans else np.zeros(len(arr), bool)
        arr = apply_where(arr, candidates & ~spans, _per_row(fold_compat))
        arr = apply_where(arr, candidates & spans, _per_row(lambda t: map_outside_spans(t, CODE_SPAN_RE, fold_compat)))
        rewritten |= candidates
    elif form == "nfkc":
        spans = matches(arr, _CODE_MARKERS + "|" + _MATH_MARKERS) if protect_spans else np.zeros(len(arr), bool)
        arr = apply_where(arr, non_ascii & ~spans, lambda sub: pc.utf8_normalize(sub, "NFKC"))
        arr = apply_where(arr, non_ascii & spans,
                          _per_row(lambda t: map_outside_spans(t, CODE_OR_MATH_SPAN_RE, _nfkc, {"math": fold_compat})))
        rewritten |= non_ascii
    # NFC last: it also composes what the folds produced (half-width kana + sound marks).
    strings = arr.filter(pa.array(non_ascii)).to_pylist()
    not_nfc = np.zeros(len(arr), bool)
    not_nfc[np.flatnonzero(non_ascii)] = [not unicodedata.is_normalized("NFC", t) for t in strings]
    return apply_where(arr, not_nfc, lambda sub: pc.utf8_normalize(sub, "NFC")), rewritten | not_nfc
