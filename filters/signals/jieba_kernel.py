"""jieba's precise mode without HMM, compiled: the same tokens, no Python object per token.

Heuristics segments every Chinese document's head to count words. jieba-rs (``rjieba``)
runs the algorithm in Rust but returns a Python list of ``str`` per text, which the stage
then joined with a separator for the word kernel. This kernel reads the texts' UTF-8
bytes and writes them back with the separator between tokens: on the 9,988 Chinese
documents of the 50,000-document benchmark corpus (7.7 M characters) 0.44 CPU-s against
0.85-1.07 for jieba-rs with the joining, the same tokens.

It follows ``jieba.Tokenizer.cut(text, HMM=False)`` (jieba 0.42) step by step:

* the text splits into blocks of ``[\\u4E00-\\u9FD5a-zA-Z0-9+#&._%-]`` (``re_han_default``)
  and the rest; outside the blocks every character is a token, except that ``\\r\\n`` is
  one (``re_skip_default`` matches it before ``\\s``);
* inside a block, the DAG of dictionary words starting at each character (a fragment is
  extended while it is a word or a word's prefix), then the route of maximal
  ``log(freq or 1) - log(total)`` sums from the end, ties to the longer word (Python's
  ``max`` over ``(logprob, end)`` tuples);
* consecutive single ASCII letters or digits on the route join into one token.

The dictionary is jieba's own ``dict.txt`` (prefixes with frequency 0, a later duplicate
overriding the frequency and adding to the total, as ``gen_pfdict`` does), in an
open-addressing table keyed by a hash of the code points and checked against them. The
log-probabilities are CPython's ``math.log`` (see :func:`load_dictionary`), so the sums,
and the ties, are jieba's to the bit. ``tests/filters/signals/test_jieba_kernel.py``
compares the tokens with jieba's on the dev sets and on generated text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numba
import numpy as np

from filters.utf8_kernel import decode_text, decode_utf8

_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Dictionary:
    """jieba's prefix dictionary as a trie: node 0 is the root, every word and word prefix
    a node. An edge below the root by a code point under U+A000 (every CJK character jieba
    segments, and ASCII) is ``root_children[code point]``; every other edge is a slot of an
    open-addressing table holding ``child << 42 | parent << 21 | code point`` in one word,
    so a step reads one slot and compares exact keys (no hash to verify)."""

    root_children: np.ndarray  # int32 per code point under ROOT_DIRECT: child of the root, or -1
    slots: np.ndarray  # uint64, a power of two long; 0: empty
    node_freq: np.ndarray  # int64 per node: 0 for a prefix that is not a word (and the root)
    log_prob: np.ndarray  # float64 per node: log(freq or 1) - log(total)
    word_log_prob: np.ndarray  # float64 per node: log_prob of a word, -inf for a prefix only (one load per step)
    neg_log_total: float  # log(1) - log(total): a character that is no word

    def joined(self, data: np.ndarray, offsets: np.ndarray, sep: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`joined` with this dictionary."""
        return joined(data, offsets, sep, self.root_children, self.slots, self.word_log_prob, self.neg_log_total)

    def token_starts(self, cp: np.ndarray) -> np.ndarray:
        """:func:`token_starts` with this dictionary."""
        return token_starts(cp, self.root_children, self.slots, self.word_log_prob, self.neg_log_total)


ROOT_DIRECT = 0xA000
_KEY = np.uint64((1 << 42) - 1)
MAX_NODES = 1 << 21  # the parent field's width


def default_dictionary_path() -> Path:
    """jieba's ``dict.txt``, found without importing jieba."""
    spec = find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError("jieba is not installed: its dictionary is needed for Chinese word segmentation")
    return Path(spec.origin).parent / "dict.txt"


@lru_cache(maxsize=2)
def load_dictionary(path: str | None = None) -> Dictionary:
    """The trie of ``path`` (jieba's ``dict.txt`` by default), once per process, and kept on
    disk after the first build (``filters.array_cache``: 0.15 CPU-s to build, ~0.01 to read).
    Logs come from ``math.log`` on each distinct frequency: jieba computes them with it,
    and numpy's vectorized ``log`` may differ in the last bit."""
    from filters.array_cache import cached_arrays

    source = Path(path or default_dictionary_path())
    arrays = cached_arrays("jieba-dictionary", source, __file__, lambda: _build_dictionary(source))
    word_log_prob = np.where(arrays["node_freq"] != 0, arrays["log_prob"], -np.inf)
    return Dictionary(arrays["root_children"], arrays["slots"], arrays["node_freq"], arrays["log_prob"], word_log_prob,
                      float(arrays["neg_log_total"]))


