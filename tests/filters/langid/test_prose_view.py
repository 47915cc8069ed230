import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filters.langid.prose_view import MASK_PATTERN, MASK_PATTERN_RE2, Segments, prose_view, segment, segment_samples


def prose_view_re2(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The reference: the same mask with Arrow's RE2 (one compile per call)."""
    out = pc.replace_substring_regex(texts, MASK_PATTERN_RE2, " ")
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


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


# ---------------------------------------------------------------- equal to the references

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"
TRICKY = [
    "ſ@a.b and \u212a@x.y and &\u017fa; and WWW.Example.COM/x HTTPS://A.B",  # (?i) folds \w both ways
    "tab\tsep\u000bvt https://a.b/c\u000bd www.x.y\u00a0z",  # RE2's \s has no \v; NBSP is no space
    "$a\nb$ $$\nx$$ \\begin{a}x\\end{b} \\(y\\) \\[z\\] ```\ncode\n``` ~~~\nt\n~~~ <pre class=x>p</pre>",
    "<code>c</code><script>s</script><style>t</style><b>b</b>&amp;&#123;&#x1F600; `x` \\alpha\\beta*",
    "中文 $x$，\n\n\u3000全角\u2028行\u2029段 https://例子.中国/路径 邮件 a_b.c+d@e-f.g.h",
    "", "   \n\t ", "a" * 3000 + "\n" + "短\n" * 300 + "\u3000\n\u2003\n" + "b " * 400,
]


def _dev_texts() -> list[str]:
    texts = []
    for path in sorted(DEV.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                row = json.loads(line)
                texts += [row[k] for k in ("text", "a", "b") if isinstance(row.get(k), str)]
    return texts + TRICKY


def _segment_polars(view: pa.Array, long_doc_bytes: int, chunk_bytes: int) -> Segments:
    """The reference plan the compiled segmentation replaced (same segments, same order), with
    the run state per document (``shift(1).over("doc")``: each document's first line starts a
    run; the frame-wide ``shift`` let a document's pieces depend on the one before it)."""
    df = pl.from_arrow(pa.table({"text": view})).with_row_index("doc")
    df = df.with_columns(pl.col("text").fill_null(""), pl.col("doc").cast(pl.Int64))
    size = pl.col("text").str.len_bytes()
    parts = [df.filter(size <= long_doc_bytes).select("doc", "text")]
    long = df.filter(size > long_doc_bytes)
    if long.height:
        lines = (
            long.with_columns(pl.col("text").str.split("\n")).explode("text")
            .filter(pl.col("text").str.strip_chars().str.len_bytes() > 0)
            .with_columns(size=pl.col("text").str.len_bytes() + 1)
            .with_columns(big=pl.col("size") >= chunk_bytes // 2)
            .with_columns(run=(pl.col("big") | pl.col("big").shift(1).over("doc").fill_null(True)).cum_sum())
            .with_columns(chunk=pl.col("size").cum_sum().over("run") // chunk_bytes)
            .group_by(["doc", "run", "chunk"], maintain_order=True)
            .agg(pl.col("text").str.join(" "))
        )
        parts.append(lines.select("doc", "text"))
    seg = pl.concat(parts).with_columns(pl.col("text").str.replace_all("\n", " ", literal=True))
    seg = seg.filter(pl.col("text").str.contains(r"[^\s]"))
    weight = seg["text"].str.len_bytes().to_numpy().astype(np.float64)
    return Segments(seg["text"].to_arrow(), seg["doc"].to_numpy(), weight)


def test_prose_view_equals_the_re2_reference_on_the_dev_sets():
    texts = pa.array(_dev_texts(), pa.large_string())
    assert len(texts) > 1000
    got, want = prose_view(texts).to_pylist(), prose_view_re2(texts).to_pylist()
    diffs = [(i, t[:60]) for i, (t, g, w) in enumerate(zip(texts.to_pylist(), got, want)) if g != w]
    assert not diffs, f"{len(diffs)} views differ, e.g. {diffs[:3]}"


def _exact(texts: list[str]) -> list[str]:
    """The view with the counted pattern on every text (what the guard must reproduce)."""
    return pl.Series(texts, dtype=pl.String).str.replace_all(MASK_PATTERN, " ").to_list()


def test_spans_at_and_past_the_counts_mask_as_the_counted_pattern():
    """``$`` and tag spans one character inside and one past the counts (multi-byte characters
    count once), with other arms inside and around them: the uncounted fast path must not
    swallow a span the counted pattern leaves to the other arms."""
    texts = []
    for fill in ("x", "中", "é"):
        for n in (1, 199, 200, 201, 299, 300, 301, 302, 1000):
            body = fill * n
            texts += [
                f"a ${body}$ b", f"a <{body}> b", f"${body} http://u.v/w {body}$ $y$",
                f"<{body} a@b.cc {body}> <i>", f"$$ {body} $ x $", f"<{body}\n>$", f"<a<{body}>",
                f"line $a\n{body}$ and <b\n{body}>", f"${body}$${body}$", f"`x` <{body}> `y` ${body}$",
            ]
    assert prose_view(pa.array(texts, pa.large_string())).to_pylist() == _exact(texts)


def test_random_texts_mask_as_the_counted_pattern_and_the_re2_reference():
    rng = np.random.default_rng(12)
    pieces = ["$", "$$", "<", ">", "\n", " ", "a", "中", "é", "x" * 120, "字" * 90, "\\", "\\alpha", "`", "```",
              "@", "a@b.cd", "http://", "www.", ".", "&amp;", "<pre>", "</pre>", "\\begin{a}", "\\end{a}", "~~~"]
    texts = ["".join(rng.choice(pieces, size=rng.integers(0, 60))) for _ in range(3000)]
    got = prose_view(pa.array(texts, pa.large_string())).to_pylist()
    assert got == _exact(texts)
    assert got == prose_view_re2(pa.array(texts, pa.large_string())).to_pylist()


@pytest.mark.parametrize("long_doc_bytes,chunk_bytes,batch", [(1000, 400, 1000), (2000, 400, 97), (300, 120, 250)])
def test_segment_equals_the_polars_reference(long_doc_bytes, chunk_bytes, batch):
    view = prose_view(pa.array(_dev_texts() + [None], pa.large_string()))
    for start in range(0, len(view), batch):
        part = view.slice(start, batch)
        got, want = segment(part, long_doc_bytes, chunk_bytes), _segment_polars(part, long_doc_bytes, chunk_bytes)
        assert got.text.to_pylist() == want.text.to_pylist()
        assert got.doc.tolist() == want.doc.tolist() and got.weight.tolist() == want.weight.tolist()


@pytest.mark.parametrize("max_chars", [150, 0, 1, 7, 399, 5000, -3])
@pytest.mark.parametrize("long_doc_bytes,chunk_bytes", [(2000, 400), (300, 120)])
def test_segment_samples_are_the_segments_sampled(max_chars, long_doc_bytes, chunk_bytes):
    """Segments written cut to their first characters: the same samples (code points, a
    multi-byte character whole), documents and whole-segment weights as cutting every segment."""
    view = prose_view(pa.array(_dev_texts() + [None, "é" * 900 + "\n" + "中" * 50, "𝟘 " * 700], pa.large_string()))
    for start in range(0, len(view), 500):
        part = view.slice(start, 500)
        got, whole = segment_samples(part, long_doc_bytes, chunk_bytes, max_chars), segment(part, long_doc_bytes, chunk_bytes)
        assert got.text.to_pylist() == whole.sample(max_chars).to_pylist()
        assert got.doc.tolist() == whole.doc.tolist() and got.weight.tolist() == whole.weight.tolist()


def test_a_document_is_cut_and_scored_the_same_whatever_its_batch():
    """A long document's segments, and so its language scores, do not depend on the texts
    before it in the batch (a long text ending in short lines once shifted the next one's
    piece boundaries, and batch size changed lang_score on 43 of the benchmark's documents)."""
    from filters.langid.stage import LangIdStage
    from pipeline.schema import make_batch

    texts = [t for t in _dev_texts() if t and len(t.encode()) > 1000][:60]
    short_tail = "intro line\n" + "short line here\n" * 40  # long, and ends in short lines
    view = prose_view(pa.array(texts, pa.large_string()))
    for k in range(len(texts)):
        alone = segment(view.slice(k, 1), 1000, 400).text.to_pylist()
        batch = segment(prose_view(pa.array([short_tail, texts[k]], pa.large_string())), 1000, 400)
        assert [t for t, d in zip(batch.text.to_pylist(), batch.doc) if d == 1] == alone
    stage = LangIdStage()
    together = stage(make_batch([short_tail, *texts], ids=[str(i) for i in range(len(texts) + 1)], source="t"))
    one_by_one = [stage(make_batch([t], ids=["x"], source="t"))["lang_score"][0].as_py() for t in texts]
    assert together["lang_score"].to_pylist()[1:] == one_by_one
