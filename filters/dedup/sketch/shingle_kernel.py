"""Compiled (numba) normalization and shingle hashing over a UTF-8 byte buffer.

Same semantics as the polars/numpy reference in ``filters.dedup.sketch.shingles`` (tests compare
them on real text), in two passes over the bytes instead of five regex passes and
a dozen numpy passes:

* :func:`normalize_buffer`: decode UTF-8, fold each code point through a character map
  (lower case and Traditional -> Simplified, one character to one), look it up in a class table
  (separator / word / digit / CJK / punctuation / underscore), and write the
  normalized bytes: tokens separated by one space, CJK characters (and in code mode
  punctuation) as one-character tokens, digits optionally as ``0``;
* :func:`shingle_buffer`: tokens -> runs -> n-gram spans -> ``span_hash64`` of each
  span, written straight into the output array.

The character map holds the lower case too (polars' own mapping, character by character,
see ``shingles.lower_fold``); the two characters whose lower case depends on context or is
two characters long (capital sigma, U+0130) flag their document for polars to lower-case.
Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from filters.utf8_kernel import decode_utf8 as _decode

SEP, WORD, DIGIT, CJK, PUNCT, UNDERSCORE = 0, 1, 2, 3, 4, 5


@numba.njit(cache=True, nogil=True, inline="always")
def _put_utf8(out, o, cp):  # pragma: no cover - compiled
    """Write ``cp`` as UTF-8 at ``out[o]``; the position after it."""
    if cp < 0x80:
        out[o] = cp
        return o + 1
    if cp < 0x800:
        out[o] = 0xC0 | (cp >> 6)
        out[o + 1] = 0x80 | (cp & 0x3F)
        return o + 2
    if cp < 0x10000:
        out[o] = 0xE0 | (cp >> 12)
        out[o + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[o + 2] = 0x80 | (cp & 0x3F)
        return o + 3
    out[o] = 0xF0 | (cp >> 18)
    out[o + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[o + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[o + 3] = 0x80 | (cp & 0x3F)
    return o + 4


A_SEP, A_WORD, A_ALONE, A_OTHER = 0, 1, 2, 3  # what normalize_buffer does with an ASCII byte


@numba.njit(cache=True, nogil=True, inline="always")
def _token_class(c, code_mode):  # pragma: no cover - compiled
    """A character's class as tokens see it: an underscore is part of a word in code and a
    separator elsewhere; punctuation is a token of its own in code and a separator elsewhere."""
    if c == UNDERSCORE:
        return WORD if code_mode else SEP
    if c == PUNCT and not code_mode:
        return SEP
    return c


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _ascii_actions(classes, code_mode, digits_to_zero, fold):  # pragma: no cover - compiled
    """Per ASCII byte: its action (a separator, part of a word, a token alone, or
    ``A_OTHER``: the general path, for a byte whose fold leaves ASCII or flags its text) and
    the byte it is written as (folded; ``0`` for a digit with ``digits_to_zero``)."""
    kind = np.full(128, A_OTHER, dtype=np.uint8)
    byte = np.zeros(128, dtype=np.uint8)
    for b in range(128):
        cp = b
        if b < fold.shape[0]:
            cp = fold[b]
        if cp < 0 or cp >= 0x80:
            continue
        c = _token_class(classes[cp], code_mode)
        if c == SEP:
            kind[b] = A_SEP
        elif c == WORD or c == DIGIT:
            kind[b] = A_WORD
        else:
            kind[b] = A_ALONE
        byte[b] = 48 if c == DIGIT and digits_to_zero else cp
    return kind, byte


@numba.njit(cache=True, nogil=True, boundscheck=False)
def normalize_buffer(data, starts, ends, classes, code_mode, digits_to_zero, fold):  # pragma: no cover - compiled
    """The texts ``data[starts[d]:ends[d]]`` (any rows of an Arrow array, in place: a
    selection needs no copy of the text), normalized one after the other into one buffer.
    ``fold[cp]`` is the code point ``cp`` becomes (itself where it stays; code points
    past the end of ``fold`` stay); a negative ``fold[cp]`` flags the document in ``redo``
    (its character stays, the caller normalizes that document again). Output room: a
    character may fold to one a byte longer (2 -> 3, 3 -> 4 bytes) and take a separator,
    5 bytes for 3, within the 2x allotted; a 1-byte character folds to a 1-byte one."""
    n_docs = starts.shape[0]
    n_fold = fold.shape[0]
    total = 0
    for d in range(n_docs):
        total += ends[d] - starts[d]
    out = np.empty(2 * total + 1, dtype=np.uint8)
    out_off = np.zeros(n_docs + 1, dtype=np.int64)
    redo = np.zeros(n_docs, dtype=np.bool_)
    kind, byte = _ascii_actions(classes, code_mode, digits_to_zero, fold)
    o = 0
    for d in range(n_docs):
        i = starts[d]
        end = ends[d]
        doc_start = o
        in_word = False  # the last written byte belongs to a multi-char word token
        while i < end:
            b = data[i]
            k = kind[b] if b < 0x80 else A_OTHER
            if k != A_OTHER:
                # ASCII without a branch on the text (a mispredicted branch per word
                # boundary cost more than the rest): the separator byte and the character
                # are both written, and the position moves past the ones that count
                token = k != A_SEP
                out[o] = 32
                o += token and o > doc_start and (k == A_ALONE or not in_word)
                out[o] = byte[b]
                o += token
                in_word = k == A_WORD
                i += 1
                continue
            cp, ln = _decode(data, i)
            folded = False
            if cp < n_fold:
                f = fold[cp]
                if f < 0:
                    redo[d] = True
                elif f != cp:
                    cp = f
                    folded = True
            c = _token_class(classes[cp], code_mode)
            if c == SEP:
                in_word = False
            elif c == WORD or c == DIGIT:
                if not in_word and o > doc_start:
                    out[o] = 32
                    o += 1
                if c == DIGIT and digits_to_zero:
                    out[o] = 48
                    o += 1
                elif folded:
                    o = _put_utf8(out, o, cp)
                else:
                    for k in range(ln):
                        out[o] = data[i + k]
                        o += 1
                in_word = True
            else:  # CJK or (code mode) punctuation: a one-character token
                if o > doc_start:
                    out[o] = 32
                    o += 1
                if folded:
                    o = _put_utf8(out, o, cp)
                else:
                    for k in range(ln):
                        out[o] = data[i + k]
                        o += 1
                in_word = False
            i += ln
        out_off[d + 1] = o
    return out[:o], out_off, redo


@numba.njit(cache=True, nogil=True, inline="always")
def fmix64(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """MurmurHash3's 64-bit finalizer (``shingles.fmix64``, the numpy form, is the same)."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _prefix_hash(prefix, inv_pow, s, e):  # pragma: no cover - compiled
    return fmix64((prefix[e] - prefix[s]) * inv_pow[s])


