"""Compiled pre-checks of the ``normalize`` stage: one pass over a batch's UTF-8 bytes.

Each step of ``normalize`` rewrites only the rows a cheap test flags; those tests were one
RE2 pass each over the whole batch (four of them, plus the ASCII and fold-candidate
scans). This kernel answers all of them in one pass, per row a bit set of:

* ``MOJIBAKE``: ``filters.normalize.mojibake.MOJIBAKE_PATTERN`` matches (a character in
  U+00C2..U+00F4 followed by one in U+0080..U+00BF or a cp1252 sign, ``Â``/``Ã`` followed
  by a space, or a C1 control);
* ``CONTROL``: a character of ``unicode_text._NEEDS_CONTROL_FIX``;
* ``WHITESPACE``: :func:`filters.normalize.unicode_text.normalize_whitespace`'s test
  matches (an exotic space; a space, tab or U+3000 before a newline or at the end; a run
  of ``newline_run`` newlines; a first line of only spaces/tabs/U+3000; a final newline);
* ``CODE_MARKS``: ``_CODE_MARKERS`` matches (a backtick or ``~~~``);
* ``NON_ASCII``: a byte >= 0x80 (``string_is_ascii`` false);
* ``FOLD``: a character of ``unicode_text.FOLD_TABLE`` (all of them outside ASCII).

The character sets come in as one table over the Basic Multilingual Plane (every listed
character is in it); tests compare every bit with the regexes it replaces. Compiled on
first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from filters.utf8_kernel import decode_utf8

MOJIBAKE, CONTROL, WHITESPACE, CODE_MARKS, NON_ASCII, FOLD = 1, 2, 4, 8, 16, 32

# bits of the per-character table
T_LEAD, T_FOLLOW, T_CONTROL, T_EXOTIC, T_FOLD, T_TRAIL = 1, 2, 4, 8, 16, 32
"""T_LEAD: U+00C2..U+00F4; T_FOLLOW: U+0080..U+00BF and the cp1252 signs; T_CONTROL: the
control characters; T_EXOTIC: the exotic spaces; T_FOLD: fold candidates; T_TRAIL: space,
tab, U+3000 (what may not end a line)."""


@numba.njit(cache=True, nogil=True, boundscheck=False)
def scan_flags(data: np.ndarray, offsets: np.ndarray, table: np.ndarray, newline_run: int) -> np.ndarray:
    """The bit set of every row (see the module docstring)."""
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.uint8)
    # ASCII bytes that only reset runs (none of the checks below can fire on them or on
    # the byte after them): skipped in a tight loop, the state set once after the run
    plain = np.zeros(256, dtype=np.bool_)
    for b in range(32, 127):
        plain[b] = b != 96 and b != 126 and (table[b] & T_CONTROL) == 0
    plain[9] = (table[9] & T_CONTROL) == 0
    for d in range(n):
        i, e = offsets[d], offsets[d + 1]
        f = 0
        prev_t = 0  # table bits of the previous character
        prev_cp = -1
        nl_run = 0
        tilde_run = 0
        at_start = True  # only spaces, tabs and U+3000 so far
        while i < e:
            if not at_start and (prev_t & T_LEAD) == 0 and plain[data[i]]:
                j = i + 1
                while j < e and plain[data[j]]:
                    j += 1
                prev_cp = np.int64(data[j - 1])
                prev_t = table[prev_cp]
                nl_run = 0
                tilde_run = 0
                i = j
                continue
            b0 = np.int64(data[i])
            if b0 < 0x80:
                cp = b0
                i += 1
            else:
                f |= NON_ASCII
                if b0 < 0xE0:
                    cp = ((b0 & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F)
                    i += 2
                elif b0 < 0xF0:
                    cp = ((b0 & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6) | (np.int64(data[i + 2]) & 0x3F)
                    i += 3
                else:
                    cp = 0x10000  # a supplementary character: in none of the sets
                    i += 4
            t = table[cp] if cp < 0x10000 else 0
            if (t & T_CONTROL) != 0:
                f |= CONTROL
            if (t & T_EXOTIC) != 0:
                f |= WHITESPACE
            if (t & T_FOLD) != 0:
                f |= FOLD
            if 0x80 <= cp <= 0x9F:
                f |= MOJIBAKE
            elif (prev_t & T_LEAD) != 0 and ((t & T_FOLLOW) != 0 or (cp == 32 and (prev_cp == 0xC2 or prev_cp == 0xC3))):
                f |= MOJIBAKE
            if cp == 10:
                nl_run += 1
                if nl_run >= newline_run or (prev_t & T_TRAIL) != 0 or at_start:
                    f |= WHITESPACE
                at_start = False
            else:
                nl_run = 0
                if (t & T_TRAIL) == 0:
                    at_start = False
            if cp == 96:
                f |= CODE_MARKS
            if cp == 126:
                tilde_run += 1
                if tilde_run >= 3:
                    f |= CODE_MARKS
            else:
                tilde_run = 0
            prev_t = t
            prev_cp = cp
        if prev_cp == 10 or (prev_t & T_TRAIL) != 0:
            f |= WHITESPACE
        out[d] = f
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def lookup_counts(data: np.ndarray, offsets: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """Per row, the characters ``c`` (outside ASCII) with ``lookup[ord(c)]`` true, from the
    valid UTF-8 bytes ``data`` cut by ``offsets``: what
    :func:`filters.normalize.unicode_text.code_point_counts` returns (~6x its numpy passes)."""
    n = len(offsets) - 1
    counts = np.zeros(n, np.int64)
    for d in range(n):
        i = offsets[d]
        end = offsets[d + 1]
        c = 0
        while i < end:
            if data[i] < 0x80:
                i += 1
                continue
            cp, size = decode_utf8(data, i)
            i += size
            if lookup[cp]:
                c += 1
        counts[d] = c
    return counts
