"""Split a generated code sample into the solution and its unit tests.

A sample (model output) is a Python function with a docstring plus 3-5 tests, in
any of the forms models write: fenced ```python blocks (one or several) or bare
code; tests as top-level ``assert`` statements, pytest-style ``def test_*()``
functions, or a ``unittest.TestCase`` class; often an ``if __name__ == "__main__":``
block that calls the tests or ``unittest.main()``.

We parse with ``ast`` (never executing anything) and return:

* ``solution``: the module without its tests and main block (imports, functions,
  classes, constants), as source;
* ``tests``: one ``TestCase`` per test (each top-level assert, each test function,
  each TestCase method), so that pass/fail is counted per test;
* the solution's function names and whether the first one has a docstring.

A test block's ``from solution import add`` (any module name) that imports only
names the sample itself defines is dropped: the tests run in the solution's namespace.

A test that calls none of the solution's functions or classes (``assert True``,
``assert 1 + 1 == 2``) cannot fail for a wrong solution; such tests are flagged
(``calls_solution=False``) so the verifier can ignore them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import regex

_FENCE = regex.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)(?:```|\Z)", regex.S)
_PY_LANGS = {"", "python", "py", "python3", "py3"}


@dataclass(frozen=True)
class TestCase:
    name: str  # "assert_1", "test_empty", "TestAdd.test_zero"
    kind: str  # "assert" | "function" | "unittest"
    source: str  # code that runs the test in the solution's namespace
    calls_solution: bool


@dataclass
class ParsedSample:
    solution: str = ""
    tests: list[TestCase] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    has_docstring: bool = False
    error: str | None = None  # why the sample could not be parsed
    error_type: str | None = None  # "SyntaxError", "no_code", "no_function", ...

    @property
    def ok(self) -> bool:
        return self.error is None


def extract_code(text: str) -> str:
    """The Python code of a model answer: its fenced python blocks joined, or the text itself."""
    blocks = [m.group("body") for m in _FENCE.finditer(text) if m.group("lang").lower() in _PY_LANGS]
    blocks = [b for b in blocks if b.strip()]
    if blocks:
        return "\n\n".join(b.rstrip() for b in blocks) + "\n"
    return text


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def _is_testcase_class(node: ast.stmt) -> bool:
    if not isinstance(node, ast.ClassDef):
        return False
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if name.endswith("TestCase"):
            return True
    return node.name.startswith("Test")


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def _docstring_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    doc = ast.get_docstring(fn)
    return bool(doc and doc.strip())


def parse_sample(text: str | None) -> ParsedSample:
    """Parse one sample; never raises, a problem is reported in ``error``."""
    if not text or not text.strip():
        return ParsedSample(error="empty sample", error_type="no_code")
    code = extract_code(text)
    try:
        module = ast.parse(code)
    except SyntaxError as exc:
        return ParsedSample(error=f"SyntaxError: {exc.msg} (line {exc.lineno})", error_type="SyntaxError")
    except ValueError as exc:  # null bytes
        return ParsedSample(error=f"ValueError: {exc}", error_type="SyntaxError")

    solution_nodes: list[ast.stmt] = []
    test_nodes: list[tuple[str, str, ast.AST]] = []  # (name, kind, node)
    n_assert = 0
    checkers = _checker_calls(module)
    defined_here = {n.name for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and node.module and all(a.name in defined_here for a in node.names):
            continue  # "from solution import add" in the tests: the function is this module's own
        if _is_main_guard(node):
            for inner in node.body:  # asserts inside the main block are tests; calls are dropped
                if isinstance(inner, ast.Assert):
                    n_assert += 1
                    test_nodes.append((f"assert_{n_assert}", "assert", inner))
            continue
        if isinstance(node, ast.Assert):
            n_assert += 1
            test_nodes.append((f"assert_{n_assert}", "assert", node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            test_nodes.append((node.name, "function", node))
        elif isinstance(node, ast.FunctionDef) and node.name in checkers:  # HumanEval: def check(candidate)
            call = checkers[node.name]
            test_nodes.append((node.name, "function", ast.Module(body=[node, ast.Expr(call)], type_ignores=[])))
        elif _is_testcase_class(node):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    test_nodes.append((f"{node.name}.{item.name}", "unittest", node))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _is_test_runner_call(node.value):
            continue  # unittest.main(), pytest.main(), test_x() calls at top level
        else:
            solution_nodes.append(node)

    functions = [n.name for n in solution_nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    classes = [n.name for n in solution_nodes if isinstance(n, ast.ClassDef)]
    parsed = ParsedSample(solution=_unparse(solution_nodes), functions=functions,
                          has_docstring=any(_docstring_of(n) for n in solution_nodes
                                            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))))
    defined = set(functions) | set(classes)
    for name, kind, node in test_nodes:
        parsed.tests.append(TestCase(name, kind, _test_source(name, kind, node), bool(_names_used(node) & defined)))
    if not functions and not classes:
        parsed.error, parsed.error_type = "no function defined", "no_function"
    return parsed


def _checker_calls(module: ast.Module) -> dict[str, ast.Call]:
    """HumanEval-style checkers: ``def check(candidate): assert ...`` called as ``check(fn)``."""
    defs = {n.name for n in module.body if isinstance(n, ast.FunctionDef) and n.args.args
            and any(isinstance(s, ast.Assert) for s in ast.walk(n))}
    calls: dict[str, ast.Call] = {}
    for node in module.body:
        stmts = node.body if _is_main_guard(node) else [node]
        for st in stmts:
            if (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and isinstance(st.value.func, ast.Name)
                    and st.value.func.id in defs and st.value.args):
                calls.setdefault(st.value.func.id, st.value)
    return calls


def _is_test_runner_call(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "main":
        return True
    return isinstance(f, ast.Name) and (f.id.startswith("test") or f.id in {"main", "run_tests", "check"})


def _unparse(nodes: list[ast.stmt]) -> str:
    return ast.unparse(ast.Module(body=nodes, type_ignores=[])) + "\n" if nodes else ""


def _test_source(name: str, kind: str, node: ast.AST) -> str:
    """Source that runs one test in the solution's namespace (raises on failure)."""
    if kind == "assert":
        return ast.unparse(node) + "\n"
    if kind == "function":
        if isinstance(node, ast.Module):  # a checker with its call
            return ast.unparse(node) + "\n"
        return ast.unparse(node) + f"\n{node.name}()\n"
    cls, method = name.split(".", 1)
    # Run one method of the TestCase through unittest so setUp/tearDown and self.assert* work.
    return ("import unittest\n" + ast.unparse(node) + "\nimport unittest as _ut\n"
            f"_r = _ut.TestResult()\n{cls}({method!r}).run(_r)\n"
            "for _t, _tb in _r.failures + _r.errors:\n"
            "    raise AssertionError(_tb.strip().splitlines()[-1])\n"
            "if _r.skipped:\n    raise AssertionError('skipped')\n")
