"""``filters.signals.kind_kernel`` against the regexes it replaces, and ``doc_kind_frame``
against the polars implementation it had before the kernel (same columns, same values)."""

import random

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filters.signals import doc_kind as dk
from filters.signals import kind_kernel as k
from filters.signals.code import C_COMMENT_SYNTAX, NONBLANK_LINE, STAR_LINE, code_line_count, nonblank_lines
from filters.signals.math import EQUATION_LINE, LATEX_TOKEN, MATH_WORDS_EN, MATH_WORDS_ZH, math_signals
from filters.signals.script_detect import utf8_buffers

TRICKY = [
    "", None, "\n", "\n\n", "a", "*", " *", "*\n", " * \n", "\t*\tx", "* ", "**", "/*", "*/", "a/*b", "x */",
    "\u00a0x\n  \u3000y\n\r\nz\n \rq\n\t\x0bw\n\x85v\n\u2028u", "  \u00a0x", "\u200bzero-width is not space",
    "x =\u00a0y\n a\t≤ b\n c ≥ -d\n e≠f\n g \u2248 (h)\n i <= j\n k==l\n m = \n = n\n o =\tp",
    "x\\le y\nx \\ge\ty\nx\\neq$y$\nx \\approx \\pi\nx\\leq y\n)\\left(\n\\le x\n x \\appro y",
    "\\alpha\\beta \\gamma_1 $x$ $ $$ $1 $\u3000 $é \\( \\[ ^{ _{ \\a \\ab1 \\ab' \\ab\" \\ab_ \\ab\n\\cd",
    "\\ab", "$", "\\", "^", "_{", "$\U0001d7ce", "\\frac{1}{2}\\frac", "$$$", "$\\alpha$",
    "٣ ３ 𝟘 ߀", "no digits here", "Ⅻ is a number but not a digit", "¹²³ superscripts", "x１",
    "How Many how  many SUM OF sum_of Solve solves resolve _solve solve_ 1solve solve1 éequation equationé",
    "how many", "HOW MUCH", "sum of", "value of\nvalue\nof", "area. Area, AREA; areas", "ſolve", "\u212aelvin",
    "the theorem, theorems; prime-probability", "x how many", "product ofs", "product of",
    "百分之五十 分之 多少钱 几何 求求 乘除以 三角形 圆周长 解得所以因为", "分", "百分", "多", "𠀀求",
    "/*\n *\n * x\n */", "*bold* text\n* bullet\n  *  \n", "line\r\n  *\r\n",
    "a" * 5000, "é" * 4001 + "1", "𝟘" * 3999 + "=x\n", "中" * 3998 + "求解", "x" * 3997 + " = 1",
]


def _random_texts(n: int, seed: int = 0) -> list[str]:
    parts = ["\n", " ", "\t", "\r", "\u00a0", "\u3000", "*", "/", "=", "<", ">", "≤", "≠", "\\le", "\\approx", "\\neq",
             "\\", "$", "^", "_", "{", "(", ")", "]", "}", "-", "'", '"', "x", "Ab", "3", "٣", "𝟘", "é", "中", "求",
             "百分之", "分之", "how", " many", "sum", " of", "Solve", "area", "theorem", "_", "\\frac", "\\alpha1",
             "  *", " * ", "#", "def ", "x = 1;", "if (", "return x", ">>> "]
    rng = random.Random(seed)
    return ["".join(rng.choice(parts) for _ in range(rng.randint(0, 60))) for _ in range(n)]


def _counts(texts, head_chars):
    arr = pa.array(texts, pa.large_string())
    data, offsets = utf8_buffers(arr)
    return dk._kernel_tables(), k.kind_counts(data, offsets, head_chars, *dk._kernel_tables())


