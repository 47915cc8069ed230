"""The ``normalize`` stage: mojibake repair, control characters, Unicode, whitespace,
optional Traditional -> Simplified, and a CJK-aware minimum length.

Order matters: mojibake first (C1 controls are its evidence, and NFC of mojibake is
still mojibake), then control characters and line breaks, then Unicode (see
:mod:`filters.normalize.unicode_text` for why the default is not full NFKC), then
whitespace, then the optional script conversion, then the length rule on the result.

Columns added (null on rows already dropped before this stage, whose text is untouched):

* ``norm_changed`` (bool): the text differs from the input;
* ``mojibake_fixed`` (bool): ftfy repaired an encoding error;
* ``zh_converted`` (bool): Traditional -> Simplified changed the text (always false
  unless ``to_simplified``);
* ``norm_chars`` / ``norm_cjk_chars`` (int64): characters after normalization, and how
  many of them are Han, kana or Hangul syllables, so the length rule can be re-cut;
* ``text_original`` (large_string; only when ``keep_original`` or ``to_simplified``):
  the input text of rows this stage changed (with ``to_simplified`` alone: of rows
  converted to Simplified), else null.

Reasons: ``normalize:empty`` (nothing left after normalization) and
``normalize:too_short`` (weighted length below ``min_chars``).

The length rule is a floor for fragments ("Home", "404", a lone word), not a quality
rule (the heuristics stage judges real documents). Length is counted after
normalization, with each Han/kana/Hangul character counting ``cjk_char_weight``
characters: the same content takes roughly a third as many characters in Chinese as
in English (an English word is ~5 letters plus a space, a Chinese word ~1.5
characters), so a 50-character Chinese text carries about what 150 English characters
do. ``min_chars=20`` keeps the shortest real math problem of the dev set
(``9只兔子有多少条腿？``: 10 characters, 8 of them Han, weighted 26) and every math and
code row, and drops one-word rows such as ``moved``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filters.normalize.chinese_script import simplify
from filters.normalize.mojibake import repair_mojibake
from filters.normalize.scan_kernel import CONTROL, MOJIBAKE, WHITESPACE
from filters.normalize.unicode_text import (clean_controls, code_point_counts, normalize_unicode_rows, normalize_whitespace,
                                           scan_flags)
from pipeline.active_rows import ActiveRows
from pipeline.stage import stage_reason


@dataclass
class NormalizeResult:
    """Per-row outcome of :func:`normalize_texts` (arrays aligned with the input)."""

    text: pa.Array
    changed: np.ndarray
    mojibake_fixed: np.ndarray
    zh_converted: np.ndarray


def normalize_texts(
    texts: pa.Array,
    *,
    unicode_form: Literal["safe", "nfc", "nfkc"] = "safe",
    protect_spans: bool = True,
    fix_mojibake: bool = True,
    to_simplified: bool = False,
    max_blank_lines: int = 2,
) -> NormalizeResult:
    """Normalize every row of ``texts`` (a string array; nulls become empty strings)."""
    original = pc.fill_null(texts.cast(pa.large_string()), "")
    n = len(original)
    arr = original
    mojibake_fixed = np.zeros(n, dtype=bool)
    zh_converted = np.zeros(n, dtype=bool)
    # every step's pre-check in one compiled pass; rows a step rewrites are scanned again
    flags = scan_flags(arr, max_blank_lines)
    if fix_mojibake:
        arr, mojibake_fixed = repair_mojibake(arr, (flags & MOJIBAKE) != 0)
        flags = _rescan(arr, flags, mojibake_fixed, max_blank_lines)
    needs = (flags & CONTROL) != 0
    arr = clean_controls(arr, needs)
    flags = _rescan(arr, flags, needs, max_blank_lines)
    arr, rewritten = normalize_unicode_rows(arr, unicode_form, protect_spans, flags)
    flags = _rescan(arr, flags, rewritten, max_blank_lines)  # only those can have changed
    arr = normalize_whitespace(arr, max_blank_lines, (flags & WHITESPACE) != 0)
    if to_simplified:
        arr, zh_converted = simplify(arr)
    changed = np.asarray(pc.not_equal(arr, original).to_numpy(zero_copy_only=False), dtype=bool)
    return NormalizeResult(arr, changed, mojibake_fixed, zh_converted)


def _rescan(arr: pa.Array, flags: np.ndarray, rows: np.ndarray, max_blank_lines: int) -> np.ndarray:
    """``flags`` with the rows ``rows`` (which a step may have rewritten) scanned again."""
    if not rows.any():
        return flags
    flags = flags.copy()
    flags[rows] = scan_flags(arr.filter(pa.array(rows)), max_blank_lines)
    return flags


def _cjk_lookup() -> np.ndarray:
    table = np.zeros(0x110000, dtype=bool)
    for lo, hi in [(0x3040, 0x3100), (0x3400, 0x4DC0), (0x4E00, 0xA000), (0xAC00, 0xD7C0), (0xF900, 0xFB00),
                   (0x20000, 0x40000)]:
        table[lo:hi] = True  # kana, Han ext A, Han, Hangul syllables, compat ideographs, Han ext B-H
    return table


CJK_LOOKUP = _cjk_lookup()


def cjk_char_counts(texts: pa.Array) -> np.ndarray:
    """Han (incl. extensions and compatibility ideographs), kana and Hangul syllables per row.

    CJK punctuation is not counted: it carries no more than ASCII punctuation does.
    """
    return code_point_counts(texts, CJK_LOOKUP)


def weighted_length(chars: np.ndarray, cjk_chars: np.ndarray, cjk_char_weight: float) -> np.ndarray:
    """Length where a CJK character counts ``cjk_char_weight`` characters (others count 1)."""
    return chars + (cjk_char_weight - 1.0) * cjk_chars


@dataclass
class NormalizeStage:
    """Safe Unicode/whitespace/control normalization, mojibake repair, optional t2s, min length."""

    name: ClassVar[str] = "normalize"

    unicode_form: Literal["safe", "nfc", "nfkc"] = field(
        default="safe", metadata={"help": "safe: NFC + folds that keep math/code/CJK punctuation; nfkc: full NFKC outside math/code spans; nfc"})
    protect_spans: bool = field(default=True, metadata={"help": "leave code spans (and math spans under nfkc) out of compatibility folds"})
    fix_mojibake: bool = field(default=True, metadata={"help": "repair UTF-8 read as cp1252/latin-1 (ftfy) on rows the cheap check flags"})
    to_simplified: bool = field(default=False, metadata={"help": "convert Traditional Chinese to Simplified (OpenCC t2s); original kept in text_original"})
    keep_original: bool = field(default=False, metadata={"help": "keep the input text of every changed row in text_original"})
    max_blank_lines: int = field(default=2, metadata={"help": "longer runs of blank lines are collapsed to this many (2 = PEP 8's gap)"})
    min_chars: int = field(default=20, metadata={"help": "drop rows whose CJK-weighted length is below this (normalize:too_short)"})
    cjk_char_weight: float = field(default=3.0, metadata={"help": "a Han/kana/Hangul character counts this many characters toward min_chars"})

    def __post_init__(self) -> None:
        if self.max_blank_lines < 0:
            raise ValueError("max_blank_lines must be >= 0")
        if self.min_chars < 0:
            raise ValueError("min_chars must be >= 0")
        if self.cjk_char_weight <= 0:
            raise ValueError("cjk_char_weight must be > 0")
        self._ready = False

    def setup(self) -> None:
        """Nothing heavy: ftfy and OpenCC load lazily on the first row that needs them."""
        self._ready = True

    def __call__(self, batch: pa.Table) -> pa.Table:
        if not self._ready:
            self.setup()
        rows = ActiveRows.of(batch)
        texts = rows.column("text")
        res = normalize_texts(
            texts,
            unicode_form=self.unicode_form,
            protect_spans=self.protect_spans,
            fix_mojibake=self.fix_mojibake,
            to_simplified=self.to_simplified,
            max_blank_lines=self.max_blank_lines,
        )
        chars = np.asarray(pc.utf8_length(res.text).to_numpy(zero_copy_only=False), dtype=np.int64)
        cjk = cjk_char_counts(res.text)
        columns = {
            "norm_changed": (res.changed, pa.bool_()),
            "mojibake_fixed": (res.mojibake_fixed, pa.bool_()),
            "zh_converted": (res.zh_converted, pa.bool_()),
            "norm_chars": (chars, pa.int64()),
            "norm_cjk_chars": (cjk, pa.int64()),
        }
        if self.keep_original or self.to_simplified:
            keep = res.changed if self.keep_original else res.zh_converted
            original = pc.if_else(pa.array(keep), texts.cast(pa.large_string()), pa.scalar(None, pa.large_string()))
            columns["text_original"] = (original, pa.large_string())
        short = (chars > 0) & (weighted_length(chars, cjk, self.cjk_char_weight) < self.min_chars)
        batch = rows.scatter(batch, {"text": res.text}, keep_inactive=True)  # text keeps its type; dropped rows theirs
        return rows.scatter(batch, columns, reasons={stage_reason(self.name, "empty"): chars == 0,
                                                     stage_reason(self.name, "too_short"): short})
