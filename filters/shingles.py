"""Normalization and shingle hashing for MinHash dedup (zh + en + code).

Why this shape: Python shingling (split, join n-grams, hash each string) runs at
~5-14 MB/s and is the bottleneck of every MinHash path. Here a batch is normalized so
that tokens are separated by exactly one space, and every shingle is a contiguous
byte span of the normalized text; a span's hash is a polynomial hash mod 2^64
finished with fmix64 (:func:`span_hash64`). Two implementations give identical values
(tests compare them on real text):

* the reference: polars regexes (:func:`normalize_texts`) + numpy prefix sums over the
  byte buffer (:func:`shingle_hashes`), no per-shingle Python code;
* the fast path the stage uses (:func:`fast_shingle_hashes`): polars for
  Traditional -> Simplified and lower case, then two compiled passes
  (``filters.shingle_kernel``) with a code-point class table (:func:`char_classes`).

Tokens: a CJK character (a letter/digit/mark in :data:`CJK_RANGES`: kana and CJK
ideographs) is one token; a run of other letters/digits/marks (Latin, Cyrillic,
Hangul words...) is one token; in ``code`` mode every punctuation/operator character is
a token too and ``_`` joins identifiers. Shingles: inside a run of CJK tokens, ``n_cjk``
consecutive characters; inside a run of word tokens, ``n_word`` consecutive words; a
run shorter than its n gives one shingle (the whole run). No shingle crosses a
CJK/word boundary. The shingle *string* is the tokens joined by one space, so
:func:`shingle_strings` (plain Python) gives exactly the strings whose hashes are
computed, and ``datasketch.MinHash(hashfunc=shingle_hash32)`` reproduces signatures.

Normalization: Traditional -> Simplified (opencc's character table, one
Aho-Corasick ``replace_many`` pass; phrase-level conversions are not applied, which
for dedup only matters where a phrase maps differently than its characters), lower
case, optional decimal digits -> 0, separators (Unicode White_Space and, in text mode,
all punctuation/symbols) -> one space.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import polars as pl

CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
"""Kana, CJK Unified Ideographs (+ Extension A, B-G) and compatibility ideographs:
a letter/digit/mark in these ranges is a one-character token."""
_CJK = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES)
_P = np.uint64(0x100000001B3 | 1)  # FNV-64 prime: odd, so invertible mod 2^64
_M64 = (1 << 64) - 1
_CHUNK_BYTES = 1 << 22  # bytes of normalized text hashed per numpy pass


@dataclass(frozen=True)
class ShingleConfig:
    """How text becomes shingles. Part of every persisted signature's metadata."""

    n_cjk: int = 2
    n_word: int = 3
    mode: Literal["text", "code"] = "text"
    lowercase: bool = True
    digits_to_zero: bool = False
    traditional_to_simplified: bool = True

    def key(self) -> str:
        return (
            f"cjk{self.n_cjk}-w{self.n_word}-{self.mode}-lc{int(self.lowercase)}"
            f"-d{int(self.digits_to_zero)}-t2s{int(self.traditional_to_simplified)}"
        )


