"""Source-code signals (StarCoder-style), as polars expressions over a ``text`` column.

StarCoder's cleaning drops files with very long lines (minified or data), a low
alphanumeric fraction (binary-ish or tables of symbols), auto-generated markers, and
data files dressed as code (JSON/CSV dumps, base64 blobs). These patterns define the
signals: ``filters.signals.general.text_line_signals`` computes the code columns in one
compiled pass, ``filters.heuristics.stage`` applies the thresholds, and
``filters.signals.doc_kind`` counts ``code_line_count``'s lines (``CODE_LINE`` in
``filters.signals.code_line_kernel``, the others in ``filters.signals.kind_kernel``) to route a
document to the code rules.
"""

from __future__ import annotations

import polars as pl

# A line that only code writes. One match per line at most (the pattern consumes the rest
# of the line), so ``code_line_count`` counts lines, not hits. Three kinds of evidence:
#
# * how the line starts (after indentation): a statement or declaration keyword (Python,
#   C/C++, Java, JavaScript, Go, Rust, SQL), a preprocessor directive, a comment opener, a
#   doctest or IPython prompt (``>>>``, ``...``, ``In [3]:``, ``Out[3]:``, ``   ...:``: the
#   sessions of tutorials), a lone ``pass``/``break``/``continue``, a ``case ...:`` label,
#   closing brackets alone, an enum member or argument line (``NAME,`` / ``NAME = 3,``, optionally
#   with a trailing comment: LLVM/kernel enum lists), a string-literal continuation line
#   (``'...'`` or ``"...",``: Python's wrapped literals), a tuple/list literal opener, an
#   assignment of a call/string/collection/constant, a call statement;
# * an indented assignment of anything (``    x = 3.14``): math solutions are not indented;
# * how the line ends or what it holds: ``;``/``{``/``}`` or an opening bracket at the end,
#   a trailing comment after code (``arm_ldc2,  // llvm.arm.ldc2``), a code operator between
#   operands (``==``, ``!=``, ``&&``, ``||``, ``->``, ``::``, ``+=``, ``-=``).
#
# A ``* `` line counts only in a document that shows C comment syntax (``/*``, ``*/`` or a
# bare `` *`` line): inside a block comment it is code, in Markdown it is a bullet.
# ASCII word boundaries and classes keep the Rust regex engine on its fast path.
_B = r"(?-u:\b)"
_ID = r"[A-Za-z_][A-Za-z0-9_.]*"
DIRECTIVE_WORDS = ("include", "define", "pragma", "if", "ifdef", "ifndef", "elif", "else", "endif", "undef", "error",
                   "warning", "import")
