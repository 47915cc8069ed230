"""Normalization and shingle hashing for MinHash dedup (zh + en + code).

Why this shape: Python shingling (split, join n-grams, hash each string) runs at
~5-14 MB/s and is the bottleneck of every MinHash path. Here a batch is normalized so
that tokens are separated by exactly one space, and every shingle is a contiguous
byte span of the normalized text; a span's hash is a polynomial hash mod 2^64
finished with fmix64 (:func:`span_hash64`). Two implementations give identical values
(tests compare them on real text):

* the reference: polars regexes (:func:`shingle_normal_form`) + numpy prefix sums over the
  byte buffer (``tests.filters.dedup.shingle_reference.shingle_hashes``), no per-shingle Python code;
* the fast path the stage uses (:func:`fast_shingle_hashes`): two compiled passes
  (``filters.dedup.sketch.shingle_kernel``) over the Arrow bytes, with a code point map
  (lower case and Traditional -> Simplified, :func:`char_fold`) and a class table
  (:func:`char_classes`).

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
import pyarrow as pa

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
    point outside ``skip``, ~0.04 s), kept on disk per Python build (``filters.array_cache``)
    for the default ``skip``."""
    import unicodedata

    if skip == SKIPPED_PLANES:
        from filters.array_cache import cached_table

        return cached_table("char-classes", Path(unicodedata.__file__), __file__, lambda: _read_char_classes(skip))
    return _read_char_classes(skip)


def _read_char_classes(skip: tuple[tuple[int, int], ...] | None) -> np.ndarray:
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


CASED_BELOW = 0x20000
"""Every code point with a lower-case mapping is below this (Unicode 16: the last is Adlam's
U+1E921); :func:`lower_fold` asks polars about each one under it."""
CONTEXT_LOWER = -1
"""``fold`` value of a character whose lower case depends on its neighbours (capital sigma:
final sigma) or is more than one character (U+0130): its text is lower-cased by polars."""


@lru_cache(maxsize=1)
def lower_fold() -> np.ndarray:
    """``fold[cp]``: the lower case of ``cp`` as polars' ``str.to_lowercase`` (Rust's full
    mapping) gives it for the character alone, or :data:`CONTEXT_LOWER`. Built from polars
    itself rather than ``str.lower``: polars' Unicode is newer than this Python's (Unicode 16
    lower-cases 55 more characters than Python 3.11 does) and the reference is polars. Kept
    on disk per polars build (``filters.array_cache``; ~0.05 CPU-s to build)."""
    from filters.array_cache import cached_table, polars_binary

    return cached_table("lower-fold", polars_binary(), __file__, _read_lower_fold)


def _read_lower_fold() -> np.ndarray:
    from filters.signals.script_detect import char_strings

    cps, arr = char_strings(CASED_BELOW)
    chars = pl.Series(arr)
    lower = chars.str.to_lowercase()
    changed = (lower != chars).to_numpy()
    fold = np.arange(CASED_BELOW, dtype=np.int32)
    for cp, low in zip(cps[changed].tolist(), lower.filter(pl.Series(changed)).to_list()):
        fold[cp] = ord(low) if len(low) == 1 else CONTEXT_LOWER
    fold[ord("\u03a3")] = CONTEXT_LOWER  # Σ -> σ, or ς at the end of a word
    return fold


@lru_cache(maxsize=4)
def char_fold(lowercase: bool, traditional_to_simplified: bool) -> np.ndarray:
    """The kernel's code point map for a config: lower case (:func:`lower_fold`), then
    Traditional -> Simplified (:func:`t2s_fold`; the two touch disjoint characters, so the
    order is the reference's either way). Empty when neither applies."""
    t2s = t2s_fold() if traditional_to_simplified else _NO_FOLD
    if not lowercase:
        return t2s
    fold = np.arange(max(CASED_BELOW, len(t2s)), dtype=np.int32)
    fold[:CASED_BELOW] = lower_fold()
    in_t2s = (fold >= 0) & (fold < len(t2s))
    fold[in_t2s] = t2s[fold[in_t2s]]
    return fold


_NO_FOLD = np.zeros(0, dtype=np.int32)


def prepare_texts(texts: pl.Series, config: ShingleConfig = ShingleConfig()) -> pl.Series:
    """Lower case by polars, for the texts the kernel cannot lower-case alone (see
    :data:`CONTEXT_LOWER`)."""
    e = pl.col("t").fill_null("")
    if config.lowercase:
        e = e.str.to_lowercase()
    return pl.DataFrame({"t": texts.cast(pl.String)}).select(e.alias("text")).to_series()


def fast_shingle_hashes(
    texts: pa.Array | pa.ChunkedArray | pl.Series, config: ShingleConfig = ShingleConfig(),
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Compiled path: ``(norm_bytes, norm_offsets, hashes, doc_offsets)`` where the
    normalized texts are ``norm_bytes[norm_offsets[i]:norm_offsets[i+1]]`` (exactly
    ``shingle_normal_form``) and the hashes exactly ``shingle_reference.shingle_hashes``'s;
    for the texts ``rows`` (int64 indices, in that order) only, when given, which are read
    where they are rather than copied out first. The kernel reads the Arrow bytes in place
    and lower-cases through its code point map; the rare text it flags (a capital sigma,
    U+0130) is lower-cased by polars and normalized again."""
    from filters.dedup.sketch.shingle_kernel import normalize_buffer, shingle_buffer
    from filters.signals.script_detect import utf8_buffers

    arrow = texts.to_arrow() if isinstance(texts, pl.Series) else texts
    data, offsets = utf8_buffers(arrow)
    if rows is None:
        rows = np.arange(len(offsets) - 1, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    classes = char_classes()
    fold = char_fold(config.lowercase, config.traditional_to_simplified)
    code_mode = config.mode == "code"
    norm, norm_off, redo = normalize_buffer(data, offsets[rows], offsets[rows + 1], classes, code_mode,
                                            config.digits_to_zero, fold)
    if redo.any():
        idx = np.flatnonzero(redo)
        lowered = prepare_texts(pl.Series(arrow.take(pa.array(rows[idx]))), config)
        data2, offsets2 = utf8_buffers(lowered.to_arrow())
        norm2, norm_off2, _ = normalize_buffer(data2, offsets2[:-1], offsets2[1:], classes, code_mode,
                                               config.digits_to_zero, fold)
        norm, norm_off = _replace_docs(norm, norm_off, idx, norm2, norm_off2)
    hashes, counts = shingle_buffer(norm, norm_off, classes, config.n_cjk, config.n_word, _P)
    doc_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=doc_offsets[1:])
    return norm, norm_off, hashes, doc_offsets


def _replace_docs(data: np.ndarray, offsets: np.ndarray, idx: np.ndarray, new_data: np.ndarray,
                  new_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The byte buffer and offsets with documents ``idx`` (ascending) replaced by the
    documents of ``(new_data, new_offsets)``, in order: one copy, in 2 * len(idx) + 1 pieces."""
    pieces, pos = [], 0
    for k, d in enumerate(idx.tolist()):
        pieces += [data[pos:offsets[d]], new_data[new_offsets[k]:new_offsets[k + 1]]]
        pos = offsets[d + 1]
    pieces.append(data[pos:offsets[-1]])
    lengths = np.diff(offsets)
    lengths[idx] = np.diff(new_offsets)
    out_off = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out_off[1:])
    return np.concatenate(pieces), out_off