@lru_cache(maxsize=1)
def t2s_table() -> tuple[list[str], list[str]]:
    """opencc's Traditional -> Simplified single-character table (first choice of each)."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    src, dst = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        target = values.split(" ")[0]
        if len(key) == 1 and target and target != key:
            src.append(key)
            dst.append(target)
    return src, dst


def normalize_texts(texts: Sequence[str] | pl.Series, config: ShingleConfig = ShingleConfig()) -> pl.Series:
    """Normalized texts: tokens separated by exactly one space, no leading/trailing space."""
    s = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), dtype=pl.String)
    e = pl.col("t").fill_null("")
    if config.traditional_to_simplified:
        src, dst = t2s_table()
        e = e.str.replace_many(src, dst)
    if config.lowercase:
        e = e.str.to_lowercase()
    if config.digits_to_zero:
        e = e.str.replace_all(r"\d", "0")
    if config.mode == "code":
        e = e.str.replace_all(f"([^\\s\\p{{L}}\\p{{N}}\\p{{M}}_]|[{_CJK}])", " $1 ")
    else:
        e = e.str.replace_all(r"[^\p{L}\p{N}\p{M}]+", " ")
        e = e.str.replace_all(f"([{_CJK}])", " $1 ")
    e = e.str.replace_all(r"\s+", " ").str.strip_chars(" ")
    return pl.DataFrame({"t": s}).select(e.alias("text")).to_series()


def shingle_strings(normalized: str, config: ShingleConfig = ShingleConfig()) -> list[str]:
    """Reference (plain Python) shingles of one normalized text, in order, repeats kept."""
    tokens = normalized.split(" ") if normalized else []
    runs: list[tuple[bool, list[str]]] = []
    for tok in tokens:
        cjk = _is_cjk_token(tok)
        if runs and runs[-1][0] == cjk:
            runs[-1][1].append(tok)
        else:
            runs.append((cjk, [tok]))
    out: list[str] = []
    for cjk, run in runs:
        n = config.n_cjk if cjk else config.n_word
        if len(run) <= n:
            out.append(" ".join(run))
        else:
            out.extend(" ".join(run[i : i + n]) for i in range(len(run) - n + 1))
    return out


def _is_cjk_token(tok: str) -> bool:
    return len(tok) == 1 and char_classes()[ord(tok)] == 3


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """Class of every code point: 0 separator (Unicode White_Space), 1 word (letter,
    number, mark), 2 decimal digit, 3 CJK letter, 4 punctuation/symbol/other,
    5 underscore (word in code mode). ~0.4 s to build, once per process."""
    import unicodedata

    cls = {"L": 1, "N": 1, "M": 1}
    table = np.array([cls.get(unicodedata.category(chr(cp))[0], 4) for cp in range(0x110000)], dtype=np.uint8)
    for cp in np.flatnonzero(table == 1):
        if unicodedata.category(chr(cp)) == "Nd":
            table[cp] = 2
    for lo, hi in CJK_RANGES:
        seg = table[lo : hi + 1]
        seg[(seg == 1) | (seg == 2)] = 3
    for cp in range(0x3000 + 1):
        if chr(cp).isspace() and not 0x1C <= cp <= 0x1F:
            table[cp] = 0
    table[ord("_")] = 5
    return table


def span_hash64(data: bytes) -> int:
    """Reference 64-bit hash of a byte string: sum (byte+1) * P^i mod 2^64, then fmix64."""
    h, p = 0, 1
    for byte in data:
        h = (h + (byte + 1) * p) & _M64
        p = (p * int(_P)) & _M64
    return _fmix64_int(h)


def shingle_hash32(data: bytes) -> int:
    """The 32-bit shingle hash (low half of :func:`span_hash64`): pass it as
    ``datasketch.MinHash(hashfunc=shingle_hash32)`` to reproduce our signatures."""
    return span_hash64(data) & 0xFFFFFFFF


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@lru_cache(maxsize=2)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i mod 2^64 for i < n (numpy uint64 products wrap mod 2^64)."""
    inv = pow(int(_P), -1, 1 << 64)
    with np.errstate(over="ignore"):
        pw = np.full(n, _P, dtype=np.uint64)
        pw[0] = 1
        pw = np.cumprod(pw, dtype=np.uint64)
        ipw = np.full(n, np.uint64(inv), dtype=np.uint64)
        ipw[0] = 1
        ipw = np.cumprod(ipw, dtype=np.uint64)
    return pw, ipw


def shingle_hashes(
    normalized: pl.Series, config: ShingleConfig = ShingleConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every shingle of every document, vectorized over the batch.

    Returns ``(hashes, doc_offsets)``: uint64 hashes (``span_hash64`` of each shingle
    string, repeats kept, document order) and int64 offsets of length n_docs + 1 so
    that document i owns ``hashes[doc_offsets[i]:doc_offsets[i+1]]``.
    """
    arr = normalized.cast(pl.String).to_arrow().cast("large_string")
    n_docs = len(arr)
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n_docs + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    if arr.null_count:
        raise ValueError("normalized texts must not contain nulls")
    # chunk documents so that the polynomial power tables stay small
    out_h: list[np.ndarray] = []
    counts = np.zeros(n_docs, dtype=np.int64)
    start_doc = 0
    while start_doc < n_docs:
        end_doc = int(np.searchsorted(offsets, offsets[start_doc] + _CHUNK_BYTES, side="right")) - 1
        end_doc = max(end_doc, start_doc + 1)
        end_doc = min(end_doc, n_docs)
        lo, hi = int(offsets[start_doc]), int(offsets[end_doc])
        h, c = _chunk_hashes(data[lo:hi], offsets[start_doc : end_doc + 1] - lo, config)
        out_h.append(h)
        counts[start_doc:end_doc] = c
        start_doc = end_doc
    hashes = np.concatenate(out_h) if out_h else np.zeros(0, np.uint64)
    doc_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts, out=doc_offsets[1:])
    del lengths
    return hashes, doc_offsets


def _first_char_is_cjk(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per token: is it one character of class CJK (vectorized UTF-8 decode)."""
    pad = np.concatenate([data, np.zeros(4, np.uint8)]).astype(np.int64)
    b0, b1, b2, b3 = (pad[starts + k] for k in range(4))
    width = np.where(b0 < 0x80, 1, np.where(b0 < 0xE0, 2, np.where(b0 < 0xF0, 3, 4)))
    cp = np.where(width == 1, b0, np.where(width == 2, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
         np.where(width == 3, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                  ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F))))
    return (ends - starts == width) & (char_classes()[np.minimum(cp, 0x10FFFF)] == 3)


