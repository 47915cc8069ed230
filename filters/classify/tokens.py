"""The one tokenization shared by classifier training and inference.

fastText splits its input on whitespace only, so whatever a model saw at training
time must be reproduced exactly when it scores: this module is the single place
that turns a document into a fastText input line, and both
``filters.classify.train`` and ``filters.classify.stage`` call :func:`tokenize_many`
(a test asserts they do). What it does, and why:

* Every Han character is one token; the models are trained with ``wordNgrams=2``,
  so fastText also sees every character bigram, which is what a Chinese word
  segmenter would mostly have produced. Chinese has no spaces: without this a whole
  clause would be one "word". Character tokens replaced jieba segmentation (8x
  faster, and jieba was 96% of the stage's time on Chinese text); they need no
  dictionary, give the same output on every worker and do not depend on a
  segmenter's vocabulary for math and code terms.
* Latin text is lowercased; a token is a run of letters (and ``_``) or a run of
  digits, so ``x2`` is ``x 2``. Every other visible character is a token of its own,
  because symbols carry most of the signal for code (``{ } ; = ( ) -> ::``) and for
  math (``^``, ``=``, ``$``); a TeX control word (``\\frac``) stays one token.
* Line structure is kept as tokens: a line break (a run of ``\\n``/``\\r``/``\\f``/``\\v``
  with at least one ``\\n``) becomes ``N`` (:data:`NEWLINE`) and indentation after it
  ``I`` (:data:`INDENT`): line structure separates source code from prose better than
  any keyword. Upper-case letters cannot occur in lowercased text, so these markers
  never collide with a word.
* Digit runs of five or more digits become ``NUM`` (:data:`LONG_NUMBER`), so phone
  numbers, ids and hashes do not grow the vocabulary.
* Unicode spaces (``\\u3000``, no-break space...) become plain spaces: fastText only
  splits on ASCII whitespace.

How: a whole batch is one string (pieces joined by a separator noncharacter), encoded
to UTF-16 and tokenized in one compiled pass over its code units
(:mod:`filters.classify.token_kernel`): lookup tables give each code unit its lowercase
(``str.lower`` per character) and its class (space, letter, digit, Han, symbol), a space
goes wherever two visible classes meet or a Han character/symbol stands, and the result
is decoded and split back into pieces. No Python work per token; the NumPy version this
replaced (``tests/filters/classify/tokens_reference.py``) is the tests' reference.
"""

from __future__ import annotations

import codecs
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa

from filters.classify.token_kernel import tokenize_pieces, tokenize_units, utf8_lines

NEWLINE = "N"
INDENT = "I"
LONG_NUMBER = "NUM"

