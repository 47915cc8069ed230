"""Math signals in English and Chinese, as polars expressions over a ``text`` column.

Math pages are short on prose and long on symbols, so prose rules misfire on them. These
signals say how much of a document is mathematics: LaTeX markup, lines that hold an
equation, and math vocabulary (zh and en). ``filters.signals.doc_kind`` routes on them (counted
as these regexes count by ``filters.signals.kind_kernel``) and
``filters.heuristics.stage`` keeps them as columns for re-cutting later.
"""

from __future__ import annotations

import polars as pl

# A LaTeX command has two letters or more and is not followed by a digit or a quote:
# that leaves out the escapes of program strings ('\n', '\x00', "\nWorld"), which made a
# Python or C file with escaped strings look LaTeX-dense (and so math, not code).
LATEX_TOKEN = r"\\[A-Za-z]{2,}(?:[^A-Za-z0-9'\"]|$)|\$\$|\$[^$0-9\s]|\\\(|\\\[|\^\{|_\{"
EQUATION_LINE = r"(?m)^[^\n]*[A-Za-z0-9_)\]}][ \t]*(?:=|<|>|≤|≥|≠|≈|\\le|\\ge|\\neq|\\approx)[ \t]*[-A-Za-z0-9_(\[{\\$][^\n]*$"
MATH_WORDS_EN_WORDS = (
    "solve", "equation", "theorem", "proof", "lemma", "integer", "fraction", "polynomial", "prime", "probability",
    "calculate", "compute", "how many", "how much", "total", "remainder", "derivative", "integral", "matrix", "triangle",
    "area", "perimeter", "ratio", "percent", "sum of", "product of", "divisible", "factor", "radius", "angle",
    "function", "sequence", "inequality", "value of", "evaluate", "simplify",
)
"""MATH_WORDS_EN's alternatives in order (``filters.signals.kind_kernel`` matches them)."""
MATH_WORDS_EN = r"(?i-u)\b(?:" + "|".join(MATH_WORDS_EN_WORDS) + r")\b"
MATH_WORDS_ZH_WORDS = (
    "多少", "多大", "多长", "多重", "多远", "算出", "几", "求", "计算", "等于", "方程", "定理",
    "证明", "整数", "分数", "小数", "面积", "周长", "平均", "一共", "还剩", "共有", "倍", "百分之",
    "分之", "比例", "概率", "函数", "三角形", "长方形", "正方形", "圆", "答案", "解得", "因为", "所以",
    "列式", "算式", "余数", "乘", "除以", "加上", "减去",
)
"""MATH_WORDS_ZH's alternatives in order (literals, matched leftmost-first)."""
MATH_WORDS_ZH = "|".join(MATH_WORDS_ZH_WORDS)


def math_signals(text: pl.Expr) -> list[pl.Expr]:
    chars = text.str.len_chars()
    return [
        (text.str.count_matches(LATEX_TOKEN) * 1000.0 / pl.max_horizontal(chars, 1)).alias("quality_latex_density"),
        text.str.count_matches(EQUATION_LINE).cast(pl.Int64).alias("quality_equation_lines"),
        (text.str.count_matches(MATH_WORDS_EN) + text.str.count_matches(MATH_WORDS_ZH)).cast(pl.Int64).alias("quality_math_keywords"),
    ]
