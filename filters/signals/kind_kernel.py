"""Compiled per-document counts for :func:`filters.signals.doc_kind.doc_kind_frame`.

One pass over each text's UTF-8 bytes (as Arrow stores them, no Python string per
document) counts, on the text's head (its first ``head_chars`` code points), what the
polars regexes of ``filters.signals.code`` and ``filters.signals.math`` count, but ``CODE_LINE``
(``filters.signals.code_line_kernel``). Each count as its regex reads (``count_matches``:
leftmost-first, non-overlapping; ``(?m)`` ``^``/``$`` only at ``\\n`` and the head's ends):

* ``CHARS``: code points of the head (``str.len_chars``);
* ``NONBLANK`` (``NONBLANK_LINE``, ``(?m)^[ \\t]*\\S``): lines whose first character after
  leading spaces and tabs exists and is not Unicode ``White_Space`` (a line starting with
  spaces then U+00A0, or ``\\r``, is blank to it);
* ``STARS`` (``STAR_LINE``): lines that are ``[ \\t]*`` then ``*`` then a space, tab or the end;
* ``C_COMMENT`` (``C_COMMENT_SYNTAX``): 1 when the head holds ``/*`` or ``*/`` or a line of
  only ``[ \\t]*\\*[ \\t]*``;
* ``DIGIT`` (``\\d``): 1 when the head holds a Unicode decimal digit (``Nd``, every plane: the
  ``flags`` table, see :func:`char_table`);
* ``EQ_LINES`` (``EQUATION_LINE``): lines holding an operator (``=``, ``<``, ``>``, ``≤``, ``≥``,
  ``≠``, ``≈``, ``\\le``, ``\\ge``, ``\\neq``, ``\\approx``) whose nearest character before it,
  past spaces and tabs, is one of ``[A-Za-z0-9_)\\]}]`` and whose nearest character after it,
  past spaces and tabs, is one of ``[-A-Za-z0-9_(\\[{\\\\$]``;
* ``MW_EN`` (``MATH_WORDS_EN``, ``(?i-u)\\b(?:...)\\b``): matches of the ASCII-case-folded
  alternatives, at ASCII word boundaries (a byte >= 0x80 is not a word character);
* ``MW_ZH`` (``MATH_WORDS_ZH``): matches of the literal alternatives, leftmost-first in the
  pattern's order;
* ``LATEX`` (``LATEX_TOKEN``): matches, each consuming what the regex consumes (``\\alpha\\beta``
  is one match: the first consumes the second's backslash).

Three loops per text: the head cut (texts longer than ``head_chars`` bytes only), the lines
(only the bytes that may start something are looked at; letters, spaces and UTF-8
continuation bytes are skipped), and the English words (a rolling four-byte window looked up
in a bit set at every byte; words are compared only where it hits). Numba counts references
to an array at every binding, a call's and an inlined helper's alike (an atomic increment and
decrement each), so the pass is compiled without reference counting (:func:`_kind_counts_into`).
Compiled on first use and cached on disk (``cache=True``); the tests compare every count
with the regexes on tricky and random inputs and the dev sets.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from filters.utf8_kernel import bytes_equal
from filters.utf8_kernel import decode_utf8 as _decode
from filters.uncounted import uncounted

# per-text output columns of ``kind_counts``
CHARS, NONBLANK, STARS, C_COMMENT, DIGIT, EQ_LINES, MW_EN, MW_ZH, LATEX, HEAD_END = range(10)
N_COUNTS = 10

# bits of the per-code-point table (``char_table``)
F_SPACE, F_DIGIT = 1, 2

SPACE_CHARS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
"""Unicode White_Space: what the regexes' ``\\s`` matches (tested against polars over every code point)."""

