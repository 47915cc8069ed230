"""``filters.signals.code_line_kernel`` against ``CODE_LINE``, the regex it replaces: the same
count on every text it decides, and the texts it leaves undecided are few and need Unicode."""

import random

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from filters.signals import doc_kind as dk
from filters.signals.code import CODE_LINE, KEYWORD_WORDS
from filters.signals.code_line_kernel import line_code_counts
from filters.signals.script_detect import utf8_buffers
from tests.filters.signals.test_general import _dev_texts

# One or more lines per alternative of CODE_LINE, and the near misses next to each.
TRICKY_LINES = [
    # keywords and the ASCII word boundary after them
    "def f(x):", "define", "class A:", "classy", "import os", "imports", "return", "return;", "returned", "if(x)",
    "if x", "iffy", "for i in x:", "fortune", "while(1)", "SELECT * FROM t", "select x", "static_assert(1);",
    "static_asserts", "module.exports = x", "module.export", "module.exports_x", "modules.exports", "else中",
    "else_", "int x", "int", "  \tint8_t x", "pub fn f()", "console.log(1)", "let", "lets go", "@Override",
    "@Override_x", "@ 3", "@a1", "@", "from a.b import c", "from a import", "from  x\timport y", "from x importer",
    "from . import x", "fromage import x",
    # directives, comments, prompts
    "#include <x>", "#includes", "#  define X", "#if", "#ifdef X", "#ifx", "#", "# heading", "#!/bin/sh", "#-x",
    "#x", "//", "// c", "/* c", "*/", "/", "*", "* bullet", ">>> x", ">>>", ">>>x", ">> x", "... x", "...", "...x",
    "....: x", "...:", "....:", "..:", "In [3]: x", "In[3]:", "In [ 3]:", "Out[12]: 5", "Out [1]:", "In  [1]:",
    "Input [1]:", "In []:",
    # lone statements, case labels
    "pass", "pass ;", "pass;;", "passed", "break;", "break x", "continue", "continue ; ", "continues",
    "case 1:", "case x: y", "case:", "case  :", "case " + "x" * 80 + ":", "case " + "x" * 81 + ":",
    "case " + "é" * 80 + ":", "case " + "é" * 81 + ":", "default:", "default :", "defaults:",
    # closing brackets
    ")", "})", "} ;", ");", "]),", "} else {", ")  ,  ", ") x", "}:", ") ,;:)", ") , ;",
    # enum members and arguments
    "FOO,", "FOO, // c", "FOO, # c", "FOO, /* c", "FOO, x", "FOO = 3,", "FOO = 3, // c", "FOO = ,", "FOO =\u00a0x,",
    "FOO = x", "FOO.bar,", "a_1,", "x == 3,", "FOO =  é,", "FOO = 3, 4,",
    # string literals
    "'abc'", "'abc' ", "'a", "'", "''", "\"abc\"", "\"abc\",", "\"abc\" )", "b'x'", "rb'x'", "rbf'x'", "f\"x\"",
    "\"x\"", "u\"x\" ", "'x' ,)", "'x' x", "'x', 'y'", "\"x\" :", "'a' + 'b'", "B\"x\"]", "x'y'",
    # literal openers, assignments, calls
    "('a', 1)", "[[1]]", "{'a': 1}", "(x", "[ 1", "x = foo(1)", "x = 'a'", "x = [1]", "x = None", "x = Nonesuch",
    "x = true", "x =True", "x += {", "x |= (", "x -= 3", "x = 3", "x == y(", "a.b.c = d.e(f)", "x = .5(", "x = _(",
    "x = 3(", "x &= (1)", "x *= [1]", "x /= f(1)", "x ^= (1)", "x %= (1)", "x &&= (1)", "foo()", "foo(x);", "foo(x) ; ", "foo(x) y", "foo (x)", "a.b(c)", "f(x)(y)", "f(x))", "f(",
    # indented assignments
    "    x = 3.14", "\tx = 1", "   x = 1", "  \tx = 1", "\t  x = y", "    x[i] = 3", "    x[i = 3", "    x == 3",
    "    x += 1", "    x <<= 2", "    x **= 2", "    x //= 2", "    x %= 2", "    x <= 2", "    x =", "    x = =",
    "    x =\u00a0y", "    x = \u3000", "    x.y[0]  ^= z", "    x =é", "    3x = 1",
    # anywhere: endings, trailing comments, operators
    "a;", "a {", "a }", "f(", "a [", "a ;  ", "a;\r", "x, // c", "x) # c", "x] /* c", "x ; #c", "x // c", "a == b",
    "a==b", "a != b", "a && b", "a || b", "a -> b", "a :: b", "a += 1", "a -= 1", "a = = b", "a === b", ") == (",
    "] != 'x'", "a == *p", "a == &b", "a == \"s\"", "a == -1", "a ==", "== b", "a.== b", "中 == 1", "a == 中",
    "x\u00e9 != y", "a ->\tb", "std::vector", "a : : b", "1 + = 2",
    # Unicode whitespace and line ends
    "\u00a0def f", "x = 1\u00a0", "a;\u00a0", "\u2003return", "x\r\ny;\r\n", "\x0bdef",
]