@numba.njit(cache=True, nogil=True, boundscheck=False)
def shingle_buffer(norm, offsets, classes, n_cjk, n_word, prime):  # pragma: no cover - compiled
    n_docs = offsets.shape[0] - 1
    hashes = np.empty(norm.shape[0] + n_docs, dtype=np.uint64)
    counts = np.zeros(n_docs, dtype=np.int64)
    longest = 0
    for d in range(n_docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    tok_s = np.empty(longest // 2 + 2, dtype=np.int64)  # a token takes a byte, and a space another
    tok_e = np.empty(longest // 2 + 2, dtype=np.int64)
    tok_c = np.empty(longest // 2 + 2, dtype=np.bool_)
    # span hashes from prefix sums: H[j] = sum of (b + 1) * p^k for k < j (k counted from the
    # document's start), so a span's hash, sum (b + 1) * p^(k - s) over [s, e), is
    # (H[e] - H[s]) * p^-s mod 2^64 (p is odd, so invertible): O(1) per shingle instead of
    # re-hashing every byte of every overlapping n-gram. Same values as
    # shingles.span_hash64 (the tests compare them).
    pinv = prime
    for _ in range(6):  # Newton: each step doubles the correct low bits (3 -> 192 >= 64)
        pinv *= np.uint64(2) - prime * pinv
    prefix = np.empty(longest + 1, dtype=np.uint64)
    inv_pow = np.empty(longest + 1, dtype=np.uint64)
    m = 0
    for d in range(n_docs):
        m0 = m
        base = offsets[d]
        end = offsets[d + 1]
        h = np.uint64(0)
        pw = np.uint64(1)
        iw = np.uint64(1)
        # one pass: the prefix sums and the tokens' starts and ends (a token starts at a byte
        # that is not a space after one that is, or the start; it ends at a space after a byte
        # that is not). Each start and end is written at every byte and the count moves past
        # it only where it is one: no branch per token boundary, mispredicted at most of them
        n_starts = 0
        n_ends = 0
        after_space = 1
        for j in range(base, end):
            b = norm[j]
            prefix[j - base] = h
            inv_pow[j - base] = iw
            h += (np.uint64(b) + np.uint64(1)) * pw
            pw *= prime
            iw *= pinv
            space = np.int64(b == 32)
            tok_s[n_starts] = j
            n_starts += (1 - space) & after_space
            tok_e[n_ends] = j
            n_ends += space & (1 - after_space)
            after_space = space
        prefix[end - base] = h
        inv_pow[end - base] = iw
        tok_e[n_ends] = end  # the last token ends at the end
        nt = n_starts
        for t in range(nt):  # a CJK token: one character of the CJK class
            cp, ln = _decode(norm, tok_s[t])
            tok_c[t] = ln == tok_e[t] - tok_s[t] and classes[cp] == CJK
        # runs of same-kind tokens -> n-gram spans
        t = 0
        while t < nt:
            r = t
            while r < nt and tok_c[r] == tok_c[t]:
                r += 1
            n = n_cjk if tok_c[t] else n_word
            if r - t <= n:
                hashes[m] = _prefix_hash(prefix, inv_pow, tok_s[t] - base, tok_e[r - 1] - base)
                m += 1
            else:
                for k in range(t, r - n + 1):
                    hashes[m] = _prefix_hash(prefix, inv_pow, tok_s[k] - base, tok_e[k + n - 1] - base)
                    m += 1
            t = r
        counts[d] = m - m0
    return hashes[:m], counts
