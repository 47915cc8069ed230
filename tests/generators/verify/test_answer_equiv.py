"""Answer equivalence: numbers in their many spellings, symbolic forms, and the external timeout."""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest

from generators.verify.answer_equiv import (SymbolicChecker, answers_equivalent, normalize_answer, quick_equivalence,
                                     to_number)


@pytest.mark.parametrize("written, value", [
    ("18", 18), ("$18.00", 18), ("18 dollars", 18), ("\\$18", 18), ("1,875", 1875), ("58,500", 58500),
    ("11,\\! 111,\\! 111,\\! 100", 11111111100), ("\\dfrac{17}{50}", Fraction(17, 50)), ("\\frac9{19}", Fraction(9, 19)),
    ("\\frac14", Fraction(1, 4)), ("-\\frac{3}{8}", Fraction(-3, 8)), ("3/4", Fraction(3, 4)), (".0000672", Fraction(672, 10**7)),
    ("137 \\frac{1}{2}", Fraction(275, 2)), ("90^\\circ", 90), ("75°", 75), ("\\frac{270}7\\text{ degrees}", Fraction(270, 7)),
    ("x = 5", 5), ("9页", 9), ("5 cm", 5), ("还剩9页没有看", 9), ("12元", 12),
])
def test_numbers_are_read_exactly(written, value):
    num = to_number(written)
    assert num is not None, written
    assert num.value == value


@pytest.mark.parametrize("written", ["15x", "3R^2", "y = 2x + 3", "1,-2", "2516_8", "\\sqrt{53}", "(8,-2)"])
def test_non_numbers_are_not_forced_into_numbers(written):
    assert to_number(written) is None


@pytest.mark.parametrize("pred, gold", [
    ("18", "$18.00"), ("0.5", "\\frac{1}{2}"), ("50%", "0.5"), ("0.5", "50\\%"), ("1875", "1,875"),
    ("\\text{(C)}", "C"), ("(c)", "\\text{(C)}"), ("17/50", "\\dfrac{17}{50}"), ("3.3333333", "\\frac{10}{3}"),
])
def test_quick_equivalence_accepts(pred, gold):
    eq = quick_equivalence(pred, gold)
    assert eq is not None and eq.equal, (pred, gold, eq)


@pytest.mark.parametrize("pred, gold", [
    ("19", "18"), ("\\frac{15}{3}", "\\frac{14}{3}"), ("0.51", "0.5"), ("D", "\\text{(C)}"), ("3.33", "\\frac{10}{3}"),
    ("", "1"),
])
def test_quick_equivalence_rejects(pred, gold):
    eq = quick_equivalence(pred, gold)
    assert eq is not None and eq.equal is False, (pred, gold, eq)


def test_normalize_keeps_structure():
    assert normalize_answer("\\left( \\frac{3}{2}, -13 \\right)") == "( \\frac{3}{2}, -13 )"
    assert normalize_answer("y = 2x + 3") == "y = 2x + 3"


@pytest.fixture(scope="module")
def checker():
    with SymbolicChecker(timeout_s=3.0) as c:
        yield c


@pytest.mark.parametrize("pred, gold, equal", [
    ("\\sqrt{117}", "3\\sqrt{13}", True),
    ("4\\sqrt{13}", "3\\sqrt{13}", False),
    ("(2,\\infty)", "(2, \\infty)", True),
    ("(3,\\infty)", "(2,\\infty)", False),
    ("-2,1", "1,-2", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("x^2+2x+2", "(x+1)^2", False),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", True),
])
def test_symbolic_equivalence(checker, pred, gold, equal):
    eq = answers_equivalent(pred, gold, checker)
    assert eq.equal is equal, eq


def test_model_output_is_never_evaluated_as_python(checker, tmp_path):
    marker = tmp_path / "pwned"
    eq = answers_equivalent(f"__import__('os').system('touch {marker}')", "1", checker)
    assert eq.equal is False
    assert not marker.exists()


def test_runaway_comparison_times_out_and_the_worker_recovers():
    with SymbolicChecker(timeout_s=1.0) as c:
        eq = answers_equivalent("2^{2^{2^{2^{2^{2^{10}}}}}}", "1", c)
        assert eq.equal is None and eq.error.startswith("timeout"), eq
        assert c.restarts == 1
        assert answers_equivalent("\\sqrt{12}", "2\\sqrt{3}", c).equal is True  # a fresh worker answers


def test_checker_works_from_threads(checker):
    """math-verify's own signal.alarm timeout fails off the main thread; ours must not."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(checker.equivalent("\\sqrt{8}", "2\\sqrt{2}")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(True, None)] * 3
