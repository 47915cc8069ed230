"""Rewrite math in an HTML DOM into plain-text LaTeX before text extraction.

Text extractors drop ``<script>`` elements and flatten MathML into a jumble of
identifiers, so math is rewritten first, in the resiliparse DOM, into text nodes:

- MathJax ``<script type="math/tex">`` -> ``$...$``; ``math/tex; mode=display`` ->
  ``$$...$$``. MathJax's own rendered copies (``.MathJax_Preview``, ``.MathJax``,
  ``.MathJax_Display``, ``mjx-container`` without a TeX source) are removed so the
  formula is not doubled.
- KaTeX ``<span class="katex">`` -> its ``<annotation encoding="application/x-tex">``;
  inside ``.katex-display`` -> ``$$...$$``.
- MathML ``<math>`` -> a TeX annotation, else its ``alttext`` (Wikipedia's
  ``{\\displaystyle ...}`` wrapper removed), else a TeX rendering of the MathML tree
  (fractions, scripts, roots, matrices); ``display="block"`` -> ``$$...$$``. Wikipedia's
  ``.mwe-math-element`` wrapper (hidden MathML + fallback image) is replaced whole.
- ``<img class="latex">`` (WordPress and similar; class ``tex``, ``mathtex``...) -> its alt text.

Display math is framed by ``BLOCK_MARK`` characters that :mod:`pipeline.io.readers.html_text`
turns into line breaks after extraction (extractors collapse whitespace in text nodes).
TeX already present as text (``$...$``, ``\\(...\\)``, ``\\[...\\]``) is left as it is.
"""

from __future__ import annotations

import re

from resiliparse.parse.html import HTMLTree, NodeType

BLOCK_MARK = "\u241e"  # ␞, turned into a line break after extraction
_TEX_IMG_CLASSES = {"latex", "tex", "mathtex", "wp-latex", "latex-img", "ql-img-inline-formula"}
_WS = re.compile(r"\s+")
_DISPLAYSTYLE = re.compile(r"^\{\\displaystyle\s*(.*)\}$", re.S)
_MO = {"×": r"\times", "÷": r"\div", "±": r"\pm", "≤": r"\le", "≥": r"\ge", "≠": r"\ne", "→": r"\to",
       "∞": r"\infty", "∑": r"\sum", "∏": r"\prod", "∫": r"\int", "⋅": r"\cdot", "·": r"\cdot", "−": "-",
       "∈": r"\in", "≈": r"\approx", "∂": r"\partial", "√": r"\sqrt", "⁡": "", "⁢": "", "\u2061": ""}
_GREEK = {chr(0x3B1 + i): "\\" + n for i, n in enumerate(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho varsigma "
    "sigma tau upsilon phi chi psi omega".split())}


def select(node, selector: str) -> tuple:
    """All matches as a tuple: iterating resiliparse's node list directly is quadratic
    (0.5 s for 512 elements on a real spam page); slicing it is not."""
    return node.query_selector_all(selector)[:]


def tex(code: str, display: bool) -> str:
    """A delimited TeX formula as text (display math on its own lines)."""
    code = _WS.sub(" ", code).strip()
    if not code:
        return ""
    return f"{BLOCK_MARK}$${code}$${BLOCK_MARK}" if display else f"${code}$"


def _replace(tree: HTMLTree, node, text: str) -> None:
    parent = node.parent
    if parent is None:
        return
    if text:
        parent.replace_child(tree.create_text_node(text), node)
    else:
        parent.remove_child(node)


def _symbol(s: str) -> str:
    s = s.strip()
    if len(s) == 1:
        return _MO.get(s, _GREEK.get(s, s))
    return s


