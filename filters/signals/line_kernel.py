"""Compiled line, paragraph and whole-text counts for :func:`filters.signals.general.text_line_signals`.

One pass per text over its UTF-8 bytes counts what the polars reference expressions
(``tests/filters/signals/polars_reference.py``: ``line_signals``, ``duplicate_fracs(..., "para")``,
``text_signals``, ``code_signals``, written with the regexes of ``filters.signals.general``
and ``filters.signals.code``) compute with regexes and exploded frames, so that no line or paragraph becomes a string. The rules, each as its
reference regex reads:

* lines are the pieces between ``\\n``; a line's stripped form drops Unicode ``White_Space``
  at both ends (polars ``strip_chars``); blank lines are left out of the line fractions.
  Bullet: the stripped line starts with a character of ``BULLET_CHARS``; ellipsis: it ends
  with ``...``, ``…`` or ``。。。``; terminal: its last character is one of ``TERMINAL_CHARS``;
  short: fewer than ``short_chars`` (``short_chars_cjk`` for a CJK document) characters;
  boilerplate: it contains a phrase of ``BOILERPLATE_PHRASES``, case-folded as Rust's
  ``(?i)`` does (ASCII case, and U+212A KELVIN SIGN as ``k``, U+017F LONG S as ``s``);
  duplicate: the same stripped line occurred earlier in the text (64-bit hash set, as the
  reference's hash);
* paragraphs are split at ``\\n[ \\t]*\\n\\s*`` (and at ``\\x00``, which the reference's split
  marker is), stripped, blank ones left out; duplicates by a hash set;
* a data line is a line (blank or not, the piece after a final ``\\n`` included) of only
  ``DATA_CHARS``; a base64 run is a maximal run of at least 120 ``[A-Za-z0-9+/=]``;
* stop words are maximal runs of ASCII word characters equal (ASCII case-folded) to one of
  ``STOPWORDS``; symbols are ``#``, ``…`` and every three consecutive dots;
* the head is everything before the tenth ``\\n`` (``head_lines(text, 10)``).

Compiled on first use and cached on disk (``cache=True``); tests compare every count with
the reference on the dev sets.
"""

from __future__ import annotations

import numba
import numpy as np

from filters.utf8_kernel import bytes_equal
from filters.utf8_kernel import hash_bytes as _hash
from filters.utf8_kernel import decode_utf8 as _decode

# per-text output columns of ``line_counts``
(LINES, BULLET, ELLIPSIS, TERMINAL, SHORT, BOILER, DUP_LINES, LINE_CHARS, DUP_LINE_CHARS, PARAS, DUP_PARAS,
 PARA_CHARS, DUP_PARA_CHARS, MAX_LINE_LEN, NEWLINES, CHARS, DATA_LINES, BASE64_RUNS, STOPWORDS, SYMBOLS,
 HEAD_CHARS) = range(21)
N_COUNTS = 21

# bits of the per-code-point table ``marks`` (BMP only: every such character is in the BMP)
M_BULLET, M_TERMINAL, M_DATA, M_B64, M_WORD, M_SPACE = 1, 2, 4, 8, 16, 32
SPACE_CHARS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
"""Unicode White_Space (what polars' ``strip_chars`` and ``\\s`` take as space): all in the BMP."""


@numba.njit(cache=True, nogil=True, inline="always")
def _is_space(marks: np.ndarray, cp: int) -> bool:
    return cp < 0x10000 and (marks[cp] & M_SPACE) != 0


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _strip(data: np.ndarray, marks: np.ndarray, s: int, e: int) -> tuple[int, int, int]:
    """(start, end, characters) of ``data[s:e]`` without White_Space at both ends; start ==
    end for a blank piece. Scans in from both ends; the characters are counted by their
    lead bytes."""
    i = s
    while i < e:
        cp, size = _decode(data, i)
        if not _is_space(marks, cp):
            break
        i += size
    if i >= e:
        return s, s, 0
    j = e
    while j > i:
        k = j - 1
        while k > i and (data[k] & 0xC0) == 0x80:
            k -= 1
        cp, _ = _decode(data, k)
        if not _is_space(marks, cp):
            break
        j = k
    chars = 0
    for k in range(i, j):
        if (data[k] & 0xC0) != 0x80:
            chars += 1
    return i, j, chars


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _seen(table: np.ndarray, used: np.ndarray, n_used: int, mask: int, h: np.uint64) -> tuple[bool, int]:
    """Insert ``h`` into the open-addressing set (0 marks a free slot; a hash of 0 is stored
    as 1); returns (was it there, new count of used slots)."""
    if h == 0:
        h = np.uint64(1)
    slot = np.int64(h & np.uint64(mask))  # h is fmix-finished: its low bits are well spread
    while True:
        v = table[slot]
        if v == 0:
            table[slot] = h
            used[n_used] = slot
            return False, n_used + 1
        if v == h:
            return True, n_used
        slot = (slot + 1) & mask


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _ends_with(data: np.ndarray, s: int, e: int, tail: np.ndarray) -> bool:
    m = len(tail)
    if e - s < m:
        return False
    for k in range(m):
        if data[e - m + k] != tail[k]:
            return False
    return True


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _fold(cp: int) -> int:
    if 65 <= cp <= 90:
        return cp + 32
    if cp == 0x212A:
        return 107  # KELVIN SIGN folds with k
    if cp == 0x17F:
        return 115  # LONG S folds with s
    return cp


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _has_phrase(data: np.ndarray, s: int, e: int, buf: np.ndarray, first: np.ndarray, phrases: np.ndarray,
                phrase_off: np.ndarray) -> bool:
    """Whether the folded code points of ``data[s:e]`` contain one of the phrases (``first``:
    which code points (< 0x10000) start a phrase, so most positions cost one lookup)."""
    n = 0
    i = s
    while i < e:
        cp, size = _decode(data, i)
        buf[n] = _fold(cp)
        n += 1
        i += size
    for a in range(n):
        c = buf[a]
        if c >= 0x10000 or not first[c]:
            continue
        for p in range(len(phrase_off) - 1):
            ps, pe = phrase_off[p], phrase_off[p + 1]
            m = pe - ps
            if a + m > n or phrases[ps] != c:
                continue
            ok = True
            for k in range(1, m):
                if buf[a + k] != phrases[ps + k]:
                    ok = False
                    break
            if ok:
                return True
    return False