def _build_dictionary(path: Path) -> dict[str, np.ndarray]:
    """:func:`load_dictionary`'s arrays, built from the file."""
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    root_children, slots, node_freq, total, bad_line = _build(raw)
    if bad_line == -2:
        raise ValueError(f"{path}: more than {MAX_NODES - 1} words and prefixes")
    if bad_line >= 0:
        raise ValueError(f"invalid dictionary entry in {path} at line {bad_line + 1}")
    if total <= 0:
        raise ValueError(f"{path}: no word with a positive frequency")
    log_total = math.log(total)
    distinct, index = np.unique(np.maximum(node_freq, 1), return_inverse=True)
    logs = np.array([math.log(int(f)) - log_total for f in distinct], dtype=np.float64)
    return {"root_children": root_children, "slots": slots, "node_freq": node_freq,
            "log_prob": logs[index.ravel()], "neg_log_total": np.float64(0.0 - log_total)}


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _home(key, mask) -> int:  # pragma: no cover - compiled
    return np.int64(((key * _MIX) >> np.uint64(29)) & np.uint64(mask))


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _child(node, c, root_children, slots) -> int:  # pragma: no cover - compiled
    """The node below ``node`` by code point ``c``, or -1."""
    if node == 0 and c < ROOT_DIRECT:
        return root_children[c]
    key = (np.uint64(node) << np.uint64(21)) | np.uint64(c)
    mask = len(slots) - 1
    i = _home(key, mask)
    while True:
        v = slots[i]
        if v == 0:
            return -1
        if (v & _KEY) == key:
            return np.int64(v >> np.uint64(42))
        i = (i + 1) & mask


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _put(slots, key, child) -> None:  # pragma: no cover - compiled
    mask = len(slots) - 1
    i = _home(key, mask)
    while slots[i] != 0:
        i = (i + 1) & mask
    slots[i] = key | (np.uint64(child) << np.uint64(42))


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _build(raw):  # pragma: no cover - compiled
    """Parse ``word freq [tag]`` lines (``gen_pfdict``: a repeated word takes the later
    frequency, and both count in the total); -> root children, slots, node frequencies,
    the total and the index of the first malformed line (-1 if none, -2: too many nodes)."""
    n = len(raw)
    most = 1  # the root, and a node per code point before each line's first space at most
    first_field = True
    for i in range(n):
        b = raw[i]
        if b == 10:
            first_field = True
        elif b == 32:
            first_field = False
        elif first_field and (b & 0xC0) != 0x80:
            most += 1
    root_children = np.full(ROOT_DIRECT, -1, np.int32)
    cap = 16
    while cap < 2 * most:
        cap *= 2
    slots = np.zeros(cap, np.uint64)
    node_freq = np.zeros(most, np.int64)
    nodes = 1
    total = 0
    pos = 0
    line = 0
    while pos < n:
        end = pos
        while end < n and raw[end] != 10:
            end += 1
        s, e = pos, end
        pos = end + 1
        while s < e and (raw[s] == 32 or 9 <= raw[s] <= 13):  # bytes.strip()
            s += 1
        while e > s and (raw[e - 1] == 32 or 9 <= raw[e - 1] <= 13):
            e -= 1
        sp = s
        while sp < e and raw[sp] != 32:
            sp += 1
        f_start = sp + 1
        f_end = f_start
        while f_end < e and raw[f_end] != 32:
            f_end += 1
        if sp == s or sp >= e or f_end == f_start:
            return root_children, slots, node_freq, total, line
        freq = 0
        for q in range(f_start, f_end):
            d = np.int64(raw[q]) - 48
            if d < 0 or d > 9:
                return root_children, slots, node_freq, total, line
            freq = freq * 10 + d
        node = 0
        q = s
        while q < sp:
            c, k = decode_utf8(raw, q)
            q += k
            child = _child(node, c, root_children, slots)
            if child < 0:
                child = nodes
                nodes += 1
                if nodes >= MAX_NODES:
                    return root_children, slots, node_freq, total, -2
                if node == 0 and c < ROOT_DIRECT:
                    root_children[c] = child
                else:
                    _put(slots, (np.uint64(node) << np.uint64(21)) | np.uint64(c), child)
            node = child
        node_freq[node] = freq
        total += freq
        line += 1
    cap = 16  # the same edges in a table half full: fewer cache lines per look-up
    while cap < 2 * nodes:
        cap *= 2
    packed = np.zeros(cap, np.uint64)
    for v in slots:
        if v != 0:
            _put(packed, v & _KEY, v >> np.uint64(42))
    return root_children, packed, node_freq[:nodes].copy(), total, -1


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _in_block(c: int) -> bool:  # pragma: no cover - compiled
    """``re_han_default``'s class: CJK U+4E00..U+9FD5, ASCII letters and digits, ``+#&._%-``."""
    if 0x4E00 <= c <= 0x9FD5:
        return True
    if c >= 128:
        return False
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 43 or c == 35 or c == 38 or c == 46 \
        or c == 95 or c == 37 or c == 45


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _mark(cp, nchars, brk, route_v, route_x, root_children, slots, word_logp,
          neg_log_total) -> None:  # pragma: no cover - compiled
    """``brk[i]``: a token starts at character ``i`` (``i`` > 0 only is read). ``word_logp``:
    a node's log-probability where it is a word, -inf where it is a prefix only."""
    i = 0
    while i < nchars:
        if not _in_block(cp[i]):
            brk[i] = True
            if cp[i] == 13 and i + 1 < nchars and cp[i + 1] == 10:
                brk[i + 1] = False
                i += 2
            else:
                i += 1
            continue
        s = i
        while i < nchars and _in_block(cp[i]):
            i += 1
        e = i
        route_v[e] = 0.0
        for idx in range(e - 1, s - 1, -1):
            best_v = 0.0
            best_x = -1
            node = 0
            x = idx
            while x < e:
                node = _child(node, cp[x], root_children, slots)
                if node < 0:
                    break
                w = word_logp[node]
                if w != -np.inf:
                    v = w + route_v[x + 1]
                    if best_x < 0 or v >= best_v:  # max over (v, x) in rising x: ties to the later x
                        best_v = v
                        best_x = x
                x += 1
            if best_x < 0:
                best_v = neg_log_total + route_v[idx + 1]
                best_x = idx
            route_v[idx] = best_v
            route_x[idx] = best_x
        x = s
        in_eng = False
        while x < e:
            y = route_x[x] + 1
            c = cp[x]
            if y == x + 1 and ((48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122)):
                brk[x] = not in_eng
                in_eng = True
            else:
                brk[x] = True
                for q in range(x + 1, y):
                    brk[q] = False
                in_eng = False
            x = y