DIGIT_RANGES = (
    (0x30, 0x39), (0x660, 0x669), (0x6F0, 0x6F9), (0x7C0, 0x7C9), (0x966, 0x96F), (0x9E6, 0x9EF), (0xA66, 0xA6F),
    (0xAE6, 0xAEF), (0xB66, 0xB6F), (0xBE6, 0xBEF), (0xC66, 0xC6F), (0xCE6, 0xCEF), (0xD66, 0xD6F), (0xDE6, 0xDEF),
    (0xE50, 0xE59), (0xED0, 0xED9), (0xF20, 0xF29), (0x1040, 0x1049), (0x1090, 0x1099), (0x17E0, 0x17E9), (0x1810,
    0x1819), (0x1946, 0x194F), (0x19D0, 0x19D9), (0x1A80, 0x1A89), (0x1A90, 0x1A99), (0x1B50, 0x1B59), (0x1BB0,
    0x1BB9), (0x1C40, 0x1C49), (0x1C50, 0x1C59), (0xA620, 0xA629), (0xA8D0, 0xA8D9), (0xA900, 0xA909), (0xA9D0,
    0xA9D9), (0xA9F0, 0xA9F9), (0xAA50, 0xAA59), (0xABF0, 0xABF9), (0xFF10, 0xFF19), (0x104A0, 0x104A9), (0x10D30,
    0x10D39), (0x10D40, 0x10D49), (0x11066, 0x1106F), (0x110F0, 0x110F9), (0x11136, 0x1113F), (0x111D0, 0x111D9),
    (0x112F0, 0x112F9), (0x11450, 0x11459), (0x114D0, 0x114D9), (0x11650, 0x11659), (0x116C0, 0x116C9), (0x116D0,
    0x116E3), (0x11730, 0x11739), (0x118E0, 0x118E9), (0x11950, 0x11959), (0x11BF0, 0x11BF9), (0x11C50, 0x11C59),
    (0x11D50, 0x11D59), (0x11DA0, 0x11DA9), (0x11F50, 0x11F59), (0x16130, 0x16139), (0x16A60, 0x16A69), (0x16AC0,
    0x16AC9), (0x16B50, 0x16B59), (0x16D70, 0x16D79), (0x1CCF0, 0x1CCF9), (0x1D7CE, 0x1D7FF), (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9), (0x1E4F0, 0x1E4F9), (0x1E5F1, 0x1E5FA), (0x1E950, 0x1E959), (0x1FBF0, 0x1FBF9),
)
"""The runs (first, last code point) of decimal digits that polars' ``\\d`` matches (``Nd`` of
its Unicode version, newer than Python's ``unicodedata``; tested over every code point)."""


@lru_cache(maxsize=1)
def char_table() -> np.ndarray:
    """uint8 per code point (0..0x10FFFF): ``F_SPACE`` for ``\\s``, ``F_DIGIT`` for ``\\d``."""
    table = np.zeros(0x110000, dtype=np.uint8)
    table[[ord(ch) for ch in SPACE_CHARS]] |= F_SPACE
    for first, last in DIGIT_RANGES:
        table[first:last + 1] |= F_DIGIT
    return table


def packed_words(words: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of ``words`` end to end, and the offsets of each."""
    parts = [np.frombuffer(w.encode(), dtype=np.uint8) for w in words]
    off = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=off[1:])
    return (np.concatenate(parts) if parts else np.zeros(0, np.uint8)), off


# bits of the byte table (``byte_table``)
B_DIGIT, B_SLASH_STAR, B_OPERATOR, B_LATEX, B_NEWLINE, B_LEAD = 1, 2, 4, 8, 16, 32


@lru_cache(maxsize=1)
def byte_table() -> np.ndarray:
    """uint8 per byte: which of the main scan's checks may start at it (0: none; letters,
    spaces, most punctuation and UTF-8 continuation bytes are skipped in a tight loop)."""
    table = np.zeros(256, dtype=np.uint8)
    for chars, bit in (("0123456789", B_DIGIT), ("/*", B_SLASH_STAR), ("=<>\\", B_OPERATOR), ("\\$^_", B_LATEX),
                       ("\n", B_NEWLINE)):
        table[[ord(ch) for ch in chars]] |= bit
    table[0xC0:] |= B_LEAD
    return table


def grouped_words(words: tuple[str, ...], key) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The alternatives grouped by ``key(word)`` (their first character), each group in the
    pattern's order (only a group's words can match where its character is, so the first of
    the group to match is the first of the pattern): UTF-8 bytes end to end, offsets,
    and per group the range of word indices (``group_start[g]:group_start[g + 1]``), with
    ``group_of[key]`` = group + 1 (0: no word starts there)."""
    keys = sorted({key(w) for w in words})
    order = [w for k in keys for w in words if key(w) == k]
    data, off = packed_words(tuple(order))
    start = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([sum(1 for w in words if key(w) == k) for k in keys], out=start[1:])
    group_of = np.zeros(0x10000, dtype=np.int64)
    for g, k in enumerate(keys):
        group_of[k] = g + 1
    return data, off, start, group_of


