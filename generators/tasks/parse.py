"""Parse a model's answer into the fields of a sample, or say why it cannot be.

The prompts ask for labelled sections (``Problem:``/``题目：``, ``Solution:``/``解答：``,
``Final answer: \\boxed{}``/``答案：``; ``Task:``/``任务：`` + a fenced function + fenced
tests). Small models drift (bold labels, ``###`` headings, full-width colons, one code
block holding function and tests), so the labels are matched loosely; but a sample
without the parts the recipe needs is rejected with a reason (``no_problem``,
``no_solution``, ``no_answer``, ``no_code``, ``no_function``, ``no_docstring``,
``too_few_tests``) that the repair prompt feeds back. Correctness is not judged here:
that is verify_math's and verify_code's job.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from generators.verify.answer_extract import extract_answer

_LABEL = r"^[ \t]*(?:#+[ \t]*)?(?:\*\*)?[ \t]*(?:{names})[ \t]*(?:\*\*)?[ \t]*[:：][ \t]*(?:\*\*)?"
_PROBLEM = re.compile(_LABEL.format(names=r"problem|new problem|question|题目|问题|新题目"), re.I | re.M)
_SOLUTION = re.compile(_LABEL.format(names=r"solution|step-by-step solution|answer explanation|解答|解|解析|解题过程"), re.I | re.M)
_FINAL = re.compile(_LABEL.format(names=r"final answer|the final answer|answer|最终答案|答案"), re.I | re.M)
_TASK = re.compile(_LABEL.format(names=r"task|problem|任务|题目"), re.I | re.M)
_TESTS = re.compile(_LABEL.format(names=r"tests|unit tests|test cases|测试|单元测试|测试用例"), re.I | re.M)
_FENCE = re.compile(r"```[ \t]*(?:python|py|Python)?[ \t]*\n(.*?)(?:```|\Z)", re.S)
_ASSERT_LINE = re.compile(r"^\s*assert\b", re.M)


@dataclass
class Parsed:
    fields: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # a short reason; None when the sample is complete


def boxed_contents(text: str) -> list[str]:
    r"""Contents of every ``\boxed{...}`` / ``\fbox{...}`` with balanced braces, in order."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end(): i - 1].strip())
    return out


def _section(text: str, start: re.Match | None, stops: list[re.Match | None]) -> str:
    if start is None:
        return ""
    ends = [m.start() for m in stops if m is not None and m.start() > start.start()]
    return text[start.end(): min(ends) if ends else len(text)].strip()


def final_answer(text: str) -> str:
    r"""The claimed final answer: the last ``\boxed{}``, else the rest of the last answer line,
    else what verify_math's own extractor finds in the answer ("The answer is 24", "答案是24",
    "#### 24", else the last number).

    The fallback is the verifier's extraction on the model's raw answer, so a sample is judged
    exactly as verify_math would judge that answer: "10 x 8 = 80\nThe train has 80 seats."
    claims 80. A small model rarely writes the requested label, and refusing such answers
    here would only move them to the repair round.
    """
    boxed = boxed_contents(text)
    if boxed:
        return boxed[-1]
    finals = list(_FINAL.finditer(text))
    if finals:
        return text[finals[-1].end():].strip().splitlines()[0].strip().rstrip("。.") if text[finals[-1].end():].strip() else ""
    stated = extract_answer(text)
    return stated.answer if stated else ""


def parse_math(text: str, *, needs_problem: bool) -> Parsed:
    """Problem (when the task wrote one), solution, and the claimed answer."""
    text = (text or "").strip()
    problem = _PROBLEM.search(text) if needs_problem else None
    after = problem.end() if problem else 0
    solution = _SOLUTION.search(text, after)
    finals = [m for m in _FINAL.finditer(text, solution.end() if solution else after)]
    final = finals[-1] if finals else None
    fields = {"problem": _section(text, problem, [solution, final]) if problem else "",
              "solution": _section(text, solution, [final]) if solution else "",
              "answer": final_answer(text[(solution.end() if solution else after):])}
    if not needs_problem and not fields["solution"]:
        fields["solution"] = text[: final.start()].strip() if final else text  # a bare worked answer
    if needs_problem and not fields["problem"]:
        return Parsed(fields, "no_problem")
    if not fields["solution"]:
        return Parsed(fields, "no_solution")
    if not fields["answer"]:
        return Parsed(fields, "no_answer")
    return Parsed(fields)