@numba.njit(cache=True, nogil=True, boundscheck=False)
def joined(data, offsets, sep, root_children, slots, word_logp, neg_log_total):  # pragma: no cover - compiled
    """(bytes, int64 offsets): each text with byte ``sep`` between consecutive tokens."""
    n = len(offsets) - 1
    longest = 0
    for t in range(n):
        longest = max(longest, offsets[t + 1] - offsets[t])
    cp = np.empty(longest + 1, np.int64)
    at = np.empty(longest + 1, np.int64)
    brk = np.zeros(longest + 1, np.bool_)
    route_v = np.empty(longest + 1, np.float64)
    route_x = np.empty(longest + 1, np.int64)
    out = np.empty(2 * len(data), np.uint8)
    out_offsets = np.zeros(n + 1, np.int64)
    o = 0
    for t in range(n):
        nchars = decode_text(data, offsets[t], offsets[t + 1], cp, at)
        _mark(cp, nchars, brk, route_v, route_x, root_children, slots, word_logp, neg_log_total)
        for i in range(nchars):
            if i > 0 and brk[i]:
                out[o] = sep
                o += 1
            for b in range(at[i], at[i + 1]):
                out[o] = data[b]
                o += 1
        out_offsets[t + 1] = o
    return out[:o], out_offsets


@numba.njit(cache=True, nogil=True, boundscheck=False)
def token_starts(cp, root_children, slots, word_logp, neg_log_total):  # pragma: no cover - compiled
    """Character index of every token start of one text's code points ``cp`` (int64)."""
    nchars = len(cp)
    brk = np.zeros(nchars + 1, np.bool_)
    route_v = np.empty(nchars + 1, np.float64)
    route_x = np.empty(nchars + 1, np.int64)
    _mark(cp, nchars, brk, route_v, route_x, root_children, slots, word_logp, neg_log_total)
    if nchars:
        brk[0] = True
    return np.flatnonzero(brk[:nchars])