def _lines_as_texts() -> list[str]:
    kw = [w + s for w in KEYWORD_WORDS for s in ("", " x", "_x", "1", "(", ".")]
    return TRICKY_LINES + kw + ["\n".join(TRICKY_LINES), "\r\n".join(TRICKY_LINES)]


def _random_texts(n: int, seed: int) -> list[str]:
    parts = ["\n", "\n", " ", "    ", "\t", "x", "Foo", "_a1", "3", ".", ",", ";", ":", "(", ")", "[", "]", "{", "}",
             "=", "==", "!=", "+=", "-=", "->", "::", "&&", "||", "<<", "**", "//", "/*", "*/", "#", "# ", "'", '"',
             "b'", "f\"", "@", ">>>", "...", "In [1]:", "def", "if", "return", "pass", "case ", "default:", "from",
             " import ", "module.exports", "None", "true", "é", "中", "\u00a0", "\u3000", "\r", "-", "*", "&", "|",
             "%", "^", "<", ">"]
    rng = random.Random(seed)
    return ["".join(rng.choice(parts) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def _compare(texts: list[str]) -> np.ndarray:
    """Assert the kernel's count equals the regex's on every decided text; the undecided mask."""
    arr = pa.array(texts, pa.large_string())
    data, offsets = utf8_buffers(arr)
    counts, undecided = line_code_counts(data, offsets[:-1], offsets[1:])
    want = pl.Series(texts, dtype=pl.String).fill_null("").str.count_matches(CODE_LINE).cast(pl.Int64).to_numpy()
    bad = np.flatnonzero((counts != want) & ~undecided)
    assert len(bad) == 0, [(texts[i], int(want[i]), int(counts[i])) for i in bad[:5]]
    return undecided


def test_tricky_lines_count_as_the_regex_counts():
    undecided = _compare(_lines_as_texts())
    texts = _lines_as_texts()
    # only an operator next to a non-ASCII character is left to the regex
    assert all(any(ord(ch) > 127 for ch in texts[i]) for i in np.flatnonzero(undecided))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lines_count_as_the_regex_counts(seed):
    undecided = _compare(_random_texts(4000, seed))
    assert undecided.mean() < 0.2


def test_dev_sets_count_as_the_regex_counts():
    undecided = _compare(_dev_texts())
    assert undecided.sum() <= 5


def test_doc_kind_counts_the_undecided_texts_with_the_regex():
    texts = ["x\u00e9 != y\nfoo(1);", "a == 中\n\n", "plain prose.", "def f():\n    return 1"]
    arr = pa.array(texts, pa.large_string())
    data, offsets = utf8_buffers(arr)
    _, undecided = line_code_counts(data, offsets[:-1], offsets[1:])
    assert undecided[:2].all() and not undecided[2:].any()
    head = pl.Series(texts)
    got = dk._code_lines(data, offsets, np.diff(offsets), head)
    assert got.tolist() == head.str.count_matches(CODE_LINE).to_list()
