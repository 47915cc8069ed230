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
from filters.utf8_kernel import hash_bytes

LETTER, NUMBER, SPACE = 1, 2, 4
SEP = "\x00"


@numba.njit(cache=True, nogil=True)
def _grown(a: np.ndarray, size: int) -> np.ndarray:
    b = np.empty(size, dtype=a.dtype)
    b[: len(a)] = a
    return b


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


@numba.njit(cache=True, nogil=True, boundscheck=False)
def word_tokens(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, sep_mode: np.ndarray, flags: np.ndarray):
    """``(doc_offsets, hashes, lengths, alpha)`` of the kept tokens of every text (text ``d``
    is ``data[starts[d]:ends[d]]``: Arrow offsets, or any rows of them read in place): the
    tokens of text ``d`` are ``doc_offsets[d]:doc_offsets[d + 1]``; ``sep_mode[d]`` picks how
    text ``d`` is cut (see the module docstring). One pass: the outputs grow, when needed, before
    a text by the most tokens it can hold (a counting pass first cost a second decode of every
    byte; growing inside the token loop made numba keep the arrays' reference counts per
    token, 10x slower), and a token's hash is taken over its bytes when it ends
    (:func:`filters.utf8_kernel.hash_bytes`)."""
    n = len(starts)
    doc_offsets = np.zeros(n + 1, dtype=np.int64)
    cap = max(1024, len(data) // 4)
    hashes = np.empty(cap, dtype=np.uint64)
    lengths = np.empty(cap, dtype=np.int64)
    alpha = np.empty(cap, dtype=np.bool_)
    m = 0
    for d in range(n):
        doc_offsets[d] = m
        i, e = starts[d], ends[d]
        if m + (e - i) // 2 + 1 > cap:  # a token takes a byte and a boundary another: room for this text's
            cap = max(2 * cap, m + (e - i) // 2 + 1)
            hashes, lengths, alpha = _grown(hashes, cap), _grown(lengths, cap), _grown(alpha, cap)
        sep = sep_mode[d]
        start = -1
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
                if start >= 0 and (not sep or (fl & (LETTER | NUMBER)) != 0):
                    hashes[m] = hash_bytes(data, start, i)
                    lengths[m] = chars
                    alpha[m] = (fl & LETTER) != 0
                    m += 1
                start = -1
                chars = 0
                fl = 0
            else:
                if start < 0:
                    start = i
                chars += 1
                fl |= f
            i += size
    doc_offsets[n] = m
    return doc_offsets, hashes[:m], lengths[:m], alpha[:m]