def _chunk_hashes(data: np.ndarray, offsets: np.ndarray, config: ShingleConfig) -> tuple[np.ndarray, np.ndarray]:
    n_docs = len(offsets) - 1
    n = len(data)
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(n_docs, np.int64)
    # token boundaries: tokens are separated by one space; documents abut without separator
    is_sp = data == 0x20
    doc_start = np.zeros(n + 1, dtype=bool)
    doc_start[offsets[:-1][np.diff(offsets) > 0]] = True
    prev_sp = np.empty(n, dtype=bool)
    prev_sp[0] = True
    prev_sp[1:] = is_sp[:-1]
    next_sp = np.empty(n, dtype=bool)
    next_sp[-1] = True
    next_sp[:-1] = is_sp[1:]
    starts = np.flatnonzero(~is_sp & (prev_sp | doc_start[:n]))
    ends = np.flatnonzero(~is_sp & (next_sp | doc_start[1:])) + 1
    tok_doc = np.searchsorted(offsets, starts, side="right") - 1
    cjk = _first_char_is_cjk(data, starts, ends)
    # runs: maximal sequences of tokens of the same kind in the same document
    n_tok = len(starts)
    new_run = np.ones(n_tok, dtype=bool)
    new_run[1:] = (tok_doc[1:] != tok_doc[:-1]) | (cjk[1:] != cjk[:-1])
    run_id = np.cumsum(new_run) - 1
    run_first = np.flatnonzero(new_run)
    run_end = np.append(run_first[1:], n_tok)  # exclusive token index
    tok_run_end = run_end[run_id]
    ngram = np.where(cjk, config.n_cjk, config.n_word)
    idx = np.arange(n_tok)
    valid = (idx + ngram <= tok_run_end) | (new_run & (idx + ngram > tok_run_end))
    first = idx[valid]
    last = np.minimum(first + ngram[valid], tok_run_end[valid]) - 1
    s_byte, e_byte = starts[first], ends[last]
    # polynomial prefix hash: G[k] = sum_{j<k} (data[j]+1) P^j
    pw, ipw = _powers(max(_CHUNK_BYTES, n) + 1)
    with np.errstate(over="ignore"):
        g = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum((data.astype(np.uint64) + np.uint64(1)) * pw[:n], out=g[1:])
        h = (g[e_byte] - g[s_byte]) * ipw[s_byte]
        h = fmix64(h)
    counts = np.bincount(tok_doc[first], minlength=n_docs).astype(np.int64)
    return h, counts


def prepare_texts(texts: pl.Series, config: ShingleConfig = ShingleConfig()) -> pl.Series:
    """The polars part of normalization: Traditional -> Simplified and lower case."""
    e = pl.col("t").fill_null("")
    if config.traditional_to_simplified:
        src, dst = t2s_table()
        e = e.str.replace_many(src, dst)
    if config.lowercase:
        e = e.str.to_lowercase()
    return pl.DataFrame({"t": texts.cast(pl.String)}).select(e.alias("text")).to_series()


def _arrow_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = series.to_arrow().cast("large_string")
    if hasattr(arr, "combine_chunks"):
        arr = arr.combine_chunks()
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    return data, offsets


def fast_shingle_hashes(
    texts: pl.Series, config: ShingleConfig = ShingleConfig()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Compiled path: ``(norm_bytes, norm_offsets, hashes, doc_offsets)`` where the
    normalized texts are ``norm_bytes[norm_offsets[i]:norm_offsets[i+1]]`` (exactly
    :func:`normalize_texts`) and the hashes exactly :func:`shingle_hashes`'s."""
    from filters.shingle_kernel import normalize_buffer, shingle_buffer

    data, offsets = _arrow_buffers(prepare_texts(texts, config))
    classes = char_classes()
    norm, norm_off = normalize_buffer(data, offsets - offsets[0] if len(offsets) else offsets, classes,
                                      config.mode == "code", config.digits_to_zero) if len(offsets) > 1 else (
        np.zeros(0, np.uint8), np.zeros(1, np.int64))
    hashes, counts = shingle_buffer(norm, norm_off, classes, config.n_cjk, config.n_word, _P)
    doc_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=doc_offsets[1:])
    return norm, norm_off, hashes, doc_offsets
