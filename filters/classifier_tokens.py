"""The one tokenization shared by classifier training and inference.

fastText splits its input on whitespace only, so whatever a model saw at training
time must be reproduced exactly when it scores: this module is the single place
that turns a document into a fastText input line, and both
``filters.train_classifier`` and ``filters.classify`` call :func:`classifier_tokens`
(a test asserts they do). What it does, and why:

* Han runs are segmented with jieba (precise mode, no HMM, so the output depends
  only on jieba's dictionary and is the same on every worker). Chinese has no
  spaces; without segmentation fastText would see a whole clause as one "word".
* Latin text is lowercased and split into words, numbers and single symbols.
  Symbols are kept as tokens because they carry most of the signal for code
  (``{ } ; = ( ) -> ::``) and for math (``\\frac``, ``^``, ``=``, ``$``).
* Line breaks become the token ``<nl>`` (runs collapsed) and a line that starts
  with indentation gets ``<ind>``: line structure separates source code from prose
  better than any keyword.
* Digit runs longer than four digits become ``<num>`` so phone numbers, ids and
  hashes do not grow the vocabulary.
"""

from __future__ import annotations

import logging
from typing import Iterable

import regex

NEWLINE = "<nl>"
INDENT = "<ind>"
LONG_NUMBER = "<num>"

# One alternation, scanned left to right by the C regex engine:
#   1 a newline run, with the indentation that follows it
#   2 a run of Han characters (segmented by jieba afterwards)
#   3 a TeX control word (\frac, \alpha) kept whole
#   4 a word of letters/marks/underscore (any script except Han)
#   5 a digit run
#   6 any other visible character (one symbol = one token)
_TOKEN = regex.compile(
    r"(\n[\n\r\f\v]*[ \t]*)|(\p{Han}+)|(\\[a-z]+)|([[\p{L}\p{M}_]--\p{Han}][[\p{L}\p{M}\p{Nd}_]--\p{Han}]*)"
    r"|(\p{Nd}+)|([^\s\p{Han}])",
    regex.V1,
)

_jieba = None


def _load_jieba():
    """Import and initialise jieba once per process (~0.7 s dictionary load)."""
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba = jieba
    return _jieba


def _segment(han: str) -> list[str]:
    if len(han) == 1:
        return [han]
    return _load_jieba().lcut(han, cut_all=False, HMM=False)


def classifier_tokens(text: str) -> str:
    """``text`` as one fastText input line: space-separated tokens, no newline."""
    out: list[str] = []
    append = out.append
    for nl, han, tex, word, digits, sym in _TOKEN.findall(text.lower()):
        if nl:
            append(NEWLINE)
            last = nl.rsplit("\n", 1)[-1]
            if last and last[-1] in " \t":
                append(INDENT)
        elif han:
            out.extend(_segment(han))
        elif tex:
            append(tex)
        elif word:
            append(word)
        elif digits:
            append(digits if len(digits) <= 4 else LONG_NUMBER)
        else:
            append(sym)
    return " ".join(out)


def tokenize_many(texts: Iterable[str]) -> list[str]:
    """:func:`classifier_tokens` over a list (the batch form the stage and trainer use)."""
    return [classifier_tokens(t) for t in texts]
