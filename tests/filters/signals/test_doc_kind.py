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


def test_a_later_call_on_rows_of_the_last_batch_equals_a_fresh_computation():
    import pyarrow as pa
    import pyarrow.compute as pc

    from filters.signals import doc_kind as dk

    texts = pa.array(["def f(x):\n    return x\n\nprint(f(2))\nx = 1;\n", "解方程 $x^2=4$，得 x=2。", "Plain prose here.",
                      None, "", "Plain prose here."], pa.large_string())
    cfg = dk.DocKindConfig()
    dk.doc_kind_frame(texts, cfg)  # remembered
    sub = texts.take(pa.array([5, 1, 3, 0]))
    fresh = dk._doc_kind_frame(pc.utf8_slice_codeunits(sub, 0, cfg.head_chars), cfg)
    assert dk.doc_kind_frame(sub, cfg).equals(fresh)  # gathered from the remembered batch
    other = pa.array(["x = 1;\ny = 2;\nz = 3;\n", "Plain prose here."], pa.large_string())  # one row not seen
    assert dk.doc_kind_frame(other, cfg).equals(dk._doc_kind_frame(other, cfg))
    assert dk.doc_kind_frame(other, cfg)["doc_kind"].to_list() == ["code", "prose"]