_PREFIX_MUL = 0x9E3779B1


def prefix_bits(words: tuple[str, ...]) -> np.ndarray:
    """A 2**16-bit set (uint64 words) of the hashed first four bytes (``| 32``) of the lower
    case ASCII ``words`` (each at least four bytes long): the kernel's test at every byte,
    before it compares a word."""
    bits = np.zeros(1 << 10, dtype=np.uint64)
    for w in words:
        assert len(w) >= 4 and w.isascii(), w
        x = 0
        for ch in w[:4].encode():
            x = ((x << 8) | (ch | 32)) & 0xFFFFFFFF
        h = ((x * _PREFIX_MUL) & 0xFFFFFFFF) >> 16
        bits[h >> 6] |= np.uint64(1) << np.uint64(h & 63)
    return bits


@numba.njit(cache=True, nogil=True, inline="always")
def _is_word(b: int) -> bool:
    """ASCII word byte ``[A-Za-z0-9_]`` (``(?-u)\\w``)."""
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 95


@numba.njit(cache=True, nogil=True, inline="always")
def _is_letter(b: int) -> bool:
    return (65 <= b <= 90) or (97 <= b <= 122)


@numba.njit(cache=True, nogil=True, inline="always")
def _char_len(b: int) -> int:
    if b < 0x80:
        return 1
    if b < 0xE0:
        return 2
    if b < 0xF0:
        return 3
    return 4


@numba.njit(cache=True, nogil=True, inline="always")
def _eq_before(b: int) -> bool:
    """``[A-Za-z0-9_)\\]}]``"""
    return _is_word(b) or b == 41 or b == 93 or b == 125


@numba.njit(cache=True, nogil=True, inline="always")
def _eq_after(b: int) -> bool:
    """``[-A-Za-z0-9_(\\[{\\\\$]``"""
    return _is_word(b) or b == 45 or b == 40 or b == 91 or b == 123 or b == 92 or b == 36


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _equation_at(data: np.ndarray, ls: int, p: int, n: int, e: int) -> bool:
    """Whether the operator of ``n`` bytes at ``p`` (line starting at ``ls``) has an operand
    on both sides, past spaces and tabs. Called only at operators (a call per byte would
    cost numba's reference counting of ``data``)."""
    q = p - 1
    while q >= ls and (data[q] == 32 or data[q] == 9):
        q -= 1
    if q < ls or not _eq_before(data[q]):
        return False
    r = p + n
    while r < e and (data[r] == 32 or data[r] == 9):
        r += 1
    return r < e and _eq_after(data[r])


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _latex_at(data: np.ndarray, p: int, e: int, flags: np.ndarray) -> int:
    """End of the ``LATEX_TOKEN`` match starting at ``p``, or -1."""
    b = data[p]
    if b == 92:  # \
        if p + 1 >= e:
            return -1
        c = data[p + 1]
        if c == 40 or c == 91:  # \( \[
            return p + 2
        q = p + 1
        while q < e and _is_letter(data[q]):
            q += 1
        if q - (p + 1) < 2:
            return -1
        if q == e:
            return q
        c = data[q]  # not a letter: the run is maximal, and fewer letters leave a letter next
        if (48 <= c <= 57) or c == 39 or c == 34:  # [^A-Za-z0-9'"] fails
            return -1
        return q + _char_len(c)
    if b == 36:  # $
        if p + 1 >= e:
            return -1
        c = data[p + 1]
        if c == 36:
            return p + 2
        if 48 <= c <= 57:
            return -1
        cp, size = _decode(data, p + 1)
        if (flags[cp] & F_SPACE) != 0:
            return -1
        return p + 1 + size
    if (b == 94 or b == 95) and p + 1 < e and data[p + 1] == 123:  # ^{ _{
        return p + 2
    return -1


