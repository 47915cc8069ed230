import pyarrow as pa

from filters.langid.prose_view import prose_view, segment


def test_prose_view_masks_latex_code_urls_and_markup():
    text = "设 $x^2+1=0$，求 $$\\frac{a}{b}$$ 的值。见 https://a.b/c?d=1 和 <b>粗</b> `code` ```py\nimport os\n``` \\begin{align} a &= b \\end{align} 完 a@b.com &amp;"
    view = prose_view(pa.array([text])).to_pylist()[0]
    for gone in ["x^2", "frac", "https", "<b>", "code", "import", "align", "a@b.com", "&amp;"]:
        assert gone not in view
    for kept in ["设", "求", "的值。见", "粗", "完"]:
        assert kept in view


def test_segment_splits_only_long_documents_and_removes_newlines():
    texts = pa.array(["short one\nline two", "", "中文行\n" * 1000, "x"])
    segs = segment(texts, long_doc_bytes=2000, chunk_bytes=400)
    docs = segs.doc.tolist()
    assert docs.count(0) == 1 and docs.count(3) == 1 and 1 not in docs  # empty doc: no segment
    assert docs.count(2) > 5  # the long one is cut into ~400-byte pieces
    assert all("\n" not in s for s in segs.text.to_pylist())
    assert abs(segs.weight[segs.doc == 2].sum() - len(("中文行 " * 1000).encode())) < 2 * docs.count(2)
