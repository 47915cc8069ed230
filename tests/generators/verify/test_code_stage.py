"""The verify_code stage: each sample's tests run against its function in the sandbox."""

from __future__ import annotations

import pyarrow as pa
import pytest

from generators.verify.code_stage import VerifyCodeStage, verify_sample
from pipeline.config import build_stage
from pipeline.schema import drop_rows, make_batch

GOOD = '''```python
def add(a, b):
    """Return the sum of a and b."""
    return a + b
```

```python
assert add(1, 2) == 3
assert add(-1, 1) == 0
assert add(0, 0) == 0
```'''


@pytest.fixture(scope="module")
def stage():
    s = VerifyCodeStage(per_test_timeout_s=1.0, timeout_s=20.0, memory_mb=256, workers=2)
    s.setup()
    return s


def _batch(texts, **extra):
    return make_batch(texts, ids=[f"c{i}" for i in range(len(texts))], source="t", origin="synthetic", extra=extra)


def _verdict(stage, text):
    return verify_sample(text, stage.sandbox, per_test_timeout_s=stage.per_test_timeout_s)


def test_correct_sample_is_verified(stage):
    v = _verdict(stage, GOOD)
    assert v.verified and (v.passed, v.failed) == (3, 0) and v.reason is None


def test_wrong_function_fails_with_the_failing_assert_and_its_value(stage):
    v = _verdict(stage, GOOD.replace("return a + b", "return a - b"))
    assert not v.verified and v.reason == "tests_failed" and (v.passed, v.failed) == (1, 2)
    assert v.error_type == "AssertionError"
    assert v.error == "assert_1: assert add(1, 2) == 3  (left side was -1)"


def test_infinite_loop_times_out(stage):
    v = _verdict(stage, GOOD.replace("return a + b", "while True:\n        pass"))
    assert v.reason == "timeout" and v.error_type == "TestTimeout" and v.failed == 3


def test_memory_hog_is_a_sandbox_violation(stage):
    v = _verdict(stage, GOOD.replace("return a + b", "return len(bytearray(2 * 1024 ** 3))"))
    assert v.reason == "sandbox_violation" and v.error_type == "MemoryError"


def test_forked_children_share_one_memory_limit(stage):
    """Four children of 100 MiB: each under the per-process limit, together over the sandbox's 256 MiB."""
    hog = ("import os, time\n    for _ in range(4):\n        if os.fork() == 0:\n"
           "            data = b'x' * (100 << 20)\n            time.sleep(3)\n            os._exit(0)\n"
           "    time.sleep(0.9)\n    return a + b")
    v = _verdict(stage, GOOD.replace("return a + b", hog))
    assert not v.verified and v.reason == "sandbox_violation" and v.error_type == "memory_limit", v


def test_code_that_needs_the_network_fails(stage):
    text = ("import urllib.request\ndef fetch():\n    '''Fetch a page.'''\n"
            "    return urllib.request.urlopen('http://example.com', timeout=2).status\n\nassert fetch() == 200\n")
    v = _verdict(stage, text)
    assert not v.verified and v.reason == "tests_failed" and v.error_type == "URLError"


def test_forged_result_lines_are_ignored(stage):
    text = ('def add(a, b):\n    """Wrong."""\n    return 0\n'
            'print(\'{"test": "assert_1", "ok": true}\')\nassert add(1, 2) == 3\n')
    v = _verdict(stage, text)
    assert not v.verified and v.reason == "tests_failed"


def test_exiting_the_interpreter_does_not_pass(stage):
    text = 'import os\ndef f():\n    """Exit."""\n    os._exit(0)\n\nassert f() is None\nassert f() == 1\n'
    v = _verdict(stage, text)
    assert not v.verified and v.reason == "runtime_error" and v.passed == 0


def test_module_level_error_is_a_solution_error(stage):
    v = _verdict(stage, 'def f():\n    """Doc."""\n    return 1\nraise ValueError("boom")\nassert f() == 1\n')
    assert v.reason == "solution_error" and v.error_type == "ValueError" and v.error == "boom"


def test_unittest_and_pytest_styles_run(stage):
    text = '''import unittest

def fact(n):
    """n factorial."""
    return 1 if n <= 1 else n * fact(n - 1)

def test_small():
    assert fact(3) == 6

class TestFact(unittest.TestCase):
    def test_zero(self):
        self.assertEqual(fact(0), 1)
    def test_wrong(self):
        self.assertEqual(fact(4), 25)

if __name__ == "__main__":
    unittest.main()
'''
    v = _verdict(stage, text)
    assert (v.passed, v.failed, v.reason) == (2, 1, "tests_failed")
    assert v.error.startswith("TestFact.test_wrong: AssertionError: 24 != 25")


def test_stage_columns_reasons_and_order(stage):
    texts = [GOOD, GOOD.replace("a + b", "a * b"), "def f(:\n  pass", "def f():\n    return 1\nassert True\n",
             "x = 1\nassert x == 1\n", GOOD]
    out = stage(_batch(texts))
    assert out.num_rows == len(texts)
    assert out["verified"].to_pylist() == [True, False, False, False, False, True]
    assert out["drop_reason"].to_pylist() == [None, "verify_code:tests_failed", "verify_code:parse_error",
                                              "verify_code:no_tests", "verify_code:no_function", None]
    assert out["tests_passed"].to_pylist()[:2] == [3, 1]
    assert out["tests_failed"].type == pa.int32()
    assert set(out["sandbox_isolation"].to_pylist()) == {stage.sandbox.isolation}
    assert out["verify_error"].to_pylist()[0] is None and "SyntaxError" in out["verify_error"].to_pylist()[2]


def test_docstring_and_minimum_tests_can_be_required(stage):
    no_doc = GOOD.replace('    """Return the sum of a and b."""\n', "")
    assert verify_sample(no_doc, stage.sandbox, require_docstring=True).reason == "no_docstring"
    assert verify_sample(GOOD, stage.sandbox, min_tests=4).reason == "no_tests"


def test_only_selected_active_rows_are_run_and_math_columns_survive(stage):
    batch = _batch([GOOD, GOOD, "#### 3"], gen_task=pa.array(["code", "code", "math"]),
                   verified=pa.array([None, None, True]), verify_error=pa.array([None, None, None], pa.string()))
    batch = drop_rows(batch, [False, True, False], "langid:lang")
    s = build_stage("verify_code", {"select_field": "gen_task", "select_values": ["code"]})
    out = s(batch)
    assert out["verified"].to_pylist() == [True, None, True]  # row 2 keeps verify_math's verdict
    assert out["drop_reason"].to_pylist() == [None, "langid:lang", None]
    assert out["tests_passed"].to_pylist() == [3, None, None]


def test_config_is_validated():
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="isolation"):
        build_stage("verify_code", {"isolation": "docker"})
