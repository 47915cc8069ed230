"""Compiled ``CODE_LINE`` counts for :func:`filters.signals.doc_kind.doc_kind_frame`.

``filters.signals.code.CODE_LINE`` is ``(?m)^(?:A|B|C)[^\\n]*``: every match runs from a line
start to the line end (no alternative can cross a newline), so ``count_matches`` counts the
lines where one of the alternatives matches at the line start, and which one does not
matter. As a regex it cost twice a plain search (the engine searches backwards from each
match end for the start); this kernel decides the same question line by line, one pass
over the bytes of each text's head plus a few look-ups where the line offers them:

* A, the line-start forms after the leading spaces and tabs (no form starts with one, so the
  whole run is skipped): keywords then an ASCII word boundary, ``from X import``, directives,
  ``@name``, comment openers, prompts, ``pass``/``break``/``continue``, ``case ...:``,
  closing brackets, enum/argument lines, string-literal lines, literal openers, assignments of
  calls/strings/collections/constants and call statements;
* B, the indented assignment (four spaces or a tab first);
* C, anywhere: a line ending (past spaces and tabs) in ``;{}([``, a comment opener after
  ``;,{}()]``, and an operator between operands.

Each form is decided from what its regex pins down (a run that the next token cannot
extend is taken whole; a closing quote, bracket or colon that must be followed by nothing
but spaces is the line's last one), so the answer is the regex's. One case needs Unicode's
``\\w`` on a non-ASCII character (an operator next to one): such a line is reported as
undecided and the caller counts that text with the regex (:func:`code_line_counts`).
Tested against the regex on the dev sets, tricky lines and random ones.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from filters.signals.kind_kernel import F_SPACE, grouped_words, packed_words
from filters.utf8_kernel import bytes_equal
from filters.utf8_kernel import decode_utf8 as _decode
from filters.uncounted import uncounted

UNDECIDED = 2


@lru_cache(maxsize=1)
def keyword_table() -> tuple[np.ndarray, ...]:
    """``KEYWORD_WORDS`` grouped by first byte (``kind_kernel.grouped_words``: bytes, offsets,
    group ranges, group of a byte) and ``DIRECTIVE_WORDS`` packed (bytes, offsets): what
    :func:`count_lines` reads."""
    from filters.signals.code import DIRECTIVE_WORDS, KEYWORD_WORDS

    return (*grouped_words(KEYWORD_WORDS, lambda w: w.encode()[0]), *packed_words(DIRECTIVE_WORDS))


@numba.njit(cache=True, nogil=True, inline="always")
def _ws(b) -> bool:
    return b == 32 or b == 9


@numba.njit(cache=True, nogil=True, inline="always")
def _word(b) -> bool:
    """ASCII ``[0-9A-Za-z_]``."""
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 95


@numba.njit(cache=True, nogil=True, inline="always")
def _ident_start(b) -> bool:
    return (65 <= b <= 90) or (97 <= b <= 122) or b == 95


@numba.njit(cache=True, nogil=True, inline="always")
def _skip_ws(data, i, le) -> int:
    while i < le and (data[i] == 32 or data[i] == 9):
        i += 1
    return i


@numba.njit(cache=True, nogil=True, inline="always")
def _boundary(data, q, le) -> bool:
    """An ASCII word boundary after a word character at ``q - 1``: ``q`` ends the line or holds
    a byte that is not ``[0-9A-Za-z_]`` (a byte >= 0x80 is not one)."""
    return q >= le or not _word(data[q])


@numba.njit(cache=True, nogil=True, inline="always")
def _lit(data, p, le, a, b=-1, c=-1, d=-1, e=-1, f=-1, g=-1) -> bool:
    """The ASCII bytes ``a, b, ...`` (up to the first -1) at ``data[p]``, within the line."""
    n = 1 + (b >= 0) + (c >= 0) + (d >= 0) + (e >= 0) + (f >= 0) + (g >= 0)
    if p + n > le:
        return False
    return (data[p] == a and (b < 0 or data[p + 1] == b) and (c < 0 or data[p + 2] == c) and (d < 0 or data[p + 3] == d)
            and (e < 0 or data[p + 4] == e) and (f < 0 or data[p + 5] == f) and (g < 0 or data[p + 6] == g))


@numba.njit(cache=True, nogil=True, inline="always")
def _not_space(data, k, le, flags) -> bool:
    """A character at ``k`` that is not Unicode White_Space (``[^\\s]``)."""
    if k >= le:
        return False
    b = np.int64(data[k])
    if b < 0x80:
        return not (b == 32 or 9 <= b <= 13)
    cp, _ = _decode(data, k)
    return (flags[cp] & F_SPACE) == 0


@numba.njit(cache=True, nogil=True, inline="always")
def _spaces_then_end(data, q, le, semicolon) -> bool:
    """``data[q:le]`` is ``[ \\t]*`` (with ``semicolon``: ``[ \\t]*;?[ \\t]*``)."""
    r = _skip_ws(data, q, le)
    if semicolon and r < le and data[r] == 59:
        r = _skip_ws(data, r + 1, le)
    return r >= le


@numba.njit(cache=True, nogil=True, inline="always")
def _comment_tail(data, q, le) -> bool:
    """``data[q:le]`` is ``[ \\t]*(?:(?://|/\\*|#)[^\\n]*)?``."""
    r = _skip_ws(data, q, le)
    if r >= le or data[r] == 35:
        return True
    return data[r] == 47 and r + 1 < le and (data[r + 1] == 47 or data[r + 1] == 42)


@numba.njit(cache=True, nogil=True, inline="always")
def _closers_only(data, p, le) -> bool:
    """``data[p:le]`` is ``[)\\]}]+[ \\t]*[,;:)\\]}]*[ \\t]*`` (the states of its automaton)."""
    state = 0
    for i in range(p, le):
        b = data[i]
        closer = b == 41 or b == 93 or b == 125
        punct = closer or b == 44 or b == 59 or b == 58
        if state == 0:  # in the closers
            state = 0 if closer else (1 if _ws(b) else (2 if punct else 9))
        elif state == 1:  # spaces after them
            state = 1 if _ws(b) else (2 if punct else 9)
        elif state == 2:  # the punctuation
            state = 2 if punct else (3 if _ws(b) else 9)
        elif state == 3:  # trailing spaces
            state = 3 if _ws(b) else 9
        if state == 9:
            return False
    return le > p


@numba.njit(cache=True, nogil=True, inline="always")
def _last_nonspace(data, ls, le) -> int:
    """Index of the line's last byte that is not a space or tab (ls - 1 if none)."""
    q = le - 1
    while q >= ls and (data[q] == 32 or data[q] == 9):
        q -= 1
    return q


@numba.njit(cache=True, nogil=True, inline="always")
def _last_of(data, ls, le, a, b) -> int:
    q = le - 1
    while q >= ls and data[q] != a and data[q] != b:
        q -= 1
    return q


@numba.njit(cache=True, nogil=True, inline="always")
def _string_line(data, o, ls, le, prefix) -> bool:
    """The string-literal forms once a quote opens at ``o`` after ``prefix`` (0-2) prefix letters:
    ``['"][^\\n]*['"][ \\t]*[,)\\]}:]+[ \\t]*$``, ``'[^\\n]*'[ \\t]*$`` and (with a prefix)
    ``"[^\\n]*"[ \\t]*$``."""
    q = _last_nonspace(data, ls, le)
    if q > o and ((data[o] == 39 and data[q] == 39) or (data[o] == 34 and prefix >= 1 and data[q] == 34)):
        return True
    c = _last_of(data, ls, le, 39, 34)  # the closing quote of the first form: the last quote
    if c <= o:
        return False
    r = _skip_ws(data, c + 1, le)
    run = r
    while run < le and (data[run] == 44 or data[run] == 41 or data[run] == 93 or data[run] == 125 or data[run] == 58):
        run += 1
    return run > r and _spaces_then_end(data, run, le, False)


@numba.njit(cache=True, nogil=True, inline="always")
def _line_start_form(data, ls, p, le, flags, kw, kw_off, kw_start, kw_group, dw, dw_off) -> bool:
    """Alternative A at ``p`` (the line's first byte past its spaces and tabs)."""
    c = np.int64(data[p])
    nxt = np.int64(data[p + 1]) if p + 1 < le else -1
    if c == 35:  # '#': #[ \t!-], #$, or a directive
        if nxt == -1 or nxt == 32 or nxt == 9 or nxt == 33 or nxt == 45:
            return True
        i = p + 1  # a directive then a boundary: the word run after # is the directive
        while i < le and _word(data[i]):
            i += 1
        for w in range(len(dw_off) - 1):
            if dw_off[w + 1] - dw_off[w] == i - p - 1 and bytes_equal(data, p + 1, dw, dw_off[w], i - p - 1, 0, False):
                return True
        return False
    if c == 64:  # @[A-Za-z]+ then a boundary
        m = p + 1
        while m < le and ((65 <= data[m] <= 90) or (97 <= data[m] <= 122)):
            m += 1
        return m > p + 1 and _boundary(data, m, le)
    if c == 47:  # // /*
        return nxt == 47 or nxt == 42
    if c == 42:  # */
        return nxt == 47
    if c == 62:  # >>> then a space, tab or the end
        return _lit(data, p, le, 62, 62, 62) and (p + 3 >= le or _ws(data[p + 3]))
    if c == 46:  # ... then a space, tab or the end; or \.{3,}:(?:[ \t]|$)
        if _lit(data, p, le, 46, 46, 46) and (p + 3 >= le or _ws(data[p + 3])):
            return True
        m = p
        while m < le and data[m] == 46:
            m += 1
        return m - p >= 3 and m < le and data[m] == 58 and (m + 1 >= le or _ws(data[m + 1]))
    if c == 41 or c == 93 or c == 125:  # closing brackets alone
        return _closers_only(data, p, le)
    if c == 40 or c == 91 or c == 123:  # [(\[{]['"(\[{]
        return nxt == 39 or nxt == 34 or nxt == 40 or nxt == 91 or nxt == 123
    if c == 39 or c == 34:
        return _string_line(data, p, ls, le, 0)
    if not _ident_start(c):
        return False
    # The word run [A-Za-z0-9_]* from p: a keyword then a word boundary is the whole run, and so
    # is each word below that a space, tab, ';', '[', ':' or the line end must follow.
    i = p + 1
    while i < le and _word(data[i]):
        i += 1
    size = i - p
    g = kw_group[c]
    for w in range(kw_start[g - 1] if g else 0, kw_start[g] if g else 0):
        if kw_off[w + 1] - kw_off[w] == size and bytes_equal(data, p, kw, kw_off[w], size, 0, False):
            return True
    if c == 109 and _lit(data, i, le, 46, 101, 120, 112, 111, 114, 116) and _lit(data, i + 7, le, 115) \
            and _boundary(data, i + 8, le) and size == 6 and _lit(data, p, le, 109, 111, 100, 117, 108, 101):
        return True  # module.exports
    if (size == 2 and _lit(data, p, le, 73, 110)) or (size == 3 and _lit(data, p, le, 79, 117, 116)):
        m = i  # (In|Out)[ \t]?\[[0-9]*\]:
        if m < le and _ws(data[m]):
            m += 1
        if m < le and data[m] == 91:
            m += 1
            while m < le and 48 <= data[m] <= 57:
                m += 1
            if _lit(data, m, le, 93, 58):
                return True
    elif size == 4 and _lit(data, p, le, 102, 114, 111, 109):  # from[ \t]+[A-Za-z0-9_.]+[ \t]+import, a boundary
        k = _skip_ws(data, i, le)
        if k > i:
            m = k
            while m < le and (_word(data[m]) or data[m] == 46):
                m += 1
            r = _skip_ws(data, m, le)
            if m > k and r > m and _lit(data, r, le, 105, 109, 112, 111, 114, 116) and _boundary(data, r + 6, le):
                return True
    elif ((size == 4 and _lit(data, p, le, 112, 97, 115, 115)) or (size == 5 and _lit(data, p, le, 98, 114, 101, 97, 107))
          or (size == 8 and _lit(data, p, le, 99, 111, 110, 116, 105, 110, 117) and data[p + 7] == 101)):
        if _spaces_then_end(data, i, le, True):  # (pass|break|continue)[ \t]*;?[ \t]*$
            return True
    elif size == 4 and _lit(data, p, le, 99, 97, 115, 101):  # case[ \t][^\n]{1,80}:[ \t]*$
        if i < le and _ws(data[i]):
            q = _last_nonspace(data, ls, le)
            if data[q] == 58:
                chars = 0
                for k in range(p + 5, q):
                    chars += (data[k] & 0xC0) != 0x80
                if 1 <= chars <= 80:
                    return True
    elif size == 7 and _lit(data, p, le, 100, 101, 102, 97, 117, 108, 116) and _lit(data, i, le, 58):
        return True  # default:
    # string literals after 0-2 prefix letters [bBrRuUfF]: the word run is those letters
    if size <= 2 and i < le and (data[i] == 39 or data[i] == 34):
        prefix = True
        for m in range(p, i):
            b = data[m]
            prefix = prefix and (b == 98 or b == 66 or b == 114 or b == 82 or b == 117 or b == 85 or b == 102 or b == 70)
        if prefix and _string_line(data, i, ls, le, size):
            return True
    # NAME, | NAME = value, then an optional comment ([A-Za-z_][A-Za-z0-9_]* : no dot)
    if i < le and data[i] == 44 and _comment_tail(data, i + 1, le):
        return True
    j = _skip_ws(data, i, le)
    if j < le and data[j] == 61:
        k = _skip_ws(data, j + 1, le)
        if _not_space(data, k, le, flags) and data[k] != 44:
            r = k + 1
            while r < le and data[r] != 44:
                r += 1
            if r < le and _comment_tail(data, r + 1, le):
                return True
    # identifiers with dots: an assignment of a call, string, collection or constant; a call statement
    while i < le and (_word(data[i]) or data[i] == 46):
        i += 1
    j = _skip_ws(data, i, le)
    if j < le:
        b = data[j]
        eq = -1
        if b == 61:
            eq = j
        elif (b == 45 or b == 43 or b == 42 or b == 47 or b == 124 or b == 38) and j + 1 < le and data[j + 1] == 61:
            eq = j + 1
        if eq >= 0:
            k = _skip_ws(data, eq + 1, le)
            if k < le:
                v = data[k]
                if v == 39 or v == 34 or v == 91 or v == 123 or v == 40:
                    return True
                if (_lit(data, k, le, 78, 111, 110, 101) or _lit(data, k, le, 84, 114, 117, 101)
                        or _lit(data, k, le, 70, 97, 108, 115, 101) or _lit(data, k, le, 110, 117, 108, 108)
                        or _lit(data, k, le, 116, 114, 117, 101) or _lit(data, k, le, 102, 97, 108, 115, 101)):
                    return True
                m = k
                while m < le and ((65 <= data[m] <= 90) or (97 <= data[m] <= 122) or data[m] == 95 or data[m] == 46):
                    m += 1
                if m > k and m < le and data[m] == 40:
                    return True
    if i < le and data[i] == 40:  # NAME(...) then [ \t]*;?[ \t]*$
        c2 = _last_of(data, ls, le, 41, 41)
        if c2 > i and _spaces_then_end(data, c2 + 1, le, True):
            return True
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _indented_assignment(data, ls, p, le, flags) -> bool:
    """Alternative B: ``(?:    |\\t)[ \\t]*NAME(?:\\[...\\])?[ \\t]*OP?=[ \\t]*[^=\\s]``."""
    if not (data[ls] == 9 or (p - ls >= 4 and data[ls] == 32 and data[ls + 1] == 32 and data[ls + 2] == 32
                              and data[ls + 3] == 32)):
        return False
    if p >= le or not _ident_start(data[p]):
        return False
    i = p + 1
    while i < le and (_word(data[i]) or data[i] == 46):
        i += 1
    if i < le and data[i] == 91:  # [^\]\n]* up to the first ]
        while i < le and data[i] != 93:
            i += 1
        if i >= le:
            return False
        i += 1
    j = _skip_ws(data, i, le)
    if j >= le:
        return False
    b = data[j]
    eq = -1
    if b == 61:
        eq = j
    elif j + 1 < le and data[j + 1] == 61 and (b == 45 or b == 43 or b == 42 or b == 47 or b == 37 or b == 124
                                                 or b == 38 or b == 94):
        eq = j + 1
    elif j + 2 < le and data[j + 2] == 61 and ((b == 60 and data[j + 1] == 60) or (b == 62 and data[j + 1] == 62)
                                                 or (b == 47 and data[j + 1] == 47) or (b == 42 and data[j + 1] == 42)):
        eq = j + 2
    if eq < 0:
        return False
    k = _skip_ws(data, eq + 1, le)
    return k < le and data[k] != 61 and _not_space(data, k, le, flags)


@lru_cache(maxsize=1)
def trigger_table() -> np.ndarray:
    """1 for the bytes that can start a comment opener or an operator of alternative C
    (``/ # = ! & | - : +``): a line without one is decided by its last character alone."""
    table = np.zeros(256, np.uint8)
    table[[ord(ch) for ch in "/#=!&|-:+"]] = 1
    return table


@numba.njit(cache=True, nogil=True, inline="always")
def _line_end_form(data, ls, le) -> int:
    """``[;{}(\\[][ \\t]*$``: the line's last character past spaces and tabs."""
    q = _last_nonspace(data, ls, le)
    if q >= ls:
        b = data[q]
        if b == 59 or b == 123 or b == 125 or b == 40 or b == 91:
            return 1
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def _anywhere(data, ls, le, triggers) -> int:
    """Alternative C over the line: 1 if it matches, UNDECIDED if only an operator next to a
    non-ASCII character could make it match, else 0."""
    if _line_end_form(data, ls, le):
        return 1
    undecided = False
    for o in range(ls, le - 1):
        b = data[o]
        if triggers[b] == 0:
            continue
        n = data[o + 1]
        comment = (b == 47 and (n == 47 or n == 42)) or (b == 35 and (n == 32 or n == 9))
        operator = ((b == 61 and n == 61) or (b == 33 and n == 61) or (b == 38 and n == 38) or (b == 124 and n == 124)
                    or (b == 45 and n == 62) or (b == 58 and n == 58) or (b == 43 and n == 61) or (b == 45 and n == 61))
        if not (comment or operator):
            continue
        r = o - 1
        while r >= ls and (data[r] == 32 or data[r] == 9):
            r -= 1
        if r < ls:
            continue
        before = data[r]
        if comment:  # [;,{}()\]][ \t]*(?://|/\*|#[ \t])
            if before == 59 or before == 44 or before == 123 or before == 125 or before == 40 or before == 41 or before == 93:
                return 1
            continue
        # [\w)\]][ \t]*OP[ \t]*[\w(*&'"-]
        a = _skip_ws(data, o + 2, le)
        if a >= le:
            continue
        after = data[a]
        ok_before = _word(before) or before == 41 or before == 93
        ok_after = _word(after) or after == 40 or after == 42 or after == 38 or after == 39 or after == 34 or after == 45
        if ok_before and ok_after:
            return 1
        if (ok_before or before >= 0x80) and (ok_after or after >= 0x80):
            undecided = True  # Unicode \w decides: left to the regex
    return UNDECIDED if undecided else 0


def line_code_counts(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lines matching ``CODE_LINE`` in ``data[starts[d]:ends[d]]``, whether a line of it was
    left undecided) per text (int64 offsets into the UTF-8 bytes ``data``)."""
    from filters.signals.kind_kernel import char_table

    counts = np.zeros(len(starts), np.int64)
    undecided = np.zeros(len(starts), np.bool_)
    count_lines(data, np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(ends, np.int64), char_table(),
                trigger_table(), *keyword_table(), counts, undecided)
    return counts, undecided


@uncounted(boundscheck=False)
def count_lines(data, starts, ends, flags, triggers, kw, kw_off, kw_start, kw_group, dw, dw_off, counts,
                undecided) -> None:
    """:func:`line_code_counts` into its outputs; ``flags``: ``kind_kernel.char_table()``,
    ``triggers``: :func:`trigger_table`, then the tables of :func:`keyword_table`. Compiled
    without reference counting (:mod:`filters.uncounted`: 0.41 -> 0.22 CPU-s on the benchmark
    corpus's texts)."""
    n = len(starts)
    for d in range(n):
        i, e = starts[d], ends[d]
        count = 0
        while i < e:
            ls = i
            hit = 0
            while i < e and data[i] != 10:
                hit |= triggers[data[i]]
                i += 1
            le = i
            i += 1  # past the newline
            p = _skip_ws(data, ls, le)
            if p < le and (_line_start_form(data, ls, p, le, flags, kw, kw_off, kw_start, kw_group, dw, dw_off)
                           or _indented_assignment(data, ls, p, le, flags)):
                count += 1
                continue
            found = _anywhere(data, ls, le, triggers) if hit else _line_end_form(data, ls, le)
            if found == 1:
                count += 1
            elif found == UNDECIDED:
                undecided[d] = True
        counts[d] = count
    return counts, undecided
