"""The vectorized prefilter: which documents each model is asked about, on real rows."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filters.classify.prefilter import (ASCII_OPERATOR, ASSIGNMENT_LINE, CODE_FENCE, CODE_PUNCT, CODE_WORD,
                                       INDENTED_LINE, MATH_SYMBOL, MATH_WORD, NUMBER, TEX, gates, text_heads)


def _count(arr: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)


def signal_counts(texts: pa.Array | pa.ChunkedArray | list[str], max_chars: int = 0) -> dict[str, np.ndarray]:
    """Per-document counts of each math and code signal (vectorized, no Python loop).

    ``max_chars`` > 0 counts in the first ``max_chars`` code units of each document only
    (the stage passes what it would score at most), so a 400 KB file costs what 16 KB do.
    """
    arr = text_heads(texts, max_chars)
    if len(arr) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return {k: empty for k in ("tex", "math_symbol", "operator", "number", "math_word", "fence", "indented",
                                   "code_punct", "code_word", "assignment")}
    return {
        "tex": _count(arr, TEX), "math_symbol": _count(arr, MATH_SYMBOL), "operator": _count(arr, ASCII_OPERATOR),
        "number": _count(arr, NUMBER), "math_word": _count(arr, MATH_WORD), "fence": _count(arr, CODE_FENCE),
        "indented": _count(arr, INDENTED_LINE), "code_punct": _count(arr, CODE_PUNCT),
        "code_word": _count(arr, CODE_WORD), "assignment": _count(arr, ASSIGNMENT_LINE),
    }


def _texts(dev_data, name):
    return [json.loads(line)["text"] for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")]


def test_math_and_code_rows_pass_their_gate(dev_data):
    for name, gate in (("math_pos_en", "math"), ("math_pos_zh", "math"), ("code_pos", "code")):
        g = gates(_texts(dev_data, name))
        assert getattr(g, gate).mean() >= 0.99, name


def test_word_problems_with_one_number_and_a_question_word_pass():
    g = gates(["9只兔子有多少条腿？", "小强原来有4辆小汽车，现在有几辆？", "How many apples are left if I eat 3?"])
    assert g.math.tolist() == [True, True, True]


def test_prose_without_signals_is_never_scored(dev_data):
    texts = ["北京大学是哪一年成立的？", "who is the president of france?", "我想找一家评分高的餐馆。"]
    g = gates(texts)
    assert not g.any.any()
    # most treebank sentences carry no math or code signal at all
    g = gates(_texts(dev_data, "neg_zh"))
    assert g.math.mean() < 0.3 and g.code.mean() < 0.05


def test_counts_are_per_document_and_accept_arrow_arrays():
    arr = pa.chunked_array([pa.array(["$x^2$ and \\alpha", ""], pa.large_string()),
                            pa.array(["```\nint main() { return 0; }\n```"], pa.large_string())])
    c = signal_counts(arr)
    assert c["tex"].tolist() == [3, 0, 0]
    assert c["fence"].tolist() == [0, 0, 2] and c["code_punct"][2] >= 3
    g = gates(arr)
    assert g.math.tolist() == [True, False, False] and g.code.tolist() == [False, False, True]
    assert gates([]).any.shape == (0,) and isinstance(gates([]).math, np.ndarray)


def test_match_gates_open_wherever_the_counted_rules_do(dev_data):
    """gates() evaluates the rules as early-exit matches; it never closes a gate that the
    counts (signal_counts) open, and differs only where a number has a decimal point."""
    texts = [t for name in ("math_pos_zh", "neg_zh", "neg_en", "code_pos", "langid") for t in _texts(dev_data, name)]
    texts += ["1.5 x", "3.14", "x = 1\ny = 2\nz = 3", "if (a) { b; }", "def f():\n    return 1\n    pass"]
    c = signal_counts(texts)
    math = ((c["tex"] > 0) | (c["math_symbol"] > 0) | ((c["number"] >= 1) & (c["math_word"] > 0))
            | ((c["number"] >= 2) & (c["operator"] > 0)) | (c["number"] >= 3))
    code = ((c["fence"] > 0) | (c["indented"] >= 2) | (c["code_punct"] >= 3) | (c["code_word"] >= 2)
            | (c["assignment"] >= 3) | ((c["code_punct"] >= 1) & (c["code_word"] >= 1)))
    g = gates(texts)
    assert not (math & ~g.math).any() and not (code & ~g.code).any()
    assert (g.code == code).all()
    extra = [t for t, m, n in zip(texts, math, g.math) if n and not m]
    assert all("." in t for t in extra) and len(extra) <= 0.02 * len(texts)
