import json

import pyarrow as pa

from filters.signals.doc_kind import doc_kind


def _texts(dev_data, name):
    return [json.loads(x)["text"] for x in open(dev_data / f"{name}.jsonl", encoding="utf-8")]


def _share(kinds, kind):
    return kinds.count(kind) / len(kinds)


def test_dev_rows_route_to_their_kind(dev_data):
    assert _share(doc_kind(pa.array(_texts(dev_data, "code_pos"))).to_pylist(), "code") >= 0.98
    assert _share(doc_kind(pa.array(_texts(dev_data, "math_pos_zh"))).to_pylist(), "math") >= 0.98
    en = doc_kind(pa.array(_texts(dev_data, "math_pos_en"))).to_pylist()
    assert _share(en, "math") >= 0.95 and _share(en, "prose") <= 0.02
    for name in ("neg_en", "neg_zh"):
        kinds = doc_kind(pa.array(_texts(dev_data, name))).to_pylist()
        assert _share(kinds, "prose") >= 0.9 and "code" not in kinds


def test_latex_page_with_some_code_lines_stays_math():
    text = "Let $f(x)=x^2$. Then $\\int_0^1 f(x)\\,dx = \\frac{1}{3}$.\n[asy]\ndraw((0,0)--(1,1));\ndot((0,0));\n[/asy]\nSo the answer is $\\boxed{1/3}$."
    assert doc_kind(pa.array([text])).to_pylist() == ["math"]
