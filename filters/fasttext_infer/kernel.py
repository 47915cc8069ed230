"""Compiled fastText prediction: the top label and its probability per line.

This computes what fastText 0.9's ``predict(k=1)`` computes, step for step, so the answers
are the library's own (``tests/filters/fasttext_infer`` checks them against it on real
text). Per line: split on fastText's separators (space, tab, CR, LF, VT, FF, NUL; the line
ends with ``</s>``), map each token to its vocabulary row if it has one, add the rows of its
character n-grams (FNV-1a over the bytes of ``<token>``, sign-extended like fastText's
``char``; modulo the bucket count, through the pruned index of ``.ftz`` models) and of the
word n-grams (fastText's 64-bit rolling hash), average them in float32 in that order, then
walk the hierarchical-softmax tree or take the softmax, with fastText's float/double
roundings. Why not the library: its per-n-gram ``std::string`` and ``unordered_map`` work
is ~2/3 of its time on short lines; here an n-gram's hash extends the previous one, a bucket
pruning dropped (most of them) is one bit test and a kept one a probe into a table in L2.
lid.176 on the benchmark corpus's 251,622 segment samples: 0.75 CPU-s against fastText's 5.5.
Each line's rows are found first and summed after (:func:`_sum_rows`), so the row loads do not
wait on the hashing: on word-bigram models (the classifiers), where fastText's own cost is
mostly those loads, this makes the kernel 1.7-1.8x faster than the library (the math and code
models on the benchmark corpus's 115,717 classify lines: 0.97 and 0.75 CPU-s against 1.8 and 1.3).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from filters.uncounted import uncounted

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
WORD_NGRAM_PRIME = np.uint64(116049371)
EOS = np.frombuffer(b"</s>", dtype=np.uint8)
LABEL = np.frombuffer(b"__label__", dtype=np.uint8)


@numba.njit(cache=True, nogil=True, inline="always")
def _fnv_step(h: int, byte: int) -> int:
    """One FNV-1a step on a byte fastText reads as a signed ``char`` (so >= 0x80 sign-extends)."""
    b = byte | 0xFFFFFF00 if byte >= 0x80 else byte
    return ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF


@numba.njit(cache=True, nogil=True, inline="always")
def _is_separator(b: int) -> bool:
    return b == 32 or b == 10 or b == 13 or b == 9 or b == 11 or b == 12 or b == 0


@numba.njit(cache=True, nogil=True, inline="always")
def _same_bytes(a: np.ndarray, a_start: int, a_end: int, b: np.ndarray, b_start: int) -> bool:
    for k in range(a_end - a_start):
        if a[a_start + k] != b[b_start + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True, inline="always")
def _lookup(buf: np.ndarray, s: int, e: int, h: int, table: np.ndarray, word_data: np.ndarray, word_offsets: np.ndarray) -> int:
    """Vocabulary id of ``buf[s:e]`` (its FNV hash ``h``), or -1: open addressing on the hash."""
    mask = len(table) - 1
    slot = h & mask
    while True:
        wid = table[slot]
        if wid < 0:
            return -1
        ws, we = word_offsets[wid], word_offsets[wid + 1]
        if we - ws == e - s and _same_bytes(buf, s, e, word_data, ws):
            return wid
        slot = (slot + 1) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _mod(h: int, d: int, magic: np.uint64) -> int:
    """``h % d`` for 0 <= h < 2**32 and 0 < d < 2**32 without a division (the hottest
    instruction otherwise), exact for every such ``h``: Lemire, Kaser and Kurz's "faster
    remainder by direct computation" (2019), ``((magic * h mod 2**64) * d) >> 64`` with
    ``magic`` = :func:`_mod_magic` ``(d)``, its 128-bit product's high half taken in 32-bit
    halves. A float quotient with two corrections, before: 0.09 CPU-s more over lid.176's
    n-grams of the benchmark corpus."""
    low = magic * np.uint64(h)
    return np.int64((((low >> np.uint64(32)) * np.uint64(d))
                     + (((low & np.uint64(0xFFFFFFFF)) * np.uint64(d)) >> np.uint64(32))) >> np.uint64(32))


@numba.njit(cache=True, nogil=True, inline="always")
def _mod_magic(d: int) -> np.uint64:
    """The multiplier :func:`_mod` takes for the divisor ``d``: ceil(2**64 / d)."""
    return np.uint64(0xFFFFFFFFFFFFFFFF) // np.uint64(d) + np.uint64(1)


@numba.njit(cache=True, nogil=True, inline="always")
def _pruned_row(bucket_id: int, prune_bits: np.ndarray, prune_keys: np.ndarray, prune_rows: np.ndarray) -> int:
    """Row (past the words) of an n-gram bucket, or -1 where pruning dropped it; empty
    arrays mean an unpruned model (every bucket has its row). The bit of the bucket answers
    for most (pruned-away) buckets; a kept one is found in a small open-addressing table
    (~0.5 MB for lid.176's 42,765 buckets, in L2) where a dense bucket-sized array would be
    8 MB of cache misses."""
    if len(prune_keys) == 0:
        return bucket_id
    if not (prune_bits[bucket_id >> 6] >> np.uint64(bucket_id & 63)) & np.uint64(1):
        return -1
    mask = len(prune_keys) - 1
    slot = ((bucket_id * 2654435761) & 0xFFFFFFFF) & mask
    while True:
        key = prune_keys[slot]
        if key == bucket_id:
            return prune_rows[slot]
        if key < 0:
            return -1
        slot = (slot + 1) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _push(ids: np.ndarray, r: int, n_rows: int) -> int:
    """Note input row ``r`` as the line's next row (``ids`` is sized for the longest line)."""
    ids[n_rows] = r
    return n_rows + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _sum_rows(hidden: np.ndarray, rows: np.ndarray, ids: np.ndarray, n_rows: int) -> None:
    """``hidden`` = the rows ``ids[:n_rows]`` added in order, as fastText adds them (each
    coordinate's float32 sum in the same order, so the same bits). Summed after the line's
    rows are all known rather than as each is found: the row loads no longer wait on the
    token hashing and look-ups before them, and run ahead of each other (on the
    classify lines of the benchmark corpus, math model: 2.0 -> 0.97 CPU-s; lid.176's samples
    1.54 -> 1.32)."""
    dim = len(hidden)
    r = ids[0]
    for j in range(dim):
        hidden[j] = rows[r, j]
    for k in range(1, n_rows):
        r = ids[k]
        for j in range(dim):
            hidden[j] += rows[r, j]


@numba.njit(cache=True, nogil=True, inline="always")
def _add_char_ngrams(buf, s, e, word, starts, ids, n_rows, nwords, bucket, minn, maxn, prune_bits, prune_keys,
                     prune_rows):
    """fastText's ``computeSubwords`` over ``<token>``: every n-gram of minn..maxn characters
    (a character: a byte that is not a UTF-8 continuation byte, with the continuation bytes
    after it; a lone ``<`` or ``>`` is not an n-gram), hashed, bucketed, pruned, its row
    noted. ``word`` and ``starts`` are scratch space of at least ``e - s + 3``."""
    length = e - s
    width = length + 2
    word[0] = 60
    for k in range(length):
        word[k + 1] = buf[s + k]
    word[width - 1] = 62
    n_chars = 0
    high = 0  # any byte >= 0x80 (a lone lead byte is a character of its own too)
    for k in range(width):
        high |= word[k]
        if (word[k] & 0xC0) != 0x80:
            starts[n_chars] = k
            n_chars += 1
    starts[n_chars] = width
    magic = _mod_magic(bucket)
    if high < 0x80:
        # all ASCII (most tokens of Latin-script text): a character is one byte, which needs
        # no sign extension, and a row is noted without a branch (written at every n-gram,
        # counted where it was kept): 1.15 -> 1.01 CPU-s for lid.176 on the benchmark corpus
        for first in range(n_chars):
            h = FNV_OFFSET
            for last in range(first, min(n_chars, first + maxn)):
                h = ((h ^ np.int64(word[last])) * FNV_PRIME) & 0xFFFFFFFF
                n = last - first + 1
                if n >= minn and not (n == 1 and (first == 0 or last == n_chars - 1)):
                    row = _pruned_row(_mod(h, bucket, magic), prune_bits, prune_keys, prune_rows)
                    ids[n_rows] = nwords + row  # ids has room for every n-gram of the line
                    n_rows += row >= 0
        return n_rows
    for first in range(n_chars):
        h = FNV_OFFSET
        for last in range(first, min(n_chars, first + maxn)):
            for k in range(starts[last], starts[last + 1]):
                h = _fnv_step(h, np.int64(word[k]))
            n = last - first + 1
            if n >= minn and not (n == 1 and (first == 0 or last == n_chars - 1)):
                row = _pruned_row(_mod(h, bucket, magic), prune_bits, prune_keys, prune_rows)
                if row >= 0:
                    n_rows = _push(ids, nwords + row, n_rows)
    return n_rows


@numba.njit(cache=True, nogil=True, inline="always")
def _line_rows(data, s, e, word, starts, ids, hashes, table, word_data, word_offsets, nwords, bucket, minn, maxn,
               word_ngrams, prune_bits, prune_keys, prune_rows, eos_id, eos_hash):
    """Into ``ids``, the input rows fastText's ``getLine`` gives the line ``data[s:e] +
    "\\n"``, in its order; returns their number. Per token:
    its vocabulary row if it has one, then its character n-grams (not for ``</s>``); a label
    (a vocabulary label, or an unknown token with the label prefix) adds nothing. The line
    ends at its first newline or at the token ``</s>``. (Per-token work stays in this loop:
    a compiled call per token costs as much as the token itself.)"""
    n_rows = 0
    n_hashes = 0
    pos = s
    while True:
        while pos < e and data[pos] != 10 and _is_separator(data[pos]):
            pos += 1
        if pos >= e or data[pos] == 10:
            is_eos = True
            h = eos_hash
            if eos_id >= 0:
                n_rows = _push(ids, eos_id, n_rows)
        else:
            start = pos
            h = FNV_OFFSET
            while pos < e and not _is_separator(data[pos]):
                h = _fnv_step(h, np.int64(data[pos]))
                pos += 1
            is_eos = h == eos_hash and pos - start == len(EOS) and _same_bytes(data, start, pos, EOS, 0)
            wid = _lookup(data, start, pos, h, table, word_data, word_offsets)
            if wid >= nwords or (wid < 0 and pos - start >= len(LABEL) and _same_bytes(data, start, start + len(LABEL), LABEL, 0)):
                h = -1  # a label: no row, no word n-gram
            else:
                if wid >= 0:
                    n_rows = _push(ids, wid, n_rows)
                if maxn > 0 and not is_eos:
                    n_rows = _add_char_ngrams(data, start, pos, word, starts, ids, n_rows, nwords, bucket, minn, maxn,
                                              prune_bits, prune_keys, prune_rows)
        if h >= 0 and word_ngrams > 1:
            hashes[n_hashes] = h  # hashes has room for every token of the line
            n_hashes += 1
        if is_eos:
            break
    # word n-grams: fastText's uint64 rolling hash over the int32 token hashes (sign-extended)
    for i in range(n_hashes):
        h64 = np.uint64(np.int64(np.int32(hashes[i])))
        for j in range(i + 1, min(n_hashes, i + word_ngrams)):
            h64 = h64 * WORD_NGRAM_PRIME + np.uint64(np.int64(np.int32(hashes[j])))
            row = _pruned_row(np.int64(h64 % np.uint64(bucket)), prune_bits, prune_keys, prune_rows)
            if row >= 0:
                n_rows = _push(ids, nwords + row, n_rows)
    return n_rows


@numba.njit(cache=True, nogil=True)
def vocabulary_table(word_data: np.ndarray, word_offsets: np.ndarray) -> np.ndarray:
    """Open-addressing table (power-of-two size, load <= 0.5) of entry ids by the FNV hash
    of their bytes, as :func:`_lookup` probes it."""
    n = len(word_offsets) - 1
    size = 16
    while size < 2 * n:
        size *= 2
    table = np.full(size, -1, np.int32)
    for wid in range(n):
        h = FNV_OFFSET
        for k in range(word_offsets[wid], word_offsets[wid + 1]):
            h = _fnv_step(h, np.int64(word_data[k]))
        slot = h & (size - 1)
        while table[slot] >= 0:
            slot = (slot + 1) & (size - 1)
        table[slot] = wid
    return table


@numba.njit(cache=True, nogil=True)
def prune_table(prune_index: np.ndarray):
    """The pruned n-gram index as :func:`_pruned_row` reads it: a bit per bucket (kept or
    not) and an open-addressing table of the kept buckets' (key, row). Most n-grams of real
    text are pruned away (~89% of lid.176's lookups on web text), so the bitmap (256 KB for
    2M buckets, in L2) answers most lookups alone."""
    bits = np.zeros((len(prune_index) + 63) // 64, np.uint64)
    n = 0
    for b in range(len(prune_index)):
        if prune_index[b] >= 0:
            bits[b >> 6] |= np.uint64(1) << np.uint64(b & 63)
            n += 1
    size = 16
    while size < 2 * n:
        size *= 2
    keys = np.full(size, -1, np.int32)
    rows = np.full(size, -1, np.int32)
    for b in range(len(prune_index)):
        if prune_index[b] >= 0:
            slot = ((b * 2654435761) & 0xFFFFFFFF) & (size - 1)
            while keys[slot] >= 0:
                slot = (slot + 1) & (size - 1)
            keys[slot] = b
            rows[slot] = prune_index[b]
    return bits, keys, rows


@numba.njit(cache=True, nogil=True, inline="always")
def _std_log(x: np.float32) -> np.float32:
    """fastText's ``std_log``: log(x + 1e-5) in double, returned as float."""
    return np.float32(math.log(np.float64(x) + 1e-5))


@numba.njit(cache=True, nogil=True, inline="always")
def _dot(rows: np.ndarray, r: int, hidden: np.ndarray) -> np.float32:
    d = np.float32(0.0)
    for j in range(len(hidden)):
        d += rows[r, j] * hidden[j]
    return d


@numba.njit(cache=True, nogil=True, inline="always")
def _hs_top(hidden, output_rows, left, right, osz, threshold, stack_node, stack_score):
    """Best leaf of fastText's hierarchical-softmax depth-first search (left branch first;
    a later leaf with an equal score wins, as fastText's heap keeps it)."""
    floor = _std_log(threshold)
    top = 0
    stack_node[0] = 2 * osz - 2
    stack_score[0] = np.float32(0.0)
    best_node = -1
    best_score = np.float32(0.0)
    while top >= 0:
        node = stack_node[top]
        score = stack_score[top]
        top -= 1
        if score < floor:
            continue
        if best_node >= 0 and score < best_score:
            continue
        if left[node] == -1 and right[node] == -1:
            best_node = node
            best_score = score
            continue
        f = _dot(output_rows, node - osz, hidden)
        f = np.float32(1.0 / np.float64(np.float32(1.0) + np.float32(math.exp(-f))))
        top += 1
        stack_node[top] = right[node]
        stack_score[top] = score + _std_log(f)
        top += 1
        stack_node[top] = left[node]
        stack_score[top] = score + _std_log(np.float32(1.0 - np.float64(f)))
    return best_node, best_score


@numba.njit(cache=True, nogil=True, inline="always")
def _softmax_top(hidden, output_rows, threshold, out):
    osz = len(out)
    for i in range(osz):
        out[i] = _dot(output_rows, i, hidden)
    mx = out[0]
    for i in range(osz):
        mx = max(out[i], mx)
    z = np.float32(0.0)
    for i in range(osz):
        out[i] = np.float32(math.exp(np.float64(out[i] - mx)))  # fastText's exp(float) is C's double exp
        z += out[i]
    for i in range(osz):
        out[i] = out[i] / z
    best = -1
    best_score = np.float32(0.0)
    for i in range(osz):
        if out[i] < threshold:
            continue
        s = _std_log(out[i])
        if best >= 0 and s < best_score:
            continue
        best = i
        best_score = s
    return best, best_score


def predict_top(data, line_starts, line_ends, table, word_data, word_offsets, nwords, bucket, minn, maxn, word_ngrams,
                prune_bits, prune_keys, prune_rows, input_rows, output_rows, hierarchical, left, right, threshold,
                cache_keys, cache_labels, cache_probs, cache_fill):
    """(label index or -1, probability) per line ``data[line_starts[i]:line_ends[i]]``; -1 where
    fastText reads no row (it gives no label then).

    ``cache_*`` (empty: no cache) remember answers across calls by the line's 64-bit FNV-1a
    hash: an open-addressing table, never more than half full (``cache_fill[0]`` entries, at
    most ``cache_fill[1]``), cleared when it would pass that. Repeated lines (boilerplate,
    near-duplicate pages) are then answered without predicting; a 64-bit collision between
    two different lines is the one way to get another line's answer (~1e-9 for a full cache)."""
    line_starts = np.ascontiguousarray(line_starts, np.int64)
    line_ends = np.ascontiguousarray(line_ends, np.int64)
    n = len(line_starts)
    labels = np.full(n, -1, np.int32)
    probs = np.zeros(n, np.float32)
    hidden = np.empty(input_rows.shape[1], np.float32)
    osz = output_rows.shape[0] if not hierarchical else (len(left) + 1) // 2
    out = np.empty(osz, np.float32)
    longest = int((line_ends - line_starts).max()) if n else 0
    word = np.empty(longest + 3, np.uint8)
    starts = np.empty(longest + 3, np.int64)
    hashes = np.empty(longest + 3, np.int64)  # a token per byte at most, and </s>
    # rows of one line, at most: a token per 2 bytes and </s> (T <= L/2 + 2), each with its
    # word row and word n-grams; character n-grams of <token>: at most (L + 2T) * (maxn - minn + 1)
    per_char = maxn - minn + 1 if maxn > 0 else 0
    ids = np.empty((longest + 5) * (word_ngrams + 1) + (2 * longest + 5) * per_char + 16, np.int64)
    # the search keeps at most two nodes per tree level on its stack
    stack_node = np.empty(2 * len(left) + 2, np.int64)
    stack_score = np.empty(2 * len(left) + 2, np.float32)
    _predict_lines(data, line_starts, line_ends, table, word_data, word_offsets, nwords, bucket, minn, maxn, word_ngrams,
                   prune_bits, prune_keys, prune_rows, input_rows, output_rows, hierarchical, left, right, threshold,
                   cache_keys, cache_labels, cache_probs, cache_fill, labels, probs, hidden, out, word, starts, hashes, ids,
                   stack_node, stack_score)
    return labels, probs


@uncounted()
def _predict_lines(data, line_starts, line_ends, table, word_data, word_offsets, nwords, bucket, minn, maxn, word_ngrams,
                   prune_bits, prune_keys, prune_rows, input_rows, output_rows, hierarchical, left, right, threshold,
                   cache_keys, cache_labels, cache_probs, cache_fill, labels, probs, hidden, out, word, starts, hashes, ids,
                   stack_node, stack_score):
    """:func:`predict_top`'s loop over the lines, into ``labels`` and ``probs``, with the scratch
    arrays it allocated; compiled without reference counting (:mod:`filters.uncounted`: every
    array an inlined helper bound, in the per-token look-up, the n-gram loop and the pruned-row
    probe, cost an atomic increment and decrement, a quarter of lid.176's time; 1.0 -> 0.75
    CPU-s on the benchmark corpus's segments)."""
    n = len(line_starts)
    osz = len(out)
    eos_hash = FNV_OFFSET
    for k in range(len(EOS)):
        eos_hash = _fnv_step(eos_hash, np.int64(EOS[k]))
    eos_id = _lookup(EOS, 0, len(EOS), eos_hash, table, word_data, word_offsets)
    if eos_id >= nwords:
        eos_id = -1
    cached = len(cache_keys) > 0
    mask = np.uint64(len(cache_keys) - 1) if cached else np.uint64(0)
    for li in range(n):
        slot = np.uint64(0)
        key = np.uint64(0)
        if cached:
            key = _line_key(data, line_starts[li], line_ends[li])
            slot = key & mask
            while cache_keys[slot] != 0 and cache_keys[slot] != key:
                slot = (slot + np.uint64(1)) & mask
            if cache_keys[slot] == key:
                labels[li] = cache_labels[slot]
                probs[li] = cache_probs[slot]
                continue
        n_rows = _line_rows(data, line_starts[li], line_ends[li], word, starts, ids, hashes, table, word_data,
                            word_offsets, nwords, bucket, minn, maxn, word_ngrams, prune_bits, prune_keys,
                            prune_rows, eos_id, eos_hash)
        if n_rows > 0:
            _sum_rows(hidden, input_rows, ids, n_rows)
            scale = np.float32(1.0 / n_rows)
            for j in range(len(hidden)):
                hidden[j] *= scale
            if hierarchical:
                node, score = _hs_top(hidden, output_rows, left, right, osz, threshold, stack_node, stack_score)
            else:
                node, score = _softmax_top(hidden, output_rows, threshold, out)
            if node >= 0:
                labels[li] = node
                probs[li] = np.float32(math.exp(score))
        if cached:
            if cache_fill[0] >= cache_fill[1]:
                cache_keys[:] = 0
                cache_fill[0] = 0
                slot = key & mask
                while cache_keys[slot] != 0:
                    slot = (slot + np.uint64(1)) & mask
            cache_keys[slot] = key
            cache_labels[slot] = labels[li]
            cache_probs[slot] = probs[li]
            cache_fill[0] += 1


@numba.njit(cache=True, nogil=True, inline="always")
def _line_key(data: np.ndarray, s: int, e: int) -> np.uint64:
    """64-bit FNV-1a of a line's bytes, never 0 (0 marks an empty cache slot)."""
    h = np.uint64(14695981039346656037)
    for i in range(s, e):
        h = (h ^ np.uint64(data[i])) * np.uint64(1099511628211)
    return h if h != 0 else np.uint64(1)


