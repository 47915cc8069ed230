"""Final-answer extraction: every convention, nesting, precedence, and the last-number fallback."""

from __future__ import annotations

import json

import pytest

from generators.verify.answer_extract import extract_answer, extract_reference, find_boxed, last_number


def test_boxed_with_nested_braces_takes_the_last_box():
    text = r"First $\boxed{2}$ is a step. So $f = \boxed{\frac{\sqrt{3}}{2}}$."
    found = extract_answer(text)
    assert (found.answer, found.method) == (r"\frac{\sqrt{3}}{2}", "boxed")


def test_boxed_without_braces_and_fbox():
    assert extract_answer(r"so the answer is $\boxed 5$").answer == "5"
    assert extract_answer(r"\fbox{12}").answer == "12"


def test_unbalanced_box_is_ignored():
    assert find_boxed(r"\boxed{\frac{1}{2}") == []


def test_gsm8k_hash_line_beats_the_last_number():
    text = "She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18"
    found = extract_answer(text)
    assert (found.answer, found.method) == ("18", "hash")


@pytest.mark.parametrize("text, answer", [
    ("小明一共有 12 个苹果，所以答案：12个。", "12个"),
    ("计算得 3+4=7，答案是7。", "7"),
    ("所以最终答案为 $\\frac{1}{2}$。", "\\frac{1}{2}"),
    ("解：5+4=9(页)\n答：还剩9页没有看。", "还剩9页没有看"),
])
def test_chinese_markers(text, answer):
    found = extract_answer(text)
    assert found.method == "zh_marker"
    assert found.answer == answer


@pytest.mark.parametrize("text, answer", [
    ("Adding them up, the answer is 42.", "42"),
    ("Therefore, the final answer is $3.5$ dollars. Done", "3.5"),
    ("Answer: 1,250\n", "1,250"),
    ("**Final Answer:** x = 7", "x = 7"),
])
def test_english_markers(text, answer):
    found = extract_answer(text)
    assert found.method == "en_marker"
    assert found.answer == answer


def test_last_number_fallback_skips_calculator_annotations_and_can_be_disabled():
    text = "He pays 3 * 4 = <<3*4=12>>12 dollars, then 12 - 2 = 10 remain."
    found = extract_answer(text)
    assert (found.answer, found.method) == ("10", "last_number")
    assert extract_answer(text, allow_last_number=False) is None
    assert last_number("costs 1,234.5 in total") == ("1,234.5", 6)


def test_no_answer():
    assert extract_answer("I do not know.") is None
    assert extract_answer("") is None
    assert extract_answer(None) is None


def test_reference_may_be_a_bare_answer_or_a_solution():
    assert extract_reference(" 18 ") == "18"
    assert extract_reference("Step.\n#### 1,875") == "1,875"
    assert extract_reference(r"thus $\boxed{\dfrac{1}{4}}$") == r"\dfrac{1}{4}"
    assert extract_reference("") is None and extract_reference(None) is None


def test_real_dev_solutions_yield_their_gold_answer(dev_data):
    """Every GSM8K raw solution and MATH500 solution in the dev set carries its gold answer."""
    rows = [json.loads(line) for line in (dev_data / "math_pos_en.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        text = row.get("solution_raw") or row["solution"]
        found = extract_answer(text, allow_last_number=False)
        assert found is not None, row["id"]
        assert found.answer == row["answer"], row["id"]
