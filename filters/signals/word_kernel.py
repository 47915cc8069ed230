"""Compiled word tokens for :func:`filters.signals.general.text_word_signals`.

One pass over the UTF-8 bytes of many texts (Arrow offsets) yields, per kept token, a
64-bit hash of its bytes, its length in characters and whether it holds a letter, grouped
by text (``doc_offsets``), without a Python string per word. Two ways to cut a text:

* whitespace (Gopher's words): maximal runs of characters that are not Unicode
  ``White_Space`` (what the polars ``[^\\s]+`` of :func:`~filters.signals.general.whitespace_words`
  matches);
* separator: the text is tokens joined by ``SEP`` (``\\x00``; jieba's tokens of a Chinese
  document), and a token is kept only if it holds a letter or a number (the polars
  ``[\\pL\\pN]`` filter the heuristics apply to jieba's tokens).

Character classes come from a table over every code point (:func:`char_flags`), built by
running polars' own ``\\pL``, ``\\pN`` and ``\\s`` over all of them, so the kernel classifies
exactly as the regexes it replaces. Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from filters.utf8_kernel import decode_utf8 as _decode

LETTER, NUMBER, SPACE = 1, 2, 4
SEP = "\x00"
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _scan(data, offsets, sep_mode, flags, fill, doc_offsets, hashes, lengths, alpha) -> int:
    """Count the kept tokens (``fill`` false) or write them (``fill`` true); returns the count."""
    n = len(offsets) - 1
    m = 0
    for d in range(n):
        if fill:
            doc_offsets[d] = m
        i, e = offsets[d], offsets[d + 1]
        sep = sep_mode[d]
        in_tok = False
        h = _FNV_OFFSET
        chars = 0
        fl = 0
        while i <= e:
            if i < e:
                cp, size = _decode(data, i)
                f = flags[cp]
                boundary = (cp == 0) if sep else (f & SPACE) != 0
            else:
                size, f, boundary = 1, 0, True
            if boundary:
                if in_tok and (not sep or (fl & (LETTER | NUMBER)) != 0):
                    if fill:
                        h ^= h >> np.uint64(33)  # fmix64 finish: spread FNV's low-bit bias
                        h *= np.uint64(0xFF51AFD7ED558CCD)
                        h ^= h >> np.uint64(33)
                        hashes[m] = h
                        lengths[m] = chars
                        alpha[m] = (fl & LETTER) != 0
                    m += 1
                in_tok = False
                h = _FNV_OFFSET
                chars = 0
                fl = 0
            else:
                in_tok = True
                chars += 1
                fl |= f
                if fill:
                    for k in range(size):
                        h = (h ^ np.uint64(data[i + k])) * _FNV_PRIME
            i += size
    if fill:
        doc_offsets[n] = m
    return m


@numba.njit(cache=True, nogil=True, boundscheck=False)
def doc_sums(doc_offsets: np.ndarray, lengths: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per text: the characters of its tokens and how many of them hold a letter."""
    n = len(doc_offsets) - 1
    chars = np.zeros(n, dtype=np.int64)
    letters = np.zeros(n, dtype=np.int64)
    for d in range(n):
        for t in range(doc_offsets[d], doc_offsets[d + 1]):
            chars[d] += lengths[t]
            letters[d] += alpha[t]
    return chars, letters


@numba.njit(cache=True, nogil=True)
def word_tokens(data: np.ndarray, offsets: np.ndarray, sep_mode: np.ndarray, flags: np.ndarray):
    """``(doc_offsets, hashes, lengths, alpha)`` of the kept tokens of every text: the tokens
    of text ``d`` are ``doc_offsets[d]:doc_offsets[d + 1]``; ``sep_mode[d]`` picks how text
    ``d`` is cut (see the module docstring)."""
    n = len(offsets) - 1
    doc_offsets = np.zeros(n + 1, dtype=np.int64)
    empty_h = np.zeros(0, dtype=np.uint64)
    empty_i = np.zeros(0, dtype=np.int64)
    empty_b = np.zeros(0, dtype=np.bool_)
    m = _scan(data, offsets, sep_mode, flags, False, doc_offsets, empty_h, empty_i, empty_b)
    hashes = np.empty(m, dtype=np.uint64)
    lengths = np.empty(m, dtype=np.int64)
    alpha = np.empty(m, dtype=np.bool_)
    _scan(data, offsets, sep_mode, flags, True, doc_offsets, hashes, lengths, alpha)
    return doc_offsets, hashes, lengths, alpha