@numba.njit(cache=True, nogil=True, boundscheck=False)
def line_counts(data: np.ndarray, offsets: np.ndarray, cjk: np.ndarray, phrase_docs: np.ndarray, marks: np.ndarray,
                phrases: np.ndarray, phrase_off: np.ndarray, stopwords: np.ndarray, stop_off: np.ndarray, ellipses: np.ndarray,
                ellipsis_off: np.ndarray, short_chars: int, short_chars_cjk: int, head_lines: int) -> np.ndarray:
    """``counts[text, column]`` (the module's column constants), see the module docstring.
    ``phrase_docs``: the texts where a boilerplate phrase occurs at all (the others' lines
    are not searched)."""
    n = len(offsets) - 1
    out = np.zeros((n, N_COUNTS), dtype=np.int64)
    longest = 0
    for d in range(n):
        longest = max(longest, offsets[d + 1] - offsets[d])
    cap = 16
    while cap < 2 * (longest + 2):
        cap *= 2
    table = np.zeros(cap, dtype=np.uint64)
    used = np.empty(longest + 2, dtype=np.int64)
    buf = np.empty(longest + 1, dtype=np.int64)
    first = np.zeros(0x10000, dtype=np.bool_)
    for p in range(len(phrase_off) - 1):
        if phrases[phrase_off[p]] < 0x10000:
            first[phrases[phrase_off[p]]] = True
    for d in range(n):
        s0, e0 = offsets[d], offsets[d + 1]
        size = 16
        while size < 2 * (e0 - s0 + 2):
            size *= 2
        mask = size - 1
        short_limit = short_chars_cjk if cjk[d] else short_chars
        n_used = 0
        chars_total = 0
        newlines = 0
        head_chars = -1
        word_start = -1
        dot_run = 0
        b64_run = 0
        stop, symbols, b64_runs, data_lines, max_len = 0, 0, 0, 0, 0
        lines, bullet, ellipsis, terminal, short, boiler, dup, line_chars_sum, dup_chars = 0, 0, 0, 0, 0, 0, 0, 0, 0
        i = s0
        # one pass: every line's characters are decoded once and the stripped line is tracked
        # as it goes (its first and last non-space character); its bytes are hashed (and, in a
        # document where a boilerplate phrase occurs at all, searched) when the line ends
        while True:
            line_chars = 0
            data_line = True
            first_ns = -1
            last_end = -1
            first_cp = -1
            last_cp = -1
            before = 0
            upto = 0
            while i < e0:
                b0 = np.int64(data[i])
                if b0 == 10:
                    break
                line_chars += 1
                if b0 < 0x80:  # ASCII: every run and class below is ASCII-only
                    cp, sz = b0, 1
                    mk = marks[b0]
                    if (mk & M_DATA) == 0:
                        data_line = False
                    if (mk & M_WORD) != 0:
                        if word_start < 0:
                            word_start = i
                    elif word_start >= 0:
                        stop += _is_stopword(data, word_start, i, stopwords, stop_off)
                        word_start = -1
                    if b0 == 46:
                        dot_run += 1
                    else:
                        if dot_run >= 3:
                            symbols += dot_run // 3
                        dot_run = 0
                        if b0 == 35:
                            symbols += 1
                    if (mk & M_B64) != 0:
                        b64_run += 1
                    else:
                        if b64_run >= 120:
                            b64_runs += 1
                        b64_run = 0
                else:  # not a data, word, dot or base64 character: it ends those runs
                    cp, sz = _decode(data, i)
                    mk = marks[cp] if cp < 0x10000 else 0
                    data_line = False
                    if word_start >= 0:
                        stop += _is_stopword(data, word_start, i, stopwords, stop_off)
                        word_start = -1
                    if dot_run >= 3:
                        symbols += dot_run // 3
                    dot_run = 0
                    if cp == 0x2026:
                        symbols += 1
                    if b64_run >= 120:
                        b64_runs += 1
                    b64_run = 0
                if (mk & M_SPACE) == 0:
                    if first_ns < 0:
                        first_ns = i
                        first_cp = cp
                        before = line_chars - 1
                    last_end = i + sz
                    last_cp = cp
                    upto = line_chars
                i += sz
            # the line ends at i ('\n' or the end): close the runs, count the line
            if word_start >= 0:
                stop += _is_stopword(data, word_start, i, stopwords, stop_off)
                word_start = -1
            symbols += dot_run // 3
            dot_run = 0
            if b64_run >= 120:
                b64_runs += 1
            b64_run = 0
            chars_total += line_chars
            if data_line:
                data_lines += 1
            if line_chars > max_len:
                max_len = line_chars
            if first_ns >= 0:
                sc = upto - before
                lines += 1
                if first_cp < 0x10000 and (marks[first_cp] & M_BULLET) != 0:
                    bullet += 1
                for t in range(len(ellipsis_off) - 1):
                    if _ends_with(data, first_ns, last_end, ellipses[ellipsis_off[t]:ellipsis_off[t + 1]]):
                        ellipsis += 1
                        break
                if last_cp < 0x10000 and (marks[last_cp] & M_TERMINAL) != 0:
                    terminal += 1
                if sc < short_limit:
                    short += 1
                if phrase_docs[d] and _has_phrase(data, first_ns, last_end, buf, first, phrases, phrase_off):
                    boiler += 1
                line_chars_sum += sc
                seen, n_used = _seen(table, used, n_used, mask, _hash(data, first_ns, last_end))
                if seen:
                    dup += 1
                    dup_chars += sc
            if i >= e0:
                break
            newlines += 1
            chars_total += 1
            if newlines == head_lines and head_chars < 0:
                head_chars = chars_total - 1
            i += 1
        for u in range(n_used):
            table[used[u]] = 0
        row = out[d]
        row[LINES], row[BULLET], row[ELLIPSIS], row[TERMINAL], row[SHORT] = lines, bullet, ellipsis, terminal, short
        row[BOILER], row[DUP_LINES], row[LINE_CHARS], row[DUP_LINE_CHARS] = boiler, dup, line_chars_sum, dup_chars
        row[STOPWORDS], row[SYMBOLS], row[BASE64_RUNS], row[DATA_LINES] = stop, symbols, b64_runs, data_lines
        row[MAX_LINE_LEN], row[NEWLINES], row[CHARS] = max_len, newlines, chars_total
        row[HEAD_CHARS] = head_chars if head_chars >= 0 else chars_total
        # --- paragraphs: split at \n[ \t]*\n\s* and at \x00
        n_used = 0
        item = s0
        i = s0
        while True:
            cut_end = -1  # where the next item starts, when a separator ends at i
            if i >= e0:
                cut_at = e0
            else:
                b = data[i]
                if b == 0:
                    cut_at, cut_end = i, i + 1
                elif b == 10:
                    j = i + 1
                    while j < e0 and (data[j] == 32 or data[j] == 9):
                        j += 1
                    if j < e0 and data[j] == 10:
                        j += 1
                        while j < e0:
                            cp, sz = _decode(data, j)
                            if not _is_space(marks, cp):
                                break
                            j += sz
                        cut_at, cut_end = i, j
                    else:
                        i += 1
                        continue
                else:
                    i += 1
                    continue
            ss, se, sc = _strip(data, marks, item, cut_at)
            if se > ss:
                out[d, PARAS] += 1
                out[d, PARA_CHARS] += sc
                seen, n_used = _seen(table, used, n_used, mask, _hash(data, ss, se))
                if seen:
                    out[d, DUP_PARAS] += 1
                    out[d, DUP_PARA_CHARS] += sc
            if cut_end < 0:
                break
            item = cut_end
            i = cut_end
        for u in range(n_used):
            table[used[u]] = 0
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _is_stopword(data: np.ndarray, s: int, e: int, words: np.ndarray, word_off: np.ndarray) -> int:
    m = e - s
    for w in range(len(word_off) - 1):
        ws, we = word_off[w], word_off[w + 1]
        if we - ws == m and bytes_equal(data, s, words, ws, m, 0, True):
            return 1
    return 0
