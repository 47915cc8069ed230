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
  marker is), stripped, blank ones left out; duplicates by a hash set. They are found from
  the lines as the line pass ends them (a line of spaces and tabs only closes the open
  paragraph), and byte by byte only in a text holding a ``\\x00``;
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

from filters.utf8_kernel import hash_bytes as _hash
from filters.utf8_kernel import decode_utf8 as _decode
from filters.uncounted import uncounted

# per-text output columns of ``line_counts``
(LINES, BULLET, ELLIPSIS, TERMINAL, SHORT, BOILER, DUP_LINES, LINE_CHARS, DUP_LINE_CHARS, PARAS, DUP_PARAS,
 PARA_CHARS, DUP_PARA_CHARS, MAX_LINE_LEN, NEWLINES, CHARS, DATA_LINES, BASE64_RUNS, STOPWORDS, SYMBOLS,
 HEAD_CHARS) = range(21)
N_COUNTS = 21

# bits of the per-code-point table ``marks`` (BMP only: every such character is in the BMP)
M_BULLET, M_TERMINAL, M_DATA, M_B64, M_WORD, M_SPACE = 1, 2, 4, 8, 16, 32
B_DATA, B_B64, B_WORD = 2, 3, 4  # their bit positions
SPACE_CHARS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
"""Unicode White_Space (what polars' ``strip_chars`` and ``\\s`` take as space): all in the BMP."""


@numba.njit(cache=True, nogil=True, inline="always")
def _is_space(marks: np.ndarray, cp: int) -> bool:
    return cp < 0x10000 and (marks[cp] & M_SPACE) != 0


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _strip(data: np.ndarray, marks: np.ndarray, s: int, e: int) -> tuple[int, int, int]:
    """(start, end, characters) of ``data[s:e]`` without White_Space at both ends; start ==
    end for a blank piece (:func:`_strip_ends`); the characters are counted by their lead bytes."""
    i, j, _, _, _, _ = _strip_ends(data, marks, s, e)
    chars = 0
    for k in range(i, j):
        if (data[k] & 0xC0) != 0x80:
            chars += 1
    return i, j, chars


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _strip_ends(data: np.ndarray, marks: np.ndarray, s: int, e: int) -> tuple[int, int, int, int, int, int]:
    """(start, end, first code point, last code point, characters stripped at the start, at
    the end) of ``data[s:e]`` without White_Space at both ends; start == end for a blank
    piece (all its characters counted as stripped at the start). Reads in from both ends
    only, so a line costs its leading and trailing spaces, not a test per character."""
    i = s
    lead = 0
    first_cp = -1
    while i < e:
        cp, size = _decode(data, i)
        if not _is_space(marks, cp):
            first_cp = cp
            break
        i += size
        lead += 1
    if i >= e:
        return s, s, -1, -1, lead, 0
    j = e
    trail = 0
    last_cp = first_cp
    while j > i:
        k = j - 1
        while k > i and (data[k] & 0xC0) == 0x80:
            k -= 1
        cp, _ = _decode(data, k)
        if not _is_space(marks, cp):
            last_cp = cp
            break
        j = k
        trail += 1
    return i, j, first_cp, last_cp, lead, trail


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _tabs_and_spaces(data: np.ndarray, s: int, e: int) -> bool:
    """Whether ``data[s:e]`` holds only spaces and tabs (or nothing)."""
    for k in range(s, e):
        if data[k] != 32 and data[k] != 9:
            return False
    return True


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
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


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _ends_with(data: np.ndarray, s: int, e: int, tail: np.ndarray) -> bool:
    m = len(tail)
    if e - s < m:
        return False
    for k in range(m):
        if data[e - m + k] != tail[k]:
            return False
    return True


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _fold(cp: int) -> int:
    if 65 <= cp <= 90:
        return cp + 32
    if cp == 0x212A:
        return 107  # KELVIN SIGN folds with k
    if cp == 0x17F:
        return 115  # LONG S folds with s
    return cp


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
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


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _close_paragraph(data, s, e, chars, table, used, n_used, mask, paras, para_chars, dup_paras, dup_para_chars):
    """Count the stripped paragraph ``data[s:e]`` of ``chars`` characters (a duplicate if
    its hash is in ``table``); the updated table size and counts."""
    seen, n_used = _seen(table, used, n_used, mask, _hash(data, s, e))
    if seen:
        dup_paras += 1
        dup_para_chars += chars
    return n_used, paras + 1, para_chars + chars, dup_paras, dup_para_chars


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _paragraphs_bytewise(data, marks, s0, e0, table, used, mask):
    """(paragraphs, their characters, duplicates, their characters) of ``data[s0:e0]``, split at
    ``\\n[ \\t]*\\n\\s*`` and at ``\\x00`` by scanning every byte: for a text holding a
    ``\\x00`` (the line pass splits at separators between lines only). Leaves ``table`` empty."""
    paras, para_chars, dup_paras, dup_para_chars, n_used = 0, 0, 0, 0, 0
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
            n_used, paras, para_chars, dup_paras, dup_para_chars = _close_paragraph(
                data, ss, se, sc, table, used, n_used, mask, paras, para_chars, dup_paras, dup_para_chars)
        if cut_end < 0:
            break
        item = cut_end
        i = cut_end
    for u in range(n_used):
        table[used[u]] = 0
    return paras, para_chars, dup_paras, dup_para_chars