@pytest.mark.parametrize("head_chars", [4000, 7, 0])
def test_counts_equal_the_regexes(head_chars):
    texts = TRICKY + _random_texts(3000)
    _, c = _counts(texts, head_chars)
    s = pl.Series("t", texts, dtype=pl.String).fill_null("")
    head = s.str.slice(0, head_chars) if head_chars > 0 else s
    t = pl.col("t")
    ref = pl.DataFrame({"t": head}).select(
        t.str.len_chars().alias("chars"),
        t.str.count_matches(NONBLANK_LINE).alias("nonblank"),
        t.str.count_matches(STAR_LINE).alias("stars"),
        t.str.contains(C_COMMENT_SYNTAX).alias("ccom"),
        t.str.contains(r"\d").alias("digit"),
        t.str.count_matches(EQUATION_LINE).alias("eq"),
        t.str.count_matches(MATH_WORDS_EN).alias("en"),
        t.str.count_matches(MATH_WORDS_ZH).alias("zh"),
        t.str.count_matches(LATEX_TOKEN).alias("latex"),
        t.str.len_bytes().alias("head_end"),
    )
    for name, col in zip(ref.columns, (k.CHARS, k.NONBLANK, k.STARS, k.C_COMMENT, k.DIGIT, k.EQ_LINES, k.MW_EN,
                                       k.MW_ZH, k.LATEX, k.HEAD_END)):
        want = ref[name].cast(pl.Int64).to_numpy()
        bad = np.flatnonzero(want != c[:, col])
        assert len(bad) == 0, (name, [(texts[i], want[i], c[i, col]) for i in bad[:3]])


def test_character_tables_equal_the_regex_classes():
    cp = np.array([c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF])
    chars = pl.Series([chr(c) for c in cp])
    table = k.char_table()[cp]
    assert np.array_equal((table & k.F_SPACE) != 0, chars.str.contains(r"\s").to_numpy())
    assert np.array_equal((table & k.F_DIGIT) != 0, chars.str.contains(r"\d").to_numpy())


def _reference_frame(texts, config=dk.DocKindConfig()):
    """doc_kind_frame as polars computed it before the kernel."""
    head = pc.utf8_slice_codeunits(texts, 0, config.head_chars)
    df = pl.from_arrow(pa.table({"text": head})).with_columns(pl.col("text").fill_null(""))
    text = pl.col("text")
    lines = pl.max_horizontal(nonblank_lines(text), 1)
    df = df.select((code_line_count(text) / lines).alias("quality_code_line_frac"), lines.alias("_lines"),
                   text.str.len_chars().alias("_chars"), text.str.contains(r"\d").alias("_digit"), *math_signals(text))
    per_1k = 1000.0 / pl.max_horizontal(pl.col("_chars"), 1)
    latex_math = pl.col("quality_latex_density") >= config.math_latex_per_1k
    is_code = ((pl.col("_lines") >= config.code_min_lines) & (pl.col("quality_code_line_frac") >= config.code_line_frac)
               & ~(latex_math & (pl.col("quality_code_line_frac") < config.code_over_math_frac)))
    evidence = pl.col("_digit") | (pl.col("quality_latex_density") > 0) | (pl.col("quality_math_keywords") >= 2)
    is_math = evidence & ((pl.col("quality_latex_density") >= config.math_latex_per_1k)
                          | (pl.col("quality_equation_lines") / pl.col("_lines") >= config.math_equation_line_frac)
                          | (pl.col("quality_math_keywords") * per_1k >= config.math_keywords_per_1k))
    kind = pl.when(is_code).then(pl.lit("code")).when(is_math).then(pl.lit("math")).otherwise(pl.lit("prose"))
    return df.select(kind.alias("doc_kind"), "quality_code_line_frac", "quality_latex_density",
                     "quality_equation_lines", "quality_math_keywords")


def test_frame_equals_the_polars_implementation(dev_data):
    import json

    texts = TRICKY + _random_texts(2000, seed=1)
    for path in sorted(dev_data.glob("*.jsonl")):
        texts += [json.loads(line).get("text") for line in open(path, encoding="utf-8")]
    arr = pa.array(texts, pa.large_string())
    dk._LAST.clear()
    got = dk.doc_kind_frame(arr)
    want = _reference_frame(arr)
    assert got.schema == want.schema
    assert got.equals(want)
    chunked = pa.chunked_array([arr.slice(0, 10), arr.slice(10)])
    dk._LAST.clear()
    assert dk.doc_kind_frame(chunked).equals(want)