# Joins the pieces of a batch (a noncharacter: not valid in interchange; removed from
# any input that holds it).
_SEPARATOR = "\ufdd3"
# Code unit classes. LETTER and above are visible; a space goes between two visible
# units of different classes, and before/after every unit of class HAN and above
# (except inside a TeX control word and inside a surrogate pair).
SPACE, BREAK, LETTER, DIGIT, HAN, SYMBOL, TEX, HIGH, LOW = range(9)
# Han: CJK radicals, ideographs (URO, extension A, compatibility) and the ideographic
# iteration/number marks. Ideographs outside the BMP (extensions B-H, rare) are surrogate
# pairs here: each is one token, like a symbol.
HAN_RANGES = ((0x2E80, 0x2FDF), (0x3005, 0x3005), (0x3007, 0x3007), (0x3021, 0x3029), (0x3038, 0x303B),
              (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
# Most code units tokenized in one pass (bounds the encoded input and the output buffer).
_BATCH_UNITS = 1 << 22


def _class_table() -> np.ndarray:
    table = np.full(0x10000, SYMBOL, dtype=np.uint8)
    for c in range(0x10000):
        ch = chr(c)
        if ch.isspace():
            table[c] = SPACE
        elif ch.isdecimal():
            table[c] = DIGIT
        elif (ch.isalnum() or ch == "_") and not "A" <= ch <= "Z":  # A-Z only occur as markers
            table[c] = LETTER
    for lo, hi in HAN_RANGES:
        table[lo:hi + 1] = HAN
    table[0xD800:0xDC00] = HIGH
    table[0xDC00:0xE000] = LOW
    table[ord(_SEPARATOR)] = BREAK
    return table


def _lower_table() -> np.ndarray:
    """Each code unit's lowercase where that is one code unit (``str.lower`` per character);
    whitespace other than the line breaks (``\n \v \f \r``, marked later) -> a space."""
    table = np.arange(0x10000, dtype=np.uint16)
    for c in range(0x10000):
        low = chr(c).lower()
        if chr(c).isspace() and not 0x0A <= c <= 0x0D:
            table[c] = 0x20
        elif len(low) == 1 and not 0xD800 <= c < 0xE000:
            table[c] = ord(low)
    return table


def _space_table() -> np.ndarray:
    """For (class before, class after): does a space go between them."""
    table = np.zeros((9, 9), dtype=bool)
    for prev in range(9):
        for cur in range(9):
            table[prev, cur] = (cur >= LETTER and prev >= LETTER and (cur != prev or cur >= HAN)
                                and not (prev == TEX and cur == LETTER) and not (prev == HIGH and cur == LOW))
    return table.reshape(-1)


_CLASS = _class_table()
_LOWER = _lower_table()
_SPACE_BETWEEN = _space_table()


def _tokenize_units(joined: str) -> np.ndarray:
    raw = np.frombuffer(joined.encode("utf-16-le", "replace"), dtype=np.uint16)
    return tokenize_units(raw, _LOWER, _CLASS, _SPACE_BETWEEN, SYMBOL, TEX, DIGIT)


def _tokenize_joined(joined: str) -> str:
    if not joined:
        return ""
    return codecs.utf_16_le_decode(_tokenize_units(joined), "replace")[0]


def _tokenize_joined_utf8(joined: str) -> list[bytes]:
    """The joined batch's lines as UTF-8 bytes, each ending in ``\\n``."""
    buf, ends = utf8_lines(_tokenize_units(joined), ord(_SEPARATOR))
    data = buf.tobytes()
    starts = [0, *ends[:-1].tolist()]
    return [data[s:e] for s, e in zip(starts, ends.tolist())]


def tokenize_many_binary(texts: Iterable[str]) -> pa.LargeBinaryArray:
    """:func:`tokenize_many` with ``encoded=True`` as one Arrow binary array: the same bytes
    per line (``\\n`` included), straight from the tokenizer's buffers, for a predictor
    that reads Arrow (:class:`filters.fasttext_infer.predictor.CompiledPredictor`)."""
    datas, ends_all, base = [], [np.zeros(1, np.int64)], 0
    for joined in _joined_batches(texts):
        buf, ends = utf8_lines(_tokenize_units(joined), ord(_SEPARATOR))
        datas.append(buf[: ends[-1]] if len(ends) else buf[:0])
        ends_all.append(ends + base)
        base += int(ends[-1]) if len(ends) else 0
    offsets = np.concatenate(ends_all)
    data = np.concatenate(datas) if datas else np.zeros(0, np.uint8)
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def tokenize_pieces_binary(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.LargeBinaryArray:
    """:func:`tokenize_many_binary` of the UTF-8 pieces ``data[starts[i]:ends[i]]`` (byte
    ranges of an Arrow text array, :func:`filters.classify.piece_kernel.piece_ranges`),
    with no Python string per piece: the same lines, byte for byte, made piece by piece
    (:func:`filters.classify.token_kernel.tokenize_pieces`)."""
    buf, line_ends = tokenize_pieces(data, np.asarray(starts, np.int64), np.asarray(ends, np.int64), _LOWER, _CLASS,
                                     _SPACE_BETWEEN, SYMBOL, TEX, DIGIT, ord(_SEPARATOR))
    offsets = np.zeros(len(line_ends) + 1, np.int64)
    offsets[1:] = line_ends
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(line_ends), [None, pa.py_buffer(offsets), pa.py_buffer(buf)])


def _joined_batches(texts: Iterable[str]) -> Iterator[str]:
    """The texts joined by the separator, a few million characters per piece (whole texts)."""
    texts = [t.replace(_SEPARATOR, "") if _SEPARATOR in t else t for t in texts]
    i = 0
    while i < len(texts):
        j, units = i, 0
        while j < len(texts) and (j == i or units + len(texts[j]) <= _BATCH_UNITS):
            units += len(texts[j]) + 1
            j += 1
        yield _SEPARATOR.join(texts[i:j])
        i = j


def tokenize_many(texts: Iterable[str], encoded: bool = False) -> list[str] | list[bytes]:
    """Each text as one fastText input line (space-separated tokens, no newline).

    The batch form the stage and the trainer use: texts are tokenized together, a few
    million characters per pass. ``encoded=True`` gives each line as the bytes fastText
    reads instead: its UTF-8 encoding followed by ``\\n`` (what fastText's own ``predict``
    sends for a ``str`` line), made without a Python string per line; the stage passes
    them to fastText's batch predict as they are.
    """
    out: list = []
    for joined in _joined_batches(texts):
        out.extend(_tokenize_joined_utf8(joined) if encoded else _tokenize_joined(joined).split(_SEPARATOR))
    return out


def classifier_tokens(text: str) -> str:
    """``text`` as one fastText input line (:func:`tokenize_many` of one text)."""
    return tokenize_many([text])[0]