def line_counts(data: np.ndarray, offsets: np.ndarray, cjk: np.ndarray, phrase_docs: np.ndarray, marks: np.ndarray,
                phrases: np.ndarray, phrase_off: np.ndarray, stopwords: np.ndarray, stop_off: np.ndarray, ellipses: np.ndarray,
                ellipsis_off: np.ndarray, short_chars: int, short_chars_cjk: int, head_lines: int) -> np.ndarray:
    """``counts[text, column]`` (the module's column constants), see the module docstring.
    ``phrase_docs``: the texts where a boilerplate phrase occurs at all (the others' lines
    are not searched). Allocates the outputs and the scratch tables, then runs
    :func:`_line_counts_into`."""
    offsets = np.ascontiguousarray(offsets, np.int64)
    n = len(offsets) - 1
    out = np.zeros((n, N_COUNTS), dtype=np.int64)
    longest = int(np.diff(offsets).max()) if n else 0
    cap = 16
    while cap < 2 * (longest + 2):
        cap *= 2
    table = np.zeros(cap, dtype=np.uint64)
    used = np.empty(longest + 2, dtype=np.int64)
    para_table = np.zeros(cap, dtype=np.uint64)  # paragraphs' hashes, apart from the lines'
    para_used = np.empty(longest + 2, dtype=np.int64)
    buf = np.empty(longest + 1, dtype=np.int64)
    stop_tab, stop_mult = _stop_table(stopwords, stop_off)
    lower = np.arange(128, dtype=np.uint8)  # ASCII case folded, as the stop words are stored
    lower[65:91] += 32
    first = np.zeros(0x10000, dtype=np.bool_)
    starts = phrases[phrase_off[:-1]]
    first[starts[starts < 0x10000]] = True
    _line_counts_into(data, offsets, np.ascontiguousarray(cjk, np.bool_), np.ascontiguousarray(phrase_docs, np.bool_),
                      marks, phrases, phrase_off, ellipses, ellipsis_off, short_chars, short_chars_cjk, head_lines, out,
                      table, used, para_table, para_used, buf, stop_tab, stop_mult, lower, first)
    return out


