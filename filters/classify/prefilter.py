"""A cheap, vectorized first stage: which documents can be math or code at all.

Web crawls are mostly neither (math is ~1% of pages or less), and the fastText
models are the expensive part of the ``classify`` stage. Like OpenWebMath's and
FineMath's cascades, a few regex matches done by Arrow's C++ kernels
(``pyarrow.compute.match_substring_regex``, early-exit, each on the documents still
undecided) decide which documents are worth scoring; the others get a score of 0.

The rules are recall-first: a document passes the math gate with any TeX
(``\\frac``, ``$``), any math symbol, a number with a math word (word problems are
numbers and "how many"), two numbers with an operator, or three numbers; it passes the code gate with
a code fence, indented lines, a few code punctuation marks, ``name = value`` lines
or a code keyword.
A short question with no number in it ("西贡商信银行成立的时间是什么时候？") cannot
be a math page and is never scored as one, which is where a fastText model
trained on benchmark problems went most wrong. ``benchmarks/classifier_eval.py``
prints the gates' recall on positives and pass rate on general text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.active_rows import contiguous

# RE2 syntax (Arrow's regex engine).
TEX = r"\\[a-zA-Z]+|\$"
MATH_SYMBOL = r"[∑∫√∞∂∈∉⊂⊆∀∃≤≥≠≈±×÷→⇒⇔∝∏∇αβγδεθλμπσφωΔΣΩ]"
ASCII_OPERATOR = r"[0-9a-zA-Z)] ?[-+*/^=<>] ?[0-9a-zA-Z(]"
NUMBER = r"[0-9]+(?:\.[0-9]+)?"
MATH_WORD = (r"(?i)多少|几|求|计算|方程|函数|概率|证明|面积|周长|体积|平均|"
             r"\b(?:how (?:many|much)|solve|equation|prove|proof|probability|theorem|lemma|integral|derivative|"
             r"matrix|vector|calculate|compute|average|percent|total)\b")
CODE_FENCE = r"```|~~~"
INDENTED_LINE = r"\n(?:    |\t)[^\s]"
CODE_PUNCT = r"[{};]|\(\)|==|!=|->|=>|::|\+\+|&&|\|\||</?[a-z]+>"
ASSIGNMENT_LINE = r"(?m)^[A-Za-z_][A-Za-z0-9_.]* ?=[^=]"
CODE_WORD = (r"\b(?:def|class|import|return|function|var|let|const|public|private|static|void|fn|impl|struct|"
             r"include|exports|require|println|printf|print|elif|lambda|async|await|null|None|true|false)\b")


@dataclass(frozen=True)
class Gates:
    """Which documents each model should score (numpy bool arrays, one entry per text)."""

    math: np.ndarray
    code: np.ndarray

    @property
    def any(self) -> np.ndarray:
        return self.math | self.code


def text_heads(texts: pa.Array | pa.ChunkedArray | list[str], max_chars: int = 0) -> pa.Array:
    """``texts`` as one contiguous Arrow array, cut to their first ``max_chars`` code units when > 0."""
    arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.large_string())
    arr = contiguous(arr)
    if max_chars > 0 and len(arr):
        arr = pc.utf8_slice_codeunits(arr, 0, max_chars)
    return arr


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)


def _subset(arr: pa.Array, mask: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    idx = np.flatnonzero(mask)
    return idx, arr.take(pa.array(idx, pa.int64()))


# The gates as matches, not counts: "at least k signals" is one pattern (``A.*A.*A``), so
# RE2 runs a DFA that stops at the first hit instead of finding every occurrence, and
# each later test runs only on the documents still undecided. Numbers here are digit
# runs separated by any non-digit ("1.5" is two), which opens a gate a little more often
# than counting NUMBER would, never less.
_MATH_ANY = f"{TEX}|{MATH_SYMBOL}"
_DIGIT = r"[0-9]"
_TWO_NUMBERS = r"(?s)[0-9].*[^0-9][0-9]"
_THREE_NUMBERS = r"(?s)[0-9].*[^0-9][0-9].*[^0-9][0-9]"
_THREE_PUNCT = f"(?s:(?:{CODE_PUNCT}).*(?:{CODE_PUNCT}).*(?:{CODE_PUNCT}))"
_CODE_OTHER = "|".join([CODE_FENCE, f"(?s:{INDENTED_LINE}.*{INDENTED_LINE})", f"(?s:{CODE_WORD}.*{CODE_WORD})"])
_ASSIGN = ASSIGNMENT_LINE.removeprefix("(?m)")
_THREE_ASSIGNMENTS = f"(?ms){_ASSIGN}.*{_ASSIGN}.*{_ASSIGN}"


def gates(texts: pa.Array | pa.ChunkedArray | list[str], max_chars: int = 0) -> Gates:
    """The math and code gates of every document (see the module docstring for the rules).

    ``max_chars`` > 0 looks at the first ``max_chars`` code units of each document only.
    The rules, as counts of the signals above: ``tex`` or ``math_symbol`` > 0, three
    numbers, two numbers and an operator, a number and a math word; a fence, two indented
    lines, three code punctuation marks, two code words, three assignment lines, or a
    punctuation mark and a code word; evaluated as early-exit matches (the tests check them
    against a counting reference).
    """
    arr = text_heads(texts, max_chars)
    if len(arr) == 0:
        return Gates(math=np.zeros(0, dtype=bool), code=np.zeros(0, dtype=bool))
    math = _matches(arr, _MATH_ANY)
    idx, rest = _subset(arr, ~math)
    if len(idx):
        with_digit, rest = _subset(rest, _matches(rest, _DIGIT))
        if len(with_digit):
            opened = _matches(rest, _THREE_NUMBERS)
            undecided, rest = _subset(rest, ~opened)
            if len(undecided):
                two = _matches(rest, _TWO_NUMBERS)
                if two.any():
                    two[two] = _matches(rest.filter(pa.array(two)), ASCII_OPERATOR)
                word = np.flatnonzero(~two)
                if len(word):
                    two[word] = _matches(rest.take(pa.array(word, pa.int64())), MATH_WORD)
                opened[undecided] = two
            math[idx[with_digit[opened]]] = True
    code = _matches(arr, _THREE_PUNCT)  # the cheapest rule that opens most code gates, then the others
    idx, rest = _subset(arr, ~code)
    if len(idx):
        code[idx] = _matches(rest, _CODE_OTHER)
        idx, rest = _subset(arr, ~code)
    if len(idx):
        opened = _matches(rest, _THREE_ASSIGNMENTS)
        undecided, rest = _subset(rest, ~opened)
        if len(undecided):
            with_punct, rest = _subset(rest, _matches(rest, CODE_PUNCT))
            if len(with_punct):
                opened[undecided[with_punct[_matches(rest, CODE_WORD)]]] = True
        code[idx] = opened
    return Gates(math=math, code=code)
