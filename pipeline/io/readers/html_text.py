"""HTML -> main text, keeping math as LaTeX and code blocks with their layout.

Pipeline per page: parse once with resiliparse's DOM (lexbor, C) -> rewrite math into
delimited TeX text (:mod:`pipeline.io.readers.html_math`) -> protect code blocks -> main
content extraction -> restore code layout.

Code protection: extractors collapse whitespace and trafilatura drops many
``<pre><code>`` blocks outright (measured: every multi-line block of the pip tutorial
page in dolma's sample-0000 disappears). Each ``<pre>`` (and each ``<code>`` whose
text spans lines) is replaced by a ``<p>`` whose text is the code with newlines,
spaces and tabs encoded as Unicode control pictures (␊ ␣ ␉; private-use characters
do not work: trafilatura deletes them), which both extractors keep verbatim,
framed by block marks, and moved out of any ``<figure>`` (both extractors skip
figures, where Jekyll puts highlighted code); after extraction they are decoded, so
the block comes back on its own lines with its indentation. Line-number gutters are removed first. The
marker characters are deleted from the page beforehand (a known, tiny loss).

Extractor comparison (``python benchmarks/read_write.py --compare-extractors``: the 56
HTML 200 responses of the crawl samples, same math/code preparation for both, one
process, medians of 3; speed in documents per CPU-second of the whole html_to_text):

    extractor    docs/CPU-s  long <p> kept  nav/footer lines  CJK kept (warcfile)  code lines  formulas
    resiliparse         379        303/314       37/1754            9,418/14,975        49/49      45/45
    trafilatura          46        204/314       17/1328           11,118/14,975        45/49      40/45

resiliparse (main_content=True) is ~8x faster, keeps more of the long paragraphs and
every code line and injected formula; trafilatura lets through slightly fewer
navigation lines and keeps more of the (mostly spam) Chinese list pages. Neither
produced mojibake. resiliparse is the default; ``input.extract: trafilatura`` selects
the other. Both extractors' failure modes seen on the samples: resiliparse drops the
``<ul>`` list of soldaini.net/facts as boilerplate; trafilatura drops page titles and,
without the protection above, every highlighted code block.
"""

from __future__ import annotations

import re

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from pipeline.io.readers.html_math import BLOCK_MARK, rewrite_math, select

NEWLINE, SPACE, TAB = "\u240a", "\u2423", "\u2409"  # ␊ ␣ ␉
_DECODE_PAIRS = ((NEWLINE, "\n"), (SPACE, " "), (TAB, "\t"), (BLOCK_MARK, "\n"))
_MARKER_CHARS = tuple(char for char, _ in _DECODE_PAIRS)
_MARKERS = re.compile("[" + "".join(_MARKER_CHARS) + "]")
_ENCODE = str.maketrans({"\n": NEWLINE, " ": SPACE, "\t": TAB, "\r": None, "\xa0": SPACE})
_GUTTERS = ".gutter, .lineno, .linenos, .line-numbers-rows, .hljs-ln-numbers, .ln-num"
# Plain substring tests on the lowered page: an IGNORECASE regex alternation cost ~1.2 ms per
# 34 KB page here, more than the DOM work it guards.
_MATH_HINTS = ("math", "katex", "latex", "mjx-", "mwe-", "class=tex", 'class="tex')
_CODE_HINT = re.compile(r"<(?:pre|code)\b", re.IGNORECASE)
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING = re.compile(r"[ \t]+\n")
EXTRACTORS = ("resiliparse", "trafilatura")


def protect_code(tree: HTMLTree) -> int:
    """Replace code blocks with layout-encoded paragraphs; returns how many."""
    root = tree.document
    for el in select(root, _GUTTERS):
        if el.parent is not None:
            el.parent.remove_child(el)
    count = 0
    blocks = list(select(root, "pre:not(pre pre)"))
    blocks += [el for el in select(root, "code:not(pre code)") if "\n" in el.text.strip()]
    for el in blocks:
        if el.parent is None:
            continue
        for br in select(el, "br"):
            br.parent.replace_child(tree.create_text_node("\n"), br)
        code = el.text.strip("\n")
        if not code.strip():
            continue
        para = tree.create_element("p")
        para.append_child(tree.create_text_node(BLOCK_MARK + code.translate(_ENCODE) + BLOCK_MARK))
        figure = el.closest("figure")  # both extractors drop <figure> content (Jekyll wraps code in one)
        if figure is not None and figure.parent is not None:
            figure.parent.insert_before(para, figure)
            el.parent.remove_child(el)
        else:
            el.parent.replace_child(para, el)
        count += 1
    return count


def restore(text: str) -> str:
    """Decode protected layout and tidy blank lines and trailing spaces."""
    for char, plain in _DECODE_PAIRS:  # str.replace per character: far cheaper than translate's table
        if char in text:
            text = text.replace(char, plain)
    text = text.replace("\ufeff", "")  # stray BOMs of included files
    text = _TRAILING.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def prepare(html: str) -> HTMLTree:
    """Parse and rewrite a page: math as TeX text, code blocks protected."""
    page = html
    if any(marker in page for marker in _MARKER_CHARS):  # rare: test before a regex pass over the page
        page = _MARKERS.sub("", page)
    tree = HTMLTree.parse(page)
    lowered = html.lower()
    if any(hint in lowered for hint in _MATH_HINTS):  # DOM queries cost as much as the extraction
        rewrite_math(tree)
    if _CODE_HINT.search(html):
        protect_code(tree)
    return tree


def _trafilatura(html: str) -> str:
    import trafilatura  # heavy (lxml, justext, courlan): imported on first use

    return trafilatura.extract(html, output_format="txt", include_comments=False, include_tables=True,
                               deduplicate=False, with_metadata=False) or ""


def html_to_text(html: str, extractor: str = "resiliparse") -> str:
    """Main text of an HTML page with math as delimited LaTeX and code blocks intact."""
    tree = prepare(html)
    if extractor == "resiliparse":
        text = extract_plain_text(tree, main_content=True, preserve_formatting=True, alt_texts=False,
                                  links=False, list_bullets=True, noscript=False, form_fields=False)
    elif extractor == "trafilatura":
        text = _trafilatura(str(tree))
    else:
        raise ValueError(f"unknown extractor {extractor!r}; expected one of {EXTRACTORS}")
    return restore(text)