def mathml_to_tex(node) -> str:
    """A TeX rendering of a MathML element (the fallback when no TeX source is given)."""
    if node.type == NodeType.TEXT:
        return _symbol(node.text)
    if node.type != NodeType.ELEMENT:
        return ""
    tag = node.tag
    kids = [c for c in node.child_nodes[:] if c.type == NodeType.ELEMENT]
    args = [mathml_to_tex(k) for k in kids]

    def arg(i: int) -> str:
        return "{" + (args[i] if i < len(args) else "") + "}"

    if tag in ("mi", "mn", "mo"):
        return _symbol(node.text)
    if tag == "mtext":
        return r"\text{" + node.text.strip() + "}" if node.text.strip() else ""
    if tag in ("annotation", "annotation-xml"):
        return ""
    if tag == "semantics":
        return args[0] if args else ""
    if tag == "mfrac":
        return r"\frac" + arg(0) + arg(1)
    if tag == "msqrt":
        return r"\sqrt{" + " ".join(args) + "}"
    if tag == "mroot":
        return r"\sqrt[" + (args[1] if len(args) > 1 else "") + "]" + arg(0)
    if tag == "msup":
        return arg(0) + "^" + arg(1)
    if tag == "msub":
        return arg(0) + "_" + arg(1)
    if tag in ("msubsup", "munderover"):
        return arg(0) + "_" + arg(1) + "^" + arg(2)
    if tag == "mover":
        return r"\overset" + arg(1) + arg(0)
    if tag == "munder":
        return r"\underset" + arg(1) + arg(0)
    if tag == "mfenced":
        return (node.getattr("open") or "(") + ",".join(args) + (node.getattr("close") or ")")
    if tag == "mtable":
        return r"\begin{matrix}" + r" \\ ".join(args) + r"\end{matrix}"
    if tag in ("mtr", "mlabeledtr"):
        return " & ".join(args)
    return " ".join(a for a in args if a)


def _math_source(math) -> str:
    for enc in ("application/x-tex", "TeX", "application/x-latex", "text/x-tex"):
        ann = math.query_selector(f'annotation[encoding="{enc}"]')
        if ann is not None and ann.text.strip():
            return ann.text
    alt = math.getattr("alttext")
    if alt and alt.strip():
        m = _DISPLAYSTYLE.match(alt.strip())
        return m.group(1) if m else alt
    return mathml_to_tex(math)


def rewrite_math(tree: HTMLTree) -> int:
    """Rewrite every formula of the page into delimited TeX text; returns how many."""
    root = tree.document
    count = 0
    for el in select(root, "mjx-container"):  # before .MathJax removal: MathJax 3 containers carry that class
        math = el.query_selector("math")  # MathJax 3 output keeps a MathML copy for assistive tech
        _replace(tree, el, tex(_math_source(math), el.getattr("display") == "true") if math is not None else "")
    for el in select(root, ".MathJax_Preview, .MathJax, .MathJax_Display, .MathJax_SVG, "
                                      ".MathJax_SVG_Display, .MathJax_CHTML, .MJX_Assistive_MathML"):
        _replace(tree, el, "")
    for script in select(root, 'script[type^="math/tex"]'):
        mode = (script.getattr("type") or "").lower()
        _replace(tree, script, tex(script.text, "mode=display" in mode.replace(" ", "")))
        count += 1
    for katex in select(root, ".katex-display, .katex"):
        if katex.parent is None or katex.closest(".katex-display") not in (None, katex):
            continue  # the inner .katex of a display block: handled with its block
        ann = katex.query_selector('annotation[encoding="application/x-tex"]')
        if ann is None:
            continue
        _replace(tree, katex, tex(ann.text, "katex-display" in katex.class_list))
        count += 1
    for wrapper in select(root, ".mwe-math-element"):
        math = wrapper.query_selector("math")
        if math is not None:
            display = "mwe-math-mathml-display" in (wrapper.html or "") or math.getattr("display") == "block"
            _replace(tree, wrapper, tex(_math_source(math), display))
            count += 1
    for math in select(root, "math"):
        if math.parent is None:
            continue
        _replace(tree, math, tex(_math_source(math), (math.getattr("display") or "").lower() == "block"))
        count += 1
    for img in select(root, "img[alt][class]"):
        alt = img.getattr("alt") or ""
        if alt.strip() and _TEX_IMG_CLASSES.intersection(img.class_list):
            _replace(tree, img, tex(alt, False))
            count += 1
    return count
