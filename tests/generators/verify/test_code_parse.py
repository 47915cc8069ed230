"""Splitting a generated sample into its solution and one test case per test."""

from __future__ import annotations

from generators.verify.code_parse import extract_code, parse_sample

SAMPLE = '''Here is the function:
```python
import math

def circle_area(r):
    """Area of a circle of radius r."""
    return math.pi * r * r
```
And tests:
```python
assert circle_area(0) == 0
assert abs(circle_area(1) - 3.14159) < 1e-4
assert 1 + 1 == 2

def test_two():
    assert round(circle_area(2), 2) == 12.57

if __name__ == "__main__":
    test_two()
    print("ok")
```
'''


def test_fenced_blocks_are_joined_and_prose_dropped():
    code = extract_code(SAMPLE)
    assert "Here is" not in code and "import math" in code and "def test_two" in code


def test_solution_and_tests_are_split():
    p = parse_sample(SAMPLE)
    assert p.ok and p.functions == ["circle_area"] and p.has_docstring
    assert "def circle_area" in p.solution and "assert" not in p.solution and "__main__" not in p.solution
    assert [t.name for t in p.tests] == ["assert_1", "assert_2", "assert_3", "test_two"]
    assert [t.calls_solution for t in p.tests] == [True, True, False, True]
    assert p.tests[3].source.rstrip().endswith("test_two()")


def test_unittest_classes_give_one_test_per_method():
    text = '''import unittest
def inc(x):
    return x + 1
class TestInc(unittest.TestCase):
    def setUp(self):
        self.base = 1
    def test_one(self):
        self.assertEqual(inc(self.base), 2)
    def test_two(self):
        self.assertEqual(inc(1), 3)
if __name__ == "__main__":
    unittest.main()
'''
    p = parse_sample(text)
    assert [t.name for t in p.tests] == ["TestInc.test_one", "TestInc.test_two"]
    assert not p.has_docstring
    assert "unittest.main" not in p.solution


def test_humaneval_style_checker():
    text = "def f(x):\n    return 2 * x\n\ndef check(candidate):\n    assert candidate(2) == 4\n\ncheck(f)\n"
    p = parse_sample(text)
    assert [t.name for t in p.tests] == ["check"] and p.tests[0].calls_solution
    assert "check(f)" in p.tests[0].source


def test_asserts_inside_the_main_block_are_tests():
    p = parse_sample("def f():\n    return 1\nif __name__ == '__main__':\n    assert f() == 1\n")
    assert [t.name for t in p.tests] == ["assert_1"]


def test_parse_errors_are_reported_not_raised():
    assert parse_sample("```python\ndef f(:\n    pass\n```").error_type == "SyntaxError"
    assert parse_sample("").error_type == "no_code"
    assert parse_sample("x = 1\nassert x == 1").error_type == "no_function"
    assert parse_sample("def f():\n    return 1\x00").error_type == "SyntaxError"


def test_self_imports_of_the_tests_are_dropped():
    text = ("```python\ndef add(a, b):\n    return a + b\n```\n"
            "```python\nfrom solution import add\nfrom math import sqrt\n\nassert add(1, 2) == 3\n```")
    p = parse_sample(text)
    assert "from solution" not in p.solution and "from math import sqrt" in p.solution
    assert [t.name for t in p.tests] == ["assert_1"]