"""Preprocessor directives: a line ``#`` + spaces or tabs + one of them, then a word boundary."""
_FROM_IMPORT = r"from[ \t]+[A-Za-z0-9_.]+[ \t]+import"
_DIRECTIVE = r"#[ \t]*(?:" + "|".join(DIRECTIVE_WORDS) + ")"
_AT_NAME = r"@[A-Za-z]+"
_KEYWORD_ALTERNATIVES = (
    "def", "class", "import", _FROM_IMPORT, "return", "elif", "except", "try", "finally", "with", "async", "await",
    "raise", "yield", "lambda", "assert", "del", "global", "nonlocal",
    _DIRECTIVE,
    "package", "public", "private", "protected", "static", "final", "void", "int", "char", "using", "typedef", "extern",
    "unsigned", "virtual", "explicit", "inline", "operator", "template", "typename", "constexpr", "static_assert",
    "friend", "namespace", "function", "const", "let", "var", "export", r"module\.exports", "require", "console", "if",
    "for", "while", "switch", "else", "fn", "impl", "pub", "struct", "enum", "union", "func", "SELECT", "INSERT",
    "CREATE", _AT_NAME,
)
_KEYWORDS = "|".join(_KEYWORD_ALTERNATIVES)
KEYWORD_WORDS = tuple(k.replace("\\.", ".") for k in _KEYWORD_ALTERNATIVES if k not in (_FROM_IMPORT, _DIRECTIVE, _AT_NAME))
"""The literal line-start keywords of ``CODE_LINE`` (each then a word boundary); the other three
alternatives are ``from X import``, a directive (:data:`DIRECTIVE_WORDS`) and ``@name``."""
_LINE_START = "|".join([
    r"(?:" + _KEYWORDS + r")" + _B,
    r"//|/\*|\*/|#[ \t!-]|#$|(?:>>>|\.\.\.)(?:[ \t]|$)|(?:In|Out)[ \t]?\[[0-9]*\]:|\.{3,}:(?:[ \t]|$)",
    r"(?:pass|break|continue)[ \t]*;?[ \t]*$",
    r"case[ \t][^\n]{1,80}:[ \t]*$|default:",
    r"[)\]}]+[ \t]*[,;:)\]}]*[ \t]*$",
    r"[A-Za-z_][A-Za-z0-9_]*(?:[ \t]*=[ \t]*[^,\s][^,\n]*)?,[ \t]*(?:(?://|/\*|#)[^\n]*)?$",
    r"[bBrRuUfF]{0,2}['\"][^\n]*['\"][ \t]*[,)\]}:]+[ \t]*$",
    r"[bBrRuUfF]{0,2}'[^\n]*'[ \t]*$|[bBrRuUfF]{1,2}\"[^\n]*\"[ \t]*$",
    r"[(\[{]['\"(\[{]",
    _ID + r"[ \t]*[-+*/|&]?=[ \t]*(?:[A-Za-z_.]+\(|['\"\[{(]|None|True|False|null|true|false)",
    _ID + r"\([^\n]*\)[ \t]*;?[ \t]*$",
])
_INDENTED_ASSIGNMENT = r"(?:    |\t)[ \t]*[A-Za-z_][A-Za-z0-9_.]*(?:\[[^\]\n]*\])?[ \t]*(?:[-+*/%|&^]|<<|>>|//|\*\*)?=[ \t]*[^=\s]"
_ANYWHERE = "|".join([
    r"[;{}(\[][ \t]*$",
    r"[;,{}()\]][ \t]*(?://|/\*|#[ \t])[^\n]*$",
    r"[\w)\]][ \t]*(?:==|!=|&&|\|\||->|::|\+=|-=)[ \t]*[\w(*&'\"-]",
])
CODE_LINE = r"(?m)^(?:[ \t]*(?:" + _LINE_START + r")|" + _INDENTED_ASSIGNMENT + r"|[^\n]*?(?:" + _ANYWHERE + r"))[^\n]*"
STAR_LINE = r"(?m)^[ \t]*\*(?:[ \t]|$)"
C_COMMENT_SYNTAX = r"/\*|\*/|(?m)^[ \t]*\*[ \t]*$"
NONBLANK_LINE = r"(?m)^[ \t]*\S"
# StarCoder's auto-generated filter looks for markers in a file's first lines: a generated
# file says so in its header ("// Code generated by protoc-gen-go. DO NOT EDIT.", "Auto-generated
# by Tools/scripts/generate_token.py", "This file is automatically generated", "@generated").
# Markers are counted only in the first ``AUTOGEN_HEAD_LINES`` lines, and only in header form:
# "generated by/from X" at the start of a (comment) line, "auto-generated"/"machine generated"
# followed by by/from/file/code or ending the line, "this file is/was generated", "do not edit".
# A comment that merely uses the word ("Autogenerated task names should...", "a value
# generated by the random number generator", "the code generated by asdl_c.py was...")
# does not make a file generated.
AUTOGEN_HEAD_LINES = 10
_GENERATED_ADJ = r"(?:auto[- ]?generated|automatically[ \t]+generated|generated[ \t]+automatically|machine[- ]generated)"
AUTOGEN = (
    r"(?i-u)(?:@generated|do[ \t]+not[ \t]+edit"
    r"|(?:^|\n)[ \t/*#;!|<>\-]*(?:code[ \t]+|file[ \t]+)?(?:auto[- ]?|automatically[ \t]+)?generated[ \t]+(?:by|from|with|using)\b"
    r"|" + _GENERATED_ADJ + r"(?:[ \t]+(?:by|from|with|using|file|code|source|header)\b|[ \t.:;,!*/\-]*(?:\n|$))"
    r"|(?:this|the)[ \t]+(?:file|code|header|source)[ \t]+(?:is|was|has[ \t]+been)[ \t]+(?:auto(?:matically|-)?[ \t]*)?generated)"
)
DATA_LINE = r"(?m)^[ \t0-9.,;:+\-eE\"'\[\]{}()|/]*$"
BASE64_RUN = r"[A-Za-z0-9+/=]{120,}"


def n_lines(text: pl.Expr) -> pl.Expr:
    return text.str.count_matches("\n") + 1


def code_line_count(text: pl.Expr) -> pl.Expr:
    """Lines that look like code (each line counted once; see ``CODE_LINE``)."""
    stars = text.str.count_matches(STAR_LINE) * text.str.contains(C_COMMENT_SYNTAX).cast(pl.UInt32)
    return text.str.count_matches(CODE_LINE) + stars


def nonblank_lines(text: pl.Expr) -> pl.Expr:
    return text.str.count_matches(NONBLANK_LINE)


