"""HTML -> text pieces: math rewriting, code protection, charset decoding."""

from __future__ import annotations

import pytest
from resiliparse.parse.html import HTMLTree

from pipeline.io.readers.charset import decode_bytes, meta_charset, normalize_label
from pipeline.io.readers.html_math import mathml_to_tex, rewrite_math
from pipeline.io.readers.html_text import html_to_text, protect_code, restore

PROSE = "<p>" + "This paragraph is ordinary prose that an extractor keeps as the main content. " * 4 + "</p>"


def page(body: str) -> str:
    return f"<html><head><title>t</title></head><body><article>{PROSE}{body}{PROSE}</article></body></html>"


def rewritten(html: str) -> str:
    tree = HTMLTree.parse(html)
    rewrite_math(tree)
    return restore(tree.body.text)


@pytest.mark.parametrize(
    "html, expected",
    [
        ('<script type="math/tex">a_1</script>', "$a_1$"),
        ('<script type="math/tex; mode=display">\n  x \n = 1</script>', "$$x = 1$$"),
        ('<span class="MathJax_Preview">a</span><span class="MathJax">rendered</span>'
         '<script type="math/tex">a</script>', "$a$"),
        ('<span class="katex-display"><span class="katex"><span class="katex-mathml"><math><semantics><mrow/>'
         '<annotation encoding="application/x-tex">E=mc^2</annotation></semantics></math></span>'
         '<span class="katex-html">E=mc2</span></span></span>', "$$E=mc^2$$"),
        ('<math alttext="{\\displaystyle \\beta }"><mi>β</mi></math>', "$\\beta$"),
        ('<math display="block"><semantics><mi>x</mi><annotation encoding="application/x-tex">x_0</annotation>'
         '</semantics></math>', "$$x_0$$"),
        ('<span class="mwe-math-element"><span style="display:none"><math alttext="{\\displaystyle n!}">'
         '<mi>n</mi></math></span><img class="mwe-math-fallback-image-inline" alt="{\\displaystyle n!}"></span>', "$n!$"),
        ('<mjx-container class="MathJax"><mjx-math>junk</mjx-math><mjx-assistive-mml><math alttext="y^2"><mi>y</mi>'
         '</math></mjx-assistive-mml></mjx-container>', "$y^2$"),
        ('<img class="latex" alt="\\sqrt{2}" src="l.png">', "$\\sqrt{2}$"),
    ],
)
def test_math_notations_become_delimited_tex(html, expected):
    assert rewritten(f"<p>{html}</p>") == expected


def test_mathml_without_tex_is_rendered_as_tex():
    tree = HTMLTree.parse("<math><msup><mi>x</mi><mn>2</mn></msup><mo>≤</mo><mfrac><mi>α</mi>"
                          "<msqrt><mn>3</mn></msqrt></mfrac></math>")
    assert mathml_to_tex(tree.body.query_selector("math")) == "{x}^{2} \\le \\frac{\\alpha}{\\sqrt{3}}"


def test_images_with_other_classes_are_left_alone():
    assert rewritten('<p>a<img class="context-menu" alt="menu">b</p>') == "ab"


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_math_survives_both_extractors(extractor):
    html = page('<p>So <script type="math/tex">\\alpha+1</script> holds, and</p>'
                '<p><script type="math/tex; mode=display">\\sum_i x_i</script></p><p>Text \\(q\\) and $r$.</p>')
    text = html_to_text(html, extractor)
    assert "$\\alpha+1$" in text and "\n$$\\sum_i x_i$$\n" in text and "\\(q\\)" in text and "$r$" in text


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_code_layout_survives_both_extractors(extractor):
    code = "def f(x):\n    if x:\n\treturn 1\n    return  2"
    html = page(f'<figure class="highlight"><pre><code class="language-python">{code}</code></pre></figure>'
                '<div><code>line one\n  line two</code></div>'
                '<pre><span class="lineno">1</span>a = 1<br>b = 2</pre>')
    text = html_to_text(html, extractor)
    assert "\n" + code + "\n" in text
    assert "line one\n  line two" in text
    assert "a = 1\nb = 2" in text and "1a = 1" not in text


def test_protect_code_counts_outer_blocks_only():
    tree = HTMLTree.parse("<pre>a\n b</pre><pre><code>c\nd</code></pre><code>inline</code><pre>  </pre>")
    assert protect_code(tree) == 2


def test_marker_characters_in_the_page_do_not_leak_layout():
    html = page("<p>" + "Some odd ␊ and ␣ symbols in a long enough paragraph of ordinary prose. " * 3 + "</p>")
    text = html_to_text(html, "resiliparse")
    assert "Some odd and symbols in a long" in text  # removed, not turned into a line break or space run


@pytest.mark.parametrize(
    "label, codec",
    [("gb2312", "gb18030"), ("GBK", "gb18030"), ("x-gbk", "gb18030"), ("iso-8859-1", "cp1252"),
     ("Big5", "big5hkscs"), ("shift_jis", "cp932"), ("UTF8", "utf-8"), ("utf-8", "utf-8"), ("nonsense", None)],
)
def test_charset_labels_map_to_superset_codecs(label, codec):
    assert normalize_label(label) == codec


def test_gbk_page_declared_gb2312_decodes_characters_outside_gb2312():
    text = "镕基与喆：中文网页"  # 镕 and 喆 are GBK, not GB2312
    body = f"<html><head></head><body>{text}</body></html>".encode("gbk")
    decoded = decode_bytes(body, "gb2312")
    assert decoded.charset == "gb18030" and text in decoded.text and decoded.replaced == 0


def test_meta_charset_is_used_without_a_header():
    body = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head><body>数学题</body>'
    assert meta_charset(body.encode("gbk")) == "gb18030"
    assert "数学题" in decode_bytes(body.encode("gbk"), None).text


def test_valid_utf8_wins_over_a_wrong_latin1_header():
    body = "<p>Größe: 数学</p>".encode()
    decoded = decode_bytes(body, "iso-8859-1")
    assert decoded.charset == "utf-8" and "Größe: 数学" in decoded.text


def test_undeclared_legacy_bytes_are_detected():
    body = ("<p>" + "Это русский текст о компании и её истории. " * 20 + "</p>").encode("cp1251")
    decoded = decode_bytes(body, None)
    assert "русский текст" in decoded.text and decoded.replaced == 0


def test_bom_decides_the_encoding():
    body = "\ufeff<p>naïve</p>".encode("utf-16-le")
    decoded = decode_bytes(body, "utf-8")
    assert decoded.charset == "utf-16-le" and decoded.text == "<p>naïve</p>"
