from __future__ import annotations

from generators.tasks.parse import boxed_contents, code_text, count_tests, math_text, parse_code, parse_math


def test_math_new_problem_in_english_with_bold_labels():
    out = parse_math(
        "**Problem:** Anna has 3 apples and buys 5 more. How many now?\n"
        "**Solution:** She has 3 + 5 = 8 apples.\n"
        "**Final answer:** \\boxed{8}", needs_problem=True)
    assert out.error is None
    assert out.fields == {"problem": "Anna has 3 apples and buys 5 more. How many now?",
                          "solution": "She has 3 + 5 = 8 apples.", "answer": "8"}


def test_math_new_problem_in_chinese_with_full_width_colons():
    out = parse_math("题目：一本书有99页，看了90页，还剩多少页？\n解答：99 - 90 = 9（页）。\n答案：9", needs_problem=True)
    assert out.error is None
    assert out.fields["problem"].startswith("一本书") and out.fields["answer"] == "9"


def test_nested_braces_in_boxed_answers():
    assert boxed_contents(r"so \boxed{\frac{1}{2}} and \boxed{3}") == [r"\frac{1}{2}", "3"]
    out = parse_math("Solution: half of one.\nFinal answer: \\boxed{\\frac{1}{2}}", needs_problem=False)
    assert out.error is None and out.fields["answer"] == r"\frac{1}{2}"


def test_math_reasons_for_incomplete_samples():
    assert parse_math("Solution: 2+2=4\nFinal answer: \\boxed{4}", needs_problem=True).error == "no_problem"
    assert parse_math("Problem: what is 2+2?\nFinal answer: 4", needs_problem=True).error == "no_solution"
    assert parse_math("Problem: what is 2+2?\nSolution: add them.", needs_problem=True).error == "no_answer"
    assert parse_math("I like turtles.", needs_problem=False).error == "no_answer"


def test_solve_with_reference_accepts_a_bare_worked_answer():
    out = parse_math("First 16 - 3 - 4 = 9 eggs. Then 9 * 2 = 18.\nThe final answer: \\boxed{18}", needs_problem=False)
    assert out.error is None and out.fields["answer"] == "18" and "16 - 3 - 4" in out.fields["solution"]


CODE_OK = '''Task: Write a function that reverses the words of a sentence.

```python
def reverse_words(s):
    """Return s with its words in reverse order."""
    return " ".join(reversed(s.split()))
```

Tests:
```python
assert reverse_words("a b c") == "c b a"
assert reverse_words("") == ""
assert reverse_words("one") == "one"
```
'''


def test_code_with_separate_blocks():
    out = parse_code(CODE_OK)
    assert out.error is None
    assert out.fields["task"] == "Write a function that reverses the words of a sentence."
    assert out.fields["code"].startswith("def reverse_words") and count_tests(out.fields["tests"]) == 3


def test_code_with_function_and_asserts_in_one_block():
    text = "任务：编写函数求两数之和。\n```python\ndef add(a, b):\n    \"\"\"返回 a 与 b 的和。\"\"\"\n    return a + b\n\nassert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(-1, 1) == 0\n```"
    out = parse_code(text)
    assert out.error is None, out
    assert "assert" not in out.fields["code"] and count_tests(out.fields["tests"]) == 3
    assert out.fields["task"] == "编写函数求两数之和。"


def test_code_reasons_for_incomplete_samples():
    assert parse_code("Task: do it. I cannot write code.").error == "no_code"
    no_doc = CODE_OK.replace('    """Return s with its words in reverse order."""\n', "")
    assert parse_code(no_doc).error == "no_docstring"
    two_tests = CODE_OK.replace('assert reverse_words("one") == "one"\n', "")
    assert parse_code(two_tests).error == "too_few_tests"
    assert parse_code("```python\nx = 1\n```").error == "no_function"


def test_code_that_does_not_compile_is_left_for_the_verifier():
    text = CODE_OK.replace("return \" \".join", "return \" \".join(")
    assert parse_code(text).error is None  # verify_code reports the SyntaxError, repair gets it


def test_canonical_texts_round_trip_through_the_parsers():
    m = math_text("What is 2+3?", "2+3=5.", "5", "en")
    assert parse_math(m, needs_problem=True).fields == {"problem": "What is 2+3?", "solution": "2+3=5.", "answer": "5"}
    z = math_text("2加3等于几？", "2+3=5。", "5", "zh")
    assert parse_math(z, needs_problem=True).fields["answer"] == "5"
    c = code_text("Add two numbers.", 'def add(a, b):\n    """Sum."""\n    return a + b',
                  "assert add(1, 1) == 2\nassert add(0, 0) == 0\nassert add(2, 3) == 5", "en")
    assert parse_code(c).error is None


def test_code_without_a_task_line_takes_the_docstring_as_its_task():
    text = ('```python\ndef count_vowels(s):\n    """Count the vowels in s."""\n    return sum(c in "aeiou" for c in s)\n```\n'
            '```python\nassert count_vowels("abc") == 1\nassert count_vowels("") == 0\nassert count_vowels("aei") == 3\n```')
    out = parse_code(text)
    assert out.error is None and out.fields["task"] == "Count the vowels in s."
    assert parse_code(text.replace('    """Count the vowels in s."""\n', "")).error == "no_task"
