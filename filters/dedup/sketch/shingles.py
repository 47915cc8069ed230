"""Normalization and shingle hashing for MinHash dedup (zh + en + code).

Why this shape: Python shingling (split, join n-grams, hash each string) runs at
~5-14 MB/s and is the bottleneck of every MinHash path. Here a batch is normalized so
that tokens are separated by exactly one space, and every shingle is a contiguous
byte span of the normalized text; a span's hash is a polynomial hash mod 2^64
finished with fmix64 (:func:`span_hash64`). Two implementations give identical values
(tests compare them on real text):

* the reference: polars regexes (:func:`shingle_normal_form`) + numpy prefix sums over the
  byte buffer (``tests.filters.dedup.shingle_reference.shingle_hashes``), no per-shingle Python code;
* the fast path the stage uses (:func:`fast_shingle_hashes`): polars for
  Traditional -> Simplified and lower case, then two compiled passes
  (``filters.dedup.sketch.shingle_kernel``) with a code-point class table (:func:`char_classes`).

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
def t2s_char_table() -> tuple[list[str], list[str]]:
    """opencc's Traditional -> Simplified single-character table (first choice of each).

    Not the normalize stage's ``filters.normalize.chinese_script.t2s_table`` (phrases and
    characters, converting the text itself): shingling folds characters only, and this
    table shapes every persisted signature (``ShingleConfig.key``), so it stays as it is."""
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


def shingle_normal_form(texts: Sequence[str] | pl.Series, config: ShingleConfig = ShingleConfig()) -> pl.Series:
    """The form shingles are cut from: tokens separated by exactly one space, no
    leading/trailing space. For hashing only, never written out (the text itself is
    normalized by the ``normalize`` stage, ``filters.normalize.stage.normalize_texts``)."""
    s = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), dtype=pl.String)
    e = pl.col("t").fill_null("")
    if config.traditional_to_simplified:
        src, dst = t2s_char_table()
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


_CLASS_OF_CATEGORY = {cat: (2 if cat == "Nd" else 1) for cat in
                      ("Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No", "Mn", "Mc", "Me")}
SKIPPED_PLANES = ((0x40000, 0xE0000), (0xF0000, 0x110000))
"""Code points :func:`char_classes` gives class 4 without asking ``unicodedata``: planes
4-13 hold no assigned character (Unicode 15.1 and 16; a test checks it against the full
scan), and planes 15-16 are private use and noncharacters, which the Unicode stability
policy fixes for good."""


@lru_cache(maxsize=1)
def char_classes(skip: tuple[tuple[int, int], ...] | None = SKIPPED_PLANES) -> np.ndarray:
    """Class of every code point: 0 separator (Unicode White_Space), 1 word (letter,
    number, mark), 2 decimal digit, 3 CJK letter, 4 punctuation/symbol/other,
    5 underscore (word in code mode). From ``unicodedata`` (one category look-up per code
    point outside ``skip``, ~0.04 s), once per process."""
    import unicodedata

    table = np.full(0x110000, 4, dtype=np.uint8)
    get, category = _CLASS_OF_CATEGORY.get, unicodedata.category
    start = 0
    for lo, hi in [*(skip or ()), (0x110000, 0x110000)]:
        table[start:lo] = np.fromiter((get(category(chr(cp)), 4) for cp in range(start, lo)), np.uint8,
                                      count=lo - start)
        start = hi
    for lo_cjk, hi_cjk in CJK_RANGES:
        seg = table[lo_cjk : hi_cjk + 1]
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


@lru_cache(maxsize=1)
def t2s_fold() -> np.ndarray:
    """:func:`t2s_char_table` as a code point map for the kernel: ``fold[cp]`` is what ``cp``
    becomes (itself for every character the table leaves alone)."""
    src, dst = t2s_char_table()
    fold = np.arange(max(map(ord, src), default=-1) + 1, dtype=np.int32)
    fold[[ord(c) for c in src]] = [ord(c) for c in dst]
    return fold


_NO_FOLD = np.zeros(0, dtype=np.int32)


def prepare_texts(texts: pl.Series, config: ShingleConfig = ShingleConfig()) -> pl.Series:
    """The polars part of normalization: lower case (Traditional -> Simplified is folded in
    the kernel, character by character, see :func:`t2s_fold`)."""
    e = pl.col("t").fill_null("")
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
    ``shingle_normal_form``) and the hashes exactly ``shingle_reference.shingle_hashes``'s."""
    from filters.dedup.sketch.shingle_kernel import normalize_buffer, shingle_buffer

    data, offsets = _arrow_buffers(prepare_texts(texts, config))
    classes = char_classes()
    fold = t2s_fold() if config.traditional_to_simplified else _NO_FOLD
    norm, norm_off = normalize_buffer(data, offsets - offsets[0] if len(offsets) else offsets, classes,
                                      config.mode == "code", config.digits_to_zero, fold) if len(offsets) > 1 else (
        np.zeros(0, np.uint8), np.zeros(1, np.int64))
    hashes, counts = shingle_buffer(norm, norm_off, classes, config.n_cjk, config.n_word, _P)
    doc_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=doc_offsets[1:])
    return norm, norm_off, hashes, doc_offsets