@uncounted(boundscheck=False)
def _line_counts_into(data, offsets, cjk, phrase_docs, marks, phrases, phrase_off, ellipses, ellipsis_off, short_chars,
                      short_chars_cjk, head_lines, out, table, used, para_table, para_used, buf, stop_tab, stop_mult, lower,
                      first) -> None:
    """:func:`line_counts`'s pass into ``out``, with the scratch tables it allocated; compiled
    without reference counting (:mod:`filters.uncounted`)."""
    n = len(offsets) - 1
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
        word_key = np.uint64(0)  # the ASCII word being read: its lower-case bytes packed (the last 8)
        word_len = 0
        dot_run = 0
        b64_run = 0
        stop, symbols, b64_runs, data_lines, max_len = 0, 0, 0, 0, 0
        lines, bullet, ellipsis, terminal, short, boiler, dup, line_chars_sum, dup_chars = 0, 0, 0, 0, 0, 0, 0, 0, 0
        has_nul = 0
        # paragraphs, from the lines as they end (see _close_paragraph): the open one's
        # stripped bytes [para_s, para_e) and characters [para_c0, para_c1). The whitespace a
        # separator's \s* takes is blank lines and a line's leading spaces: neither opens a
        # paragraph nor shows in a stripped one, so it needs no state of its own
        paras, para_chars, dup_paras, dup_para_chars, para_n_used = 0, 0, 0, 0, 0
        para_open = False
        para_s, para_e, para_c0, para_c1 = 0, 0, 0, 0
        i = s0
        # one pass: every line's characters are decoded once; the line is stripped (from both
        # ends, see _strip_ends), hashed and, in a document where a boilerplate phrase occurs
        # at all, searched when it ends. ASCII runs (word, dots, base64) are counted in integer
        # arithmetic, without a branch on the text: a branch at every word boundary, which no
        # predictor gets right, cost more than all the counting (0.31 against 0.12 CPU-s for
        # word ends alone over the benchmark corpus)
        while True:
            line_chars = 0
            data_line = 1
            line_start = i
            while i < e0:
                b0 = np.int64(data[i])
                if b0 == 10:
                    break
                line_chars += 1
                if b0 < 0x80:  # ASCII: every run and class below is ASCII-only
                    mk = np.int64(marks[b0])
                    has_nul |= np.int64(b0 == 0)
                    data_line &= (mk >> B_DATA) & 1
                    is_word = (mk >> B_WORD) & 1
                    stop += (1 - is_word) * _stop_hit(word_key, word_len, stop_tab, stop_mult)
                    word_key = ((word_key << np.uint64(8)) | np.uint64(lower[b0])) & (np.uint64(0) - np.uint64(is_word))
                    word_len = (word_len + 1) * is_word
                    is_dot = np.int64(b0 == 46)
                    symbols += (dot_run // 3) * (1 - is_dot) + np.int64(b0 == 35)
                    dot_run = (dot_run + 1) * is_dot
                    is_b64 = (mk >> B_B64) & 1
                    b64_runs += (1 - is_b64) * np.int64(b64_run >= 120)
                    b64_run = (b64_run + 1) * is_b64
                    i += 1
                else:  # not a data, word, dot or base64 character: it ends those runs
                    cp, sz = _decode(data, i)
                    data_line = 0
                    stop += _stop_hit(word_key, word_len, stop_tab, stop_mult)
                    word_key, word_len = np.uint64(0), 0
                    symbols += dot_run // 3 + np.int64(cp == 0x2026)
                    dot_run = 0
                    b64_runs += np.int64(b64_run >= 120)
                    b64_run = 0
                    i += sz
            # the line ends at i ('\n' or the end): close the runs, count the line
            stop += _stop_hit(word_key, word_len, stop_tab, stop_mult)
            word_key, word_len = np.uint64(0), 0
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
            first_ns, last_end, first_cp, last_cp, lead, trail = _strip_ends(data, marks, line_start, i)
            if first_ns < last_end:
                line_c0 = chars_total - line_chars  # the line's first character, counted in the text
                if not para_open:
                    para_open, para_s, para_c0 = True, first_ns, line_c0 + lead
                para_e, para_c1 = last_end, line_c0 + line_chars - trail
                sc = line_chars - lead - trail
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
            elif para_open and _tabs_and_spaces(data, line_start, i):
                # a line of spaces and tabs only ends the open paragraph: between two newlines
                # it is a separator \n[ \t]*\n\s*; as the text's first line nothing is open
                # yet, as its last nothing follows, so no more needs checking
                para_n_used, paras, para_chars, dup_paras, dup_para_chars = _close_paragraph(
                    data, para_s, para_e, para_c1 - para_c0, para_table, para_used, para_n_used, mask,
                    paras, para_chars, dup_paras, dup_para_chars)
                para_open = False
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
        if para_open:
            para_n_used, paras, para_chars, dup_paras, dup_para_chars = _close_paragraph(
                data, para_s, para_e, para_c1 - para_c0, para_table, para_used, para_n_used, mask,
                paras, para_chars, dup_paras, dup_para_chars)
        for u in range(para_n_used):
            para_table[para_used[u]] = 0
        if has_nul:  # \x00 splits paragraphs too, anywhere in a line: split byte by byte
            paras, para_chars, dup_paras, dup_para_chars = _paragraphs_bytewise(data, marks, s0, e0, para_table,
                                                                                 para_used, mask)
        row[PARAS], row[PARA_CHARS], row[DUP_PARAS], row[DUP_PARA_CHARS] = paras, para_chars, dup_paras, dup_para_chars


STOP_SLOT_BITS = 8  # the stop-word table has 2**bits slots


@numba.njit(cache=True, nogil=True, inline="always")
def _stop_hit(key: np.uint64, n: int, table: np.ndarray, mult: np.uint64) -> int:
    """1 if the word of ``n`` bytes packed in ``key`` is a stop word, else 0: one table
    look-up, no branch (a word longer than 8 bytes has lost its first bytes, and is none)."""
    slot = np.int64((key * mult) >> np.uint64(64 - STOP_SLOT_BITS))
    return np.int64(table[slot] == key) * np.int64(n > 0) * np.int64(n <= 8)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _stop_table(words: np.ndarray, word_off: np.ndarray) -> tuple[np.ndarray, np.uint64]:
    """The stop words (lower-case ASCII word characters, 1 to 8 each) packed as
    :func:`line_counts` packs a word, in a table of ``2**STOP_SLOT_BITS`` slots with each word in
    a slot of its own (the multiplier is searched for one that separates them); 0: empty."""
    mult = np.uint64(0x9E3779B97F4A7C15)
    for _ in range(100000):
        table = np.zeros(1 << STOP_SLOT_BITS, dtype=np.uint64)
        ok = True
        for w in range(len(word_off) - 1):
            key = np.uint64(0)
            for k in range(word_off[w], word_off[w + 1]):
                key = (key << np.uint64(8)) | np.uint64(words[k])
            slot = np.int64((key * mult) >> np.uint64(64 - STOP_SLOT_BITS))
            if table[slot] != 0 and table[slot] != key:
                ok = False
                break
            table[slot] = key
        if ok:
            return table, mult
        mult += np.uint64(2)
    raise ValueError("no multiplier separates the stop words")
