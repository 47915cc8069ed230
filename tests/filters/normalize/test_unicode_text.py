"""Unicode/whitespace/control normalization on real math, code and Chinese rows."""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import pyarrow as pa
import pytest

from filters.normalize.unicode_text import (
    FOLD_TABLE,
    apply_where,
    clean_controls,
    normalize_unicode,
    normalize_whitespace,
)


def _rows(dev_data, name):
    return [json.loads(line) for line in (dev_data / name).open(encoding="utf-8")]


def run(texts, form="safe", protect_spans=True, max_blank_lines=2):
    arr = pa.array(list(texts), pa.large_string())
    arr = clean_controls(arr)
    arr = normalize_unicode(arr, form, protect_spans)
    return normalize_whitespace(arr, max_blank_lines).to_pylist()


def whitespace_oracle(text: str, max_blank_lines: int = 2) -> str:
    """The documented whitespace rules, written independently with Python's re."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[ \t\u3000]+$", "", text, flags=re.M)
    text = re.sub("\n{%d,}" % (max_blank_lines + 2), "\n" * (max_blank_lines + 1), text)
    return text.lstrip("\n").rstrip("\n")


def test_latex_rows_only_get_whitespace_rules(dev_data):
    rows = _rows(dev_data, "math_pos_en.jsonl")
    texts = [r["text"] for r in rows]
    out = run(texts)
    assert out == [whitespace_oracle(t) for t in texts]
    fracs = [t for t in out if r"\frac{1}{2}" in t]
    assert fracs, "the dev set has \\frac{1}{2}"
    assert sum(t.count("\\") for t in out) == sum(t.count("\\") for t in texts)
    assert sum(t.count("$") for t in out) == sum(t.count("$") for t in texts)


def test_code_rows_keep_indentation_and_internal_spaces(dev_data):
    rows = _rows(dev_data, "code_pos.jsonl")
    texts = [r["text"] for r in rows]
    out = run(texts)
    assert out == [whitespace_oracle(t) for t in texts]
    for before, after in zip(texts, out):
        lead_before = [re.match(r"[ \t]*", ln).group() for ln in before.splitlines() if ln.strip()]
        lead_after = [re.match(r"[ \t]*", ln).group() for ln in after.splitlines() if ln.strip()]
        assert lead_before == lead_after
    assert any("\t" in t for t in out) or any("    " in t for t in out)


def test_chinese_punctuation_survives(dev_data):
    texts = [r["text"] for r in _rows(dev_data, "math_pos_zh.jsonl")]
    out = run(texts)
    for ch in "，。：；！？（）．、":
        assert sum(t.count(ch) for t in out) == sum(t.count(ch) for t in texts), ch
    assert sum(t.count("，") for t in out) > 100
    # NFKC would have folded them: this is what the safe default avoids.
    assert run(["甲：乙＝３：５，对吗？"], form="nfkc", protect_spans=False) == ["甲:乙=3:5,对吗?"]
    assert run(["甲：乙＝３：５，对吗？"]) == ["甲：乙=3：5，对吗？"]


def test_superscripts_and_math_symbols_kept_by_default():
    text = "x² + y₂ = 𝐱·ℝ, ① ½ … ℃"
    assert run([text]) == [text]
    assert run([text], form="nfc") == [text]
    # Full NFKC outside spans turns x² into x2 (another expression) ...
    assert run(["area x² m"], form="nfkc") == ["area x2 m"]
    # ... but not inside math spans, which only get the safe folds.
    assert run(["the area $x² + ｙ$ m²"], form="nfkc") == ["the area $x² + y$ m2"]
    assert run(["x² $x²$"], form="nfkc", protect_spans=False) == ["x2 $x2$"]


def test_safe_folds():
    assert run(["ｘ＋１２３ＡＢＣ＝？"]) == ["x+123ABC=？"]
    assert run(["ﬁnd the ﬂow"]) == ["find the flow"]
    assert run(["⼀⼆三"]) == ["一二三"]  # Kangxi radicals from PDF extraction
    assert run(["ｶﾞｷﾞ｡"]) == ["ガギ。"]  # half-width kana composed by the NFC that follows
    assert run(["price ￥５"]) == ["price ¥5"]
    assert run(["e\u0301"]) == ["\u00e9"]  # NFC
    for ch in "！（），．：；？":
        assert ch not in FOLD_TABLE
    assert "²" not in FOLD_TABLE and "①" not in FOLD_TABLE and "\u3000" not in FOLD_TABLE


def test_code_spans_are_not_folded():
    text = "Use ｘ here:\n```python\ns = 'ｘ１'\n```\nand `ｙ` inline, ｙ outside"
    assert run([text]) == ["Use x here:\n```python\ns = 'ｘ１'\n```\nand `ｙ` inline, y outside"]
    assert run([text], protect_spans=False)[0].count("ｘ") == 0


def test_whitespace_rules():
    assert run(["a\r\nb\rc\x0bd\x0ce\u2028f"]) == ["a\nb\nc\nd\ne\nf"]
    assert run(["line  \t\nnext\u3000\u3000\nend   "]) == ["line\nnext\nend"]
    assert run(["a\n\n\n\n\n\nb"]) == ["a\n\n\nb"]
    assert run(["a\n\n\n\n\n\nb"], max_blank_lines=0) == ["a\nb"]
    assert run(["a\n\n\nb"]) == ["a\n\n\nb"]  # two blank lines (PEP 8) stay
    assert run(["\n\n  \n    def f():\n\treturn  1\n\n"]) == ["    def f():\n\treturn  1"]
    assert run(["\u3000\u3000第一段。\n\u3000\u3000第二段。"]) == ["\u3000\u3000第一段。\n\u3000\u3000第二段。"]
    assert run(["a\u00a0b\u2009c\u202fd"]) == ["a b c d"]
    assert run(["x =    1    # aligned"]) == ["x =    1    # aligned"]


def test_controls_and_invisibles():
    assert run(["\ufeffa\u200bb\u2060c\u00add\x00e\x07f\x7fg"]) == ["abcdefg"]
    assert run(["\x1b[31mred\x1b[0m text"]) == ["red text"]
    assert run(["a\tb"]) == ["a\tb"]
    family = "👨\u200d👩\u200d👧"
    assert run([family]) == [family]  # ZWJ sequences stay


def test_nfkc_without_protection_is_plain_nfkc(dev_data):
    texts = [r["text"] for r in _rows(dev_data, "math_pos_zh.jsonl")][:50]
    out = run(texts, form="nfkc", protect_spans=False)
    assert out == [whitespace_oracle(unicodedata.normalize("NFKC", t)) for t in texts]


def test_apply_where_rewrites_only_masked_rows():
    arr = pa.array(["a", "b", "c"], pa.large_string())
    out = apply_where(arr, np.array([False, True, False]), lambda sub: pa.array(["X"] * len(sub)))
    assert out.to_pylist() == ["a", "X", "c"]
    assert apply_where(arr, np.zeros(3, bool), lambda sub: 1 / 0) is arr


@pytest.mark.parametrize("form", ["safe", "nfc", "nfkc"])
def test_clean_ascii_text_is_returned_as_is(form):
    texts = ["def f(x):\n    return x ** 2", "plain English."]
    assert run(texts, form=form) == texts


def test_code_point_counts_count_each_listed_character_outside_ascii(dev_data):
    from filters.normalize.stage import CJK_LOOKUP
    from filters.normalize.unicode_text import code_point_counts

    texts = [json.loads(line)["text"] for name in ("langid", "math_pos_zh", "neg_zh", "code_pos")
             for line in (dev_data / f"{name}.jsonl").read_text(encoding="utf-8").split("\n") if line]
    texts += ["", "ascii only", "𠀀𪚥 ext B, かな, 한국어, ｆｕｌｌ, 中文", None]
    lookup = CJK_LOOKUP.copy()
    lookup[ord("a")] = True  # ASCII is never counted, whatever the table says
    want = [sum(bool(lookup[ord(ch)]) for ch in t if ord(ch) >= 0x80) if t else 0 for t in texts]
    arr = pa.array(texts, pa.string())
    assert code_point_counts(arr, lookup).tolist() == want
    assert code_point_counts(arr.slice(5, 40), lookup).tolist() == want[5:45]
    assert code_point_counts(pa.chunked_array([arr.slice(0, 3), arr.slice(3)]), lookup).tolist() == want
    assert sum(want) > 1000 and code_point_counts(pa.array([], pa.string()), lookup).tolist() == []
    with pytest.raises(ValueError, match="one per code point"):
        code_point_counts(arr, np.zeros(0x10000, bool))


@pytest.mark.parametrize("form", ["safe", "nfkc", "nfc"])
def test_the_rewritten_rows_cover_every_changed_row(form):
    """normalize_unicode_rows names the rows it rewrote: every row that changed is among them
    (normalize rescans only those), and the text is normalize_unicode's."""
    from filters.normalize.scan_kernel import NON_ASCII
    from filters.normalize.unicode_text import normalize_unicode_rows, scan_flags

    texts = ["plain ascii", "ＡＢＣ１２３", "e\u0301", "中文，标点。", "`ｘ` and ｙ", "caf\u00e9", "ｶﾞ", "$ｘ^2$ ﬁ", "", "x\u00a0y"]
    arr = pa.array(texts * 3, pa.large_string())
    for flags in (None, scan_flags(arr)):
        out, rewritten = normalize_unicode_rows(arr, form, True, flags)
        assert out.equals(normalize_unicode(arr, form, True, flags))
        changed = np.array([a != b for a, b in zip(arr.to_pylist(), out.to_pylist())])
        assert changed.any() and not (changed & ~rewritten).any()
        assert not (rewritten & ((scan_flags(arr) & NON_ASCII) == 0)).any()  # ASCII rows are never rewritten
