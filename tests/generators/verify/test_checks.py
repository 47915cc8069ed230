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