def count_tests(tests: str) -> int:
    """Assert statements plus ``test_*`` functions (by AST; by line when it does not parse)."""
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return len(_ASSERT_LINE.findall(tests))
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    top_asserts = [n for n in tree.body if isinstance(n, ast.Assert)]
    return len(top_asserts) + len(funcs)


def _split_code_and_tests(block: str) -> tuple[str, str]:
    """One block holding both: top-level asserts and test functions go to the tests."""
    lines = block.splitlines()
    first_test = next((i for i, ln in enumerate(lines)
                       if re.match(r"(assert\b|def test|if __name__)", ln)), len(lines))
    return "\n".join(lines[:first_test]).strip(), "\n".join(lines[first_test:]).strip()


def parse_code(text: str) -> Parsed:
    """Task description, the function (with docstring) and its 3+ unit tests."""
    text = (text or "").strip()
    blocks = [(m.start(), m.group(1).strip()) for m in _FENCE.finditer(text)]
    task_m = _TASK.search(text)
    first_fence = blocks[0][0] if blocks else len(text)
    task = text[task_m.end(): first_fence].strip() if task_m and task_m.start() < first_fence else text[:first_fence].strip()
    code_blocks = [b for _, b in blocks if "def " in b and not _ASSERT_LINE.search(b)]
    test_blocks = [b for _, b in blocks if _ASSERT_LINE.search(b) or "def test" in b]
    code = code_blocks[0] if code_blocks else ""
    tests = "\n".join(b for b in test_blocks if b != code)
    if not code and test_blocks:
        code, tests = _split_code_and_tests(test_blocks[0])
        tests = "\n".join([tests] + test_blocks[1:]).strip()
    fields = {"task": task, "code": code, "tests": tests}
    if not blocks:
        return Parsed(fields, "no_code")
    if not code:
        return Parsed(fields, "no_function")
    try:
        tree = ast.parse(code)
    except SyntaxError:
        if not task:
            return Parsed(fields, "no_task")
        return Parsed(fields)  # the verifier compiles it and reports the SyntaxError to repair
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not task and funcs and ast.get_docstring(funcs[0]):
        task = fields["task"] = ast.get_docstring(funcs[0]).strip()  # the docstring states the task
    if not task:
        return Parsed(fields, "no_task")
    if not funcs:
        return Parsed(fields, "no_function")
    if not any(ast.get_docstring(f) for f in funcs):
        return Parsed(fields, "no_docstring")
    if count_tests(tests) < 3:
        return Parsed(fields, "too_few_tests")
    return Parsed(fields)


def function_name(signature: str) -> str:
    """``reverse_string`` from ``def reverse_string(s):``."""
    m = re.match(r"\s*def\s+(\w+)", signature)
    return m.group(1) if m else ""


def parse_code_ref(text: str, signature: str) -> Parsed:
    """The function a ``code_ref`` answer wrote for a given signature.

    The tests are the seed's own, so only the function is taken from the answer: the
    first fenced block (or, without fences, the text from the ``def``) that defines the
    function the signature names. Anything the model appended after it (its own asserts,
    a ``__main__`` block) is cut off: it is not part of the sample, and a wrong assert of
    the model's would otherwise fail the module before the real tests ran.
    Errors: ``no_code`` (no code at all), ``no_function`` (the named function is not defined).
    """
    text = (text or "").strip()
    name = function_name(signature)
    blocks = [m.group(1).strip() for m in _FENCE.finditer(text)]
    if not blocks and re.search(r"^\s*def\s", text, re.M):
        blocks = [text[re.search(r"^\s*def\s", text, re.M).start():].strip()]
    if not blocks:
        return Parsed({}, "no_code")
    defines = re.compile(rf"^def\s+{re.escape(name)}\s*\(", re.M)
    block = next((b for b in blocks if defines.search(b)), None)
    if block is None:
        return Parsed({"code": blocks[0]}, "no_function")
    code, _ = _split_code_and_tests(block)
    return Parsed({"code": code})


def math_text(problem: str, solution: str, answer: str, lang: str) -> str:
    """The training text of a math sample, in one canonical layout per language."""
    if lang == "zh":
        return f"题目：{problem}\n\n解答：{solution}\n\n答案：\\boxed{{{answer}}}"
    return f"Problem: {problem}\n\nSolution: {solution}\n\nFinal answer: \\boxed{{{answer}}}"


def code_text(task: str, code: str, tests: str, lang: str) -> str:
    """The training text of a code sample: task, function, tests."""
    tests_label = "测试：" if lang == "zh" else "Tests:"
    return f"{task}\n\n```python\n{code}\n```\n\n{tests_label}\n```python\n{tests}\n```"
