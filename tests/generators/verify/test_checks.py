"""Assertions become checks judged in the harness: the rewrite, the plain-data encoding, the comparison rules."""

from __future__ import annotations

import json

import pytest

from generators.verify.checks import CHECK_FN, rewrite_test
from generators.verify import code_parse
from generators.verify.code_parse import parse_sample
from generators.verify.harness import holds
from generators.verify.plain import Unsupported, decode, encode


def _rewrite(source: str, kind: str = "assert", name: str = "assert_1"):
    return rewrite_test(code_parse.TestCase(name, kind, source, True), 0)


def test_expected_literals_stay_in_the_harness():
    source, (check,) = _rewrite("assert add(1, 2) == 3\n")
    assert source == f"{CHECK_FN}(0, [add(1, 2)])\n"  # the 3 is not in what the sample's process runs
    assert check.operands == [{"val": 0}, {"lit": 3}] and check.ops == [["=="]] and check.anchored


@pytest.mark.parametrize("source, ops, anchored", [
    ("assert f(x) is None", [["is"]], True),
    ("assert not f(x) == 3", [["!="]], False),
    ("assert f(x) != 3", [["!="]], False),
    ("assert 0 <= f(x) < 10", [["<="], ["<"]], False),
    ("assert f(x)", [["truth"]], False),
    ("assert not f(x)", [["not"]], False),
    ("assert f(x) == pytest.approx(0.3)", [["approx", None, None]], True),
    ("assert math.isclose(f(x), 0.3, rel_tol=1e-3)", [["isclose", 1e-3, 0.0]], True),
    ("assert f(x) == g(y)", [["=="]], False),
    ("assert f(x) is obj", [["truth"]], False),  # identity of non-singletons cannot be judged by value
])
def test_assert_forms(source, ops, anchored):
    _, (check,) = _rewrite(source + "\n")
    assert check.ops == ops and check.anchored == anchored


def test_and_splits_into_checks_and_asserts_inside_functions_are_found():
    source, checks = _rewrite("def test_x():\n    for i in range(3):\n        assert f(i) == 1 and g(i) == 2\ntest_x()\n",
                              kind="function", name="test_x")
    assert len(checks) == 2 and source.count(CHECK_FN) == 2 and "assert" not in source


def test_unittest_assertions_and_which_checks_are_the_methods_own():
    parsed = parse_sample("import unittest\ndef f(x):\n    return x\n"
                          "class TestF(unittest.TestCase):\n    def setUp(self):\n        self.assertTrue(f(1))\n"
                          "    def test_a(self):\n        self.assertEqual(f(2), 2)\n        self.assertIsNone(f(None))\n"
                          "        self.assertAlmostEqual(f(0.5), 0.5, places=3)\n"
                          "        with self.assertRaises(TypeError):\n            f()\n"
                          "    def test_b(self):\n        self.assertIn(f(1), [1, 2])\n")
    test_a = next(t for t in parsed.tests if t.name == "TestF.test_a")
    source, checks = rewrite_test(test_a, 10)
    by_op = {c.ops[0][0]: c for c in checks}
    assert [c.id for c in checks] == list(range(10, 15))
    assert not by_op["truth"].own and not by_op["in"].own  # setUp and the other test
    assert by_op["=="].own and by_op["=="].anchored and by_op["is"].anchored
    assert by_op["almost"].ops == [["almost", 3, None]]
    assert "assertRaises" in source and "assertEqual" not in source


@pytest.mark.parametrize("value", [None, True, 0, -7, 2 ** 4000, 1.5, float("inf"), 2j, "é", b"\x00", bytearray(b"a"),
                                   [1, [2]], (1, (2,)), {"a": (1,)}, {1, 2}, frozenset({3}), range(0, 9, 3)])
def test_plain_values_round_trip_with_their_exact_type(value):
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [type("Any", (), {"__eq__": lambda s, o: True})(), type("I", (int,), {})(3),
                                   [type("L", (list,), {})()], {"k": object()}, print,
                                   type("Spoof", (), {"__class__": int})()])  # isinstance(x, int) is True
def test_anything_else_is_refused(value):
    with pytest.raises(Unsupported):
        encode(value)