def kind_counts(data: np.ndarray, offsets: np.ndarray, head_chars: int, flags: np.ndarray, bytes_: np.ndarray,
                en_words: np.ndarray, en_off: np.ndarray, en_start: np.ndarray, en_group: np.ndarray, en_prefix: np.ndarray,
                zh_words: np.ndarray, zh_off: np.ndarray, zh_start: np.ndarray, zh_group: np.ndarray) -> np.ndarray:
    """``counts[text, column]`` (the module's column constants) on each text's first
    ``head_chars`` code points (the whole text when ``head_chars`` <= 0); ``HEAD_END``: the
    head's length in bytes. ``flags``: :func:`char_table`; ``bytes_``: :func:`byte_table`;
    the English alternatives (lower case) and the Chinese ones as :func:`grouped_words`
    gives them, grouped by first character."""
    out = np.zeros((len(offsets) - 1, N_COUNTS), dtype=np.int64)
    _kind_counts_into(data, np.ascontiguousarray(offsets, np.int64), head_chars, flags, bytes_, en_words, en_off, en_start,
                      en_group, en_prefix, zh_words, zh_off, zh_start, zh_group, out)
    return out


@uncounted(boundscheck=False)
def _kind_counts_into(data, offsets, head_chars, flags, bytes_, en_words, en_off, en_start, en_group, en_prefix, zh_words,
                      zh_off, zh_start, zh_group, out) -> None:
    """:func:`kind_counts` into ``out``, compiled without reference counting
    (:mod:`filters.uncounted`)."""
    n = len(offsets) - 1
    for d in range(n):
        s, e0 = offsets[d], offsets[d + 1]
        # the head: the first head_chars code points
        e = e0  # no more characters than bytes
        if head_chars > 0 and e0 - s > head_chars:
            e = s
            chars = 0
            while e < e0 and chars < head_chars:
                e += _char_len(data[e])
                chars += 1
        extra = 0  # bytes past the first of each character: chars = bytes - extra
        nonblank, stars, ccom, digit, eq, mw_en, mw_zh, latex = 0, 0, 0, 0, 0, 0, 0, 0
        zh_next = s  # where the next search of the Chinese words / LaTeX may start (after its last match)
        tex_next = s
        i = s
        while True:  # a line starts at i
            ls = i
            eq_line = False  # the line already counts as an equation line
            # (?m)^[ \t]*: NONBLANK_LINE, STAR_LINE and C_COMMENT_SYNTAX's bare star line
            j = i
            while j < e and (data[j] == 32 or data[j] == 9):
                j += 1
            if j < e and data[j] != 10:
                c0 = np.int64(data[j])
                cp, _ = _decode(data, j)
                if (flags[cp] & F_SPACE) == 0:
                    nonblank += 1
                if c0 == 42:  # *
                    k = j + 1
                    if k == e or data[k] == 32 or data[k] == 9 or data[k] == 10:
                        stars += 1
                    while k < e and (data[k] == 32 or data[k] == 9):
                        k += 1
                    if k == e or data[k] == 10:
                        ccom = 1
            # the rest of the line
            while i < e:
                b = np.int64(data[i])
                bt = bytes_[b]
                if bt == 0:
                    i += 1
                    continue
                if (bt & B_NEWLINE) != 0:
                    break
                if b < 0x80:
                    if (bt & B_DIGIT) != 0:
                        digit = 1
                    if (bt & B_SLASH_STAR) != 0 and i + 1 < e:
                        nb = data[i + 1]
                        if (b == 47 and nb == 42) or (b == 42 and nb == 47):  # /* */
                            ccom = 1
                    if (bt & B_OPERATOR) != 0 and not eq_line:
                        op = 0
                        if b != 92:  # = < >
                            op = 1
                        elif i + 2 < e and data[i + 2] == 101 and (data[i + 1] == 108 or data[i + 1] == 103):  # \le \ge
                            op = 3
                        elif i + 3 < e and data[i + 1] == 110 and data[i + 2] == 101 and data[i + 3] == 113:  # \neq
                            op = 4
                        elif (i + 6 < e and data[i + 1] == 97 and data[i + 2] == 112 and data[i + 3] == 112  # \approx
                              and data[i + 4] == 114 and data[i + 5] == 111 and data[i + 6] == 120):
                            op = 7
                        if op > 0 and _equation_at(data, ls, i, op, e):
                            eq += 1
                            eq_line = True
                    if (bt & B_LATEX) != 0 and i >= tex_next:
                        end = _latex_at(data, i, e, flags)
                        if end >= 0:
                            latex += 1
                            tex_next = end
                    i += 1
                    continue
                cp, size = _decode(data, i)
                extra += size - 1
                if (flags[cp] & F_DIGIT) != 0:
                    digit = 1
                if not eq_line and (cp == 0x2264 or cp == 0x2265 or cp == 0x2260 or cp == 0x2248):  # ≤ ≥ ≠ ≈
                    if _equation_at(data, ls, i, 3, e):
                        eq += 1
                        eq_line = True
                if cp < 0x10000 and i >= zh_next:
                    g = zh_group[cp]
                    if g > 0:
                        for w in range(zh_start[g - 1], zh_start[g]):
                            ws, we = zh_off[w], zh_off[w + 1]
                            m = we - ws
                            if i + m > e:
                                continue
                            if bytes_equal(data, i, zh_words, ws, m, size, False):  # the first character is the group's
                                mw_zh += 1
                                zh_next = i + m
                                break
                i += size
            if i >= e:
                break
            i += 1  # past the '\n'
        # MATH_WORDS_EN: a rolling window of the last four bytes (| 32) is looked up in
        # ``en_prefix`` at every byte; where it hits, the words are compared at the window's start
        en_next = s  # where the next search may start (after the last match)
        x = 0
        for i in range(s, e):
            x = ((x << 8) | (np.int64(data[i]) | 32)) & 0xFFFFFFFF
            h = ((x * _PREFIX_MUL) & 0xFFFFFFFF) >> 16
            if (en_prefix[h >> 6] >> np.uint64(h & 63)) & np.uint64(1) == 0:
                continue
            p = i - 3
            if p < en_next or (p > s and _is_word(data[p - 1])):
                continue
            g = en_group[np.int64(data[p]) | 32]
            if g == 0:
                continue
            for w in range(en_start[g - 1], en_start[g]):
                ws, we = en_off[w], en_off[w + 1]
                m = we - ws
                if p + m > e:
                    continue
                if bytes_equal(data, p, en_words, ws, m, 1, True) and (p + m == e or not _is_word(data[p + m])):
                    mw_en += 1
                    en_next = p + m
                    break
        row = out[d]
        row[CHARS], row[NONBLANK], row[STARS], row[C_COMMENT], row[DIGIT] = e - s - extra, nonblank, stars, ccom, digit
        row[EQ_LINES], row[MW_EN], row[MW_ZH], row[LATEX], row[HEAD_END] = eq, mw_en, mw_zh, latex, e - s
