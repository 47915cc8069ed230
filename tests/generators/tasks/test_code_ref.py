"""The code_ref task: complete a seed function; the seed's own tests judge it.

Also the shipped seed files of the demo (one-step problems, helper-function tasks): well
formed, with provenance and license on every row."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from generators.tasks.parse import function_name, parse_code_ref, parse_math
from generators.tasks.prompts import PromptLibrary
from generators.tasks.samples import build_rows, plan_round
from generators.tasks.seeds import load_code_tasks, load_problems
from generators.llm.client import ChatResult
from generators.verification import Verifier

ROOT = Path(__file__).resolve().parents[3]
SEEDS = ROOT / "configs" / "synth_seeds"


def test_shipped_code_tasks_are_well_formed_and_their_tests_call_the_function():
    tasks = load_code_tasks([str(SEEDS / "code_tasks.jsonl")])
    assert {t.lang for t in tasks} == {"en", "zh"} and len(tasks) >= 16
    for row in map(json.loads, (SEEDS / "code_tasks.jsonl").read_text().splitlines()):
        assert row["source"] and row["license"], row["id"]
    for t in tasks:
        name = function_name(t.signature)
        assert name and len(t.tests) >= 3, t.id
        for test in t.tests:
            calls = {n.func.id for n in ast.walk(ast.parse(test)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            assert name in calls, (t.id, test)


def test_shipped_one_step_problems_have_gold_answers_provenance_and_both_languages():
    problems = load_problems([str(SEEDS / "one_step.jsonl")])
    assert {p.lang for p in problems} == {"en", "zh"} and len(problems) >= 24
    assert all(p.reference_answer.isdigit() for p in problems)
    for row in map(json.loads, (SEEDS / "one_step.jsonl").read_text().splitlines()):
        assert row["source"] and row["license"], row["id"]
    assert "one_step.jsonl" in (SEEDS / "PROVENANCE.md").read_text()
    assert "code_tasks.jsonl" in (SEEDS / "PROVENANCE.md").read_text()


def test_a_malformed_code_task_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"task": "x", "signature": "def f(a):", "tests": ["assert f(1) == 1"]}) + "\n"
                    + json.dumps({"task": "y", "signature": "f(a)", "tests": []}) + "\n")
    with pytest.raises(ValueError, match=r"tasks.jsonl:2"):
        load_code_tasks([str(path)])


@pytest.mark.parametrize("answer, code, error", [
    ("```python\ndef f(s):\n    \"\"\"Doc.\"\"\"\n    return s\n\nassert f(1) == 2\n```", 'def f(s):\n    """Doc."""\n    return s', None),
    ("Here it is:\ndef f(s):\n    return s[::-1]", "def f(s):\n    return s[::-1]", None),
    ("```python\ndef helper(x):\n    return x\n\ndef f(s):\n    return helper(s)\n```",
     "def helper(x):\n    return x\n\ndef f(s):\n    return helper(s)", None),
    ("```python\ndef g(s):\n    return s\n```", None, "no_function"),
    ("I cannot do that.", None, "no_code"),
])
def test_parse_code_ref_takes_the_named_function_and_drops_the_models_own_asserts(answer, code, error):
    parsed = parse_code_ref(answer, "def f(s):")
    assert parsed.error == error
    if code is not None:
        assert parsed.fields["code"] == code


def test_without_a_label_the_claimed_answer_is_what_verify_math_would_extract():
    assert parse_math("4 * 6 = 24 pencils.\nThe answer is 24.", needs_problem=False).fields["answer"] == "24"
    assert parse_math("共4盒，每盒6支，4 × 6 = 24。答案是24。", needs_problem=False).fields["answer"] == "24"
    assert parse_math("10 x 8 = 80\nThe train has 80 seats.", needs_problem=False).fields["answer"] == "80"
    assert parse_math("Tom has 5 + 3 = 8 apples, so he has 7.", needs_problem=False).fields["answer"] == "7"
    assert parse_math("I do not know.", needs_problem=False).error == "no_answer"


def _code_ref_plan(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    rows = [{"id": "rev", "lang": "en", "task": "Return the string s reversed.", "signature": "def rev(s):",
             "tests": ["assert rev('abc') == 'cba'", "assert rev('') == ''", "assert rev('ab') == 'ba'"]},
            {"id": "total", "lang": "zh", "task": "返回列表中所有数的和。", "signature": "def total(xs):",
             "tests": ["assert total([1, 2]) == 3", "assert total([]) == 0", "assert total([5]) == 5"]}]
    tasks.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return plan_round({"code_ref": 2}, ["en", "zh"], PromptLibrary.load(), round_index=0, base_seed=0, documents=[],
                      problems=[], topics=[], model="m", code_tasks=load_code_tasks([str(tasks)]))


def test_code_ref_rows_carry_the_seeds_tests_and_are_judged_by_them_in_the_sandbox(tmp_path):
    plan = _code_ref_plan(tmp_path)
    assert [s.task for s in plan] == ["code_ref", "code_ref"] and [s.lang for s in plan] == ["en", "zh"]
    assert "def rev(s):\n    \"\"\"Return the string s reversed.\"\"\"" in plan[0].messages[-1]["content"]
    answers = ['```python\ndef rev(s):\n    """Return the string s reversed."""\n    return s[::-1]\n'
               'assert rev("x") == "wrong"\n```',  # its own wrong assert is not part of the sample
               '```python\ndef total(xs):\n    """返回和。"""\n    return sum(xs) + 1\n```']  # wrong
    results = [ChatResult(s.sample_id, f"k{i}", "done", a, "stop", 10, 20, 1) for i, (s, a) in enumerate(zip(plan, answers))]
    table = build_rows(plan, results, model="m", round_index=0)
    assert table["tests"].to_pylist()[0] == "\n".join(plan[0].reference_tests)
    assert table["text"].to_pylist()[0].startswith("Write a Python function `rev(s)`. Return the string s reversed.")
    assert table["text"].to_pylist()[1].startswith("编写 Python 函数 `total(xs)`：")
    verified = Verifier({}, {"min_tests": 3, "require_docstring": True})(table)
    assert verified["verified"].to_pylist() == [True, False]
    assert verified["drop_reason"].to_pylist() == [None, "verify_code:tests_failed"]
    assert verified["tests_passed"].to_pylist()[0] == 3