def test_cyclic_and_huge_values_are_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(Unsupported):
        encode(loop)
    with pytest.raises(Unsupported):
        encode(["x" * 1_000_000] * 5)


@pytest.mark.parametrize("op, pair, expected", [
    (["=="], [(1, 2), [1, 2]], False),  # a tuple is not a list, as in Python
    (["=="], [3, 3.0], True),
    (["<"], [1, 2], True),
    (["in"], [2, {2: "x"}], True),
    (["is"], [None, None], True),
    (["approx", None, None], [0.30000001, 0.3], True),
    (["approx", None, None], [[0.1, 0.2], [0.1, 0.2000001]], True),
    (["approx", None, None], [0.31, 0.3], False),
    (["isclose", 1e-9, 0.0], [0.1 + 0.2, 0.3], True),
    (["almost", 7, None], [1.00000001, 1.0], True),
    (["almost", None, 0.1], [1.2, 1.0], False),
    (["seq_eq"], [(1, 2), [1, 2]], True),
    (["count_eq"], [[1, 2, 2], [2, 1, 2]], True),
    (["count_eq"], [[1, 2], [2, 2]], False),
    (["truth"], [[]], False),
    (["not"], [0], True),
])
def test_comparison_rules(op, pair, expected):
    assert holds(op, pair) is expected


def test_only_assertions_directly_in_a_tests_body_are_unconditional():
    source = ("def test_x():\n    assert f(1) == 1\n    for i in range(2):\n        assert f(i) == i\n"
              "    if f(0):\n        assert f(2) == 2\n    with ctx():\n        assert f(3) == 3\n"
              "    try:\n        assert f(4) == 4\n    except Exception:\n        pass\ntest_x()\n")
    _, checks = _rewrite(source, kind="function", name="test_x")
    assert [c.unconditional for c in checks] == [True, False, False, False, False]
    assert [c.binding for c in checks] == [True, False, False, False, False]
    _, (top,) = _rewrite("assert f(1) == 1\n")
    assert top.binding


@pytest.mark.parametrize("source, expected", [
    ("assert f(x) == tuple([1, 2])", (1, 2)),
    ("assert f(x) == 2.0 / 4.0", 0.5),
    ("assert f(x) == -(2 ** 3)", -8),
    ("assert f(x) == sorted([3, 1])", [1, 3]),
])
def test_literal_expressions_are_folded_on_the_host(source, expected):
    _, (check,) = _rewrite(source + "\n")
    assert decode(check.operands[1]["lit"]) == expected and check.binding


@pytest.mark.parametrize("source", ["assert f(x) == 'a' * 10 ** 9", "assert f(x) == 10 ** 10 ** 10",
                                    "assert f(x) == g(1)", "assert f(x) == tuple(y)", "assert f(x) == 1 / 0"])
def test_anything_else_is_computed_in_the_samples_process(source):
    _, (check,) = _rewrite(source + "\n")
    assert check.operands[1] == {"val": 1} and not check.anchored


def test_within_eps_of_a_literal_binds_and_is_judged_with_the_real_abs():
    _, (check,) = _rewrite("assert abs(f([1.0, 2.0]) - 2.0 / 3.0) < 1e-6\n")
    assert check.ops == [["absdiff", "<", 1e-6]] and check.binding
    assert holds(check.ops[0], [0.6666666, 2 / 3]) and not holds(check.ops[0], [0.67, 2 / 3])


def test_truth_of_a_bare_call_of_the_solution_binds():
    checker = code_parse.TestCase("check", "function", "def check(candidate):\n    assert candidate([1], 2)\n"
                                  "    assert not candidate([3], 1)\n    assert isinstance(candidate([1], 2), bool)\n"
                                  "check(below)\n", True)
    _, checks = rewrite_test(checker, 0, frozenset({"below"}))
    assert [c.binding for c in checks] == [True, True, False]
    _, (plain,) = rewrite_test(code_parse.TestCase("assert_1", "assert", "assert is_prime(7)\n", True), 0,
                               frozenset({"is_prime"}))
    assert plain.binding
    _, (other,) = _rewrite("assert is_prime(7)\n")  # not a function of the solution
    assert not other.binding
