"""Compiled tokenization of a joined batch for :func:`filters.classify.tokens.tokenize_many`.

The rules are the NumPy tokenizer's (``tests/filters/classify/tokens_reference.py`` keeps
it as the reference; a test compares the two on the dev sets and on random text), done in
one pass over the batch's UTF-16 code units instead of a dozen whole-array NumPy
temporaries and an ``np.insert``: each unit is lowercased and classed by the tables of
:mod:`filters.classify.tokens`; a run of ``\\n \\v \\f \\r`` units becomes spaces, its
first ``\\n`` (if any) ``N`` and a space or tab right after such a run ``I``; a backslash
before ``a``-``z`` takes the TeX class (one token with the letters after it); a space goes
before each unit whose (previous class, class) pair asks for one; a run of five or more
digits is written ``NUM``.

Compiled on first use and cached on disk (``cache=True``), like the other kernels.
"""

from __future__ import annotations

import numba
import numpy as np

from filters.utf8_kernel import decode_utf8


@numba.njit(cache=True, nogil=True, boundscheck=False)
def tokenize_units(raw: np.ndarray, lower: np.ndarray, classes: np.ndarray, space_between: np.ndarray,
                   symbol: int, tex: int, digit: int) -> np.ndarray:  # pragma: no cover - compiled
    """The tokenized code units of ``raw`` (UTF-16 code units of the joined batch).

    ``lower`` and ``classes`` are the tables of :mod:`filters.classify.tokens` (``classes``
    indexed by the lowercased unit); ``space_between`` is the flattened (9 x 9) table of
    :func:`filters.classify.tokens._space_table`; ``symbol``, ``tex`` and ``digit`` are class
    numbers; class 0 (space) is one after which no space ever goes. One pass: a run of line
    breaks and a run of digits are read ahead when they start."""
    n = len(raw)
    out = np.empty(2 * n, dtype=np.uint16)  # at most a space before every unit
    k = 0
    prev = 0  # class of the previous unit (at the start: SPACE, after which no space goes)
    i = 0
    while i < n:
        u = lower[raw[i]]
        c = np.int64(classes[u])
        if 0x0A <= u <= 0x0D:  # a run of line breaks: spaces, its first \n -> N, then a space/tab -> I
            j = i
            first_nl = -1
            while j < n:
                v = lower[raw[j]]
                if v < 0x0A or v > 0x0D:
                    break
                if first_nl < 0 and v == 0x0A:
                    first_nl = j
                j += 1
            for m in range(i, j):
                if m == first_nl:
                    cm = np.int64(symbol)
                    um = 0x4E  # N
                else:
                    cm = np.int64(classes[lower[raw[m]]])
                    um = 0x20
                if space_between[prev * 9 + cm]:
                    out[k] = 0x20
                    k += 1
                out[k] = um
                k += 1
                prev = cm
            i = j
            if first_nl >= 0 and j < n and lower[raw[j]] == 0x20:
                cm = np.int64(symbol)
                if space_between[prev * 9 + cm]:
                    out[k] = 0x20
                    k += 1
                out[k] = 0x49  # I
                k += 1
                prev = cm
                i = j + 1
            continue
        if u == 0x5C and i + 1 < n:  # a TeX control word: backslash + a-z
            v = lower[raw[i + 1]]
            if 0x61 <= v <= 0x7A:
                c = np.int64(tex)
        out[k] = 0x20  # kept only where a space goes (branch-free: the common path)
        k += np.int64(space_between[prev * 9 + c])
        prev = c
        if c == digit:
            j = i + 1
            while j < n and classes[lower[raw[j]]] == digit:
                j += 1
            if j - i >= 5:  # NUM for a long digit run
                out[k] = 0x4E
                out[k + 1] = 0x55
                out[k + 2] = 0x4D
                k += 3
            else:  # a short run: no spaces inside it
                for m in range(i, j):
                    out[k] = lower[raw[m]]
                    k += 1
            i = j
            continue
        out[k] = u
        k += 1
        i += 1
    return out[:k]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _encode_units(units: np.ndarray, separator: int, buf: np.ndarray, k: int, ends: np.ndarray,
                  lines: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """Write ``units`` into ``buf`` from byte ``k`` as UTF-8 (a surrogate pair: one 4-byte
    character, a lone surrogate: U+FFFD); a ``separator`` unit ends a line: ``\\n``, and
    ``ends[lines]`` records where. -> (next byte, lines). One call per batch or piece (a
    call per unit made the loop 14x slower)."""
    n = len(units)
    i = 0
    while i < n:
        u = np.int64(units[i])
        i += 1
        if u < 0x80:
            buf[k] = u
            k += 1
        elif u < 0x800:
            buf[k] = 0xC0 | (u >> 6)
            buf[k + 1] = 0x80 | (u & 0x3F)
            k += 2
        elif u == separator:
            buf[k] = 0x0A
            k += 1
            ends[lines] = k
            lines += 1
        else:
            if 0xD800 <= u < 0xDC00 and i < n and 0xDC00 <= units[i] < 0xE000:
                cp = 0x10000 + ((u - 0xD800) << 10) + (np.int64(units[i]) - 0xDC00)
                i += 1
                buf[k] = 0xF0 | (cp >> 18)
                buf[k + 1] = 0x80 | ((cp >> 12) & 0x3F)
                buf[k + 2] = 0x80 | ((cp >> 6) & 0x3F)
                buf[k + 3] = 0x80 | (cp & 0x3F)
                k += 4
                continue
            if 0xD800 <= u < 0xE000:  # a lone surrogate
                u = 0xFFFD
            buf[k] = 0xE0 | (u >> 12)
            buf[k + 1] = 0x80 | ((u >> 6) & 0x3F)
            buf[k + 2] = 0x80 | (u & 0x3F)
            k += 3
    return k, lines


@numba.njit(cache=True, nogil=True, boundscheck=False)
def utf8_lines(units: np.ndarray, separator: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The tokenized units as fastText reads them: UTF-8, each piece (the units between two
    ``separator`` units) followed by ``\\n``; and ``ends``, where each line ends (``ends[i]``
    is one past its ``\\n``; line ``i`` starts at ``ends[i - 1]`` or 0).

    Encodes as ``units.tobytes().decode("utf-16-le", "replace")`` followed by
    ``.encode("utf-8")`` would: a surrogate pair is one 4-byte character, a lone surrogate
    becomes U+FFFD."""
    n = len(units)
    buf = np.empty(3 * n + 1, dtype=np.uint8)  # a unit is at most 3 bytes (a pair: 4 for 2); a \n per separator
    ends = np.empty(n + 1, dtype=np.int64)
    k, lines = _encode_units(units, separator, buf, 0, ends, 0)
    buf[k] = 0x0A
    k += 1
    ends[lines] = k
    lines += 1
    return buf[:k], ends[:lines]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def tokenize_pieces(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, lower: np.ndarray, classes: np.ndarray,
                    space_between: np.ndarray, symbol: int, tex: int, digit: int,
                    separator: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """``utf8_lines(tokenize_units(<the pieces' UTF-16 units joined by separator>))``, one
    piece at a time: each piece's units (``separator`` characters left out) are tokenized by
    :func:`tokenize_units` itself and written as a UTF-8 line, so the three whole-batch
    arrays of the joined path never exist (pieces are independent: the tokenizer's state
    starts afresh after a separator as at the start)."""
    longest = 0
    total = 0
    for p in range(len(starts)):
        longest = max(longest, ends[p] - starts[p])
        total += ends[p] - starts[p]
    units = np.empty(longest + 1, np.uint16)  # a piece has no more UTF-16 units than bytes
    buf = np.empty(2 * total + len(starts) + 16, np.uint8)
    line_ends = np.empty(len(starts), np.int64)
    k = 0
    for p in range(len(starts)):
        m = 0
        b = starts[p]
        while b < ends[p]:
            c, w = decode_utf8(data, b)
            b += w
            if c == separator:
                continue
            if c >= 0x10000:
                c -= 0x10000
                units[m] = 0xD800 + (c >> 10)
                units[m + 1] = 0xDC00 + (c & 0x3FF)
                m += 2
            else:
                units[m] = c
                m += 1
        tokens = tokenize_units(units[:m], lower, classes, space_between, symbol, tex, digit)
        n = len(tokens)
        if k + 3 * n + 1 > len(buf):  # a unit is at most 3 bytes, a pair 4 for 2
            grown = np.empty(2 * len(buf) + 3 * n + 1, np.uint8)
            grown[:k] = buf[:k]
            buf = grown
        k, _ = _encode_units(tokens, -1, buf, k, line_ends, 0)  # no separator left in a piece
        buf[k] = 0x0A
        k += 1
        line_ends[p] = k
    return buf[:k], line_ends
