"""A sample that tampers with its test run is never verified.

Each sample here has a wrong ``add`` (it returns ``a - b``) plus a trick meant to make
the harness report its tests as passed. ``ACCEPTED_BEFORE`` names the tricks that the
harness before the process split (harness in the sample's interpreter) accepted as
verified; every trick must come out unverified now.
"""

from __future__ import annotations

import pytest

from generators.verify.code_stage import VerifyCodeStage, verify_sample

DOC = '    """Add two numbers."""\n'
ASSERTS = "\nassert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(0, 5) == 5\n"
UNITTESTS = '''
class TestAdd(unittest.TestCase):
    def test_one(self):
        self.assertEqual(add(1, 2), 3)

    def test_two(self):
        self.assertEqual(add(0, 5), 5)
'''
FORGED_LINES = '''
import __main__, json as _j
_n = getattr(__main__, "_nonce", "")
_lines = "".join(_n + _j.dumps({"test": t, "ok": True}) + "\\n" for t in [None, "assert_1", "assert_2", "assert_3"])
'''


def _wrong(prelude: str = "", body: str = "return a - b", tests: str = ASSERTS) -> str:
    return f"{prelude}\ndef add(a, b):\n{DOC}    {body}\n{tests}"


TRICKS = {
    # the nonce is read from the harness's module and "passed" lines go to the real stdout
    "forged_lines_on_sys_stdout": _wrong(FORGED_LINES + "import os, sys\nsys.__stdout__.write(_lines)\n"
                                         "sys.__stdout__.flush()\nos._exit(0)\n"),
    # the same lines written straight to the inherited fd 1 and to the /proc fds of the parents
    "forged_lines_on_inherited_fds": _wrong(FORGED_LINES + (
        "import os\nos.write(1, _lines.encode())\n"
        "for _p in ('/proc/%d/fd/1' % os.getppid(), '/proc/1/fd/1'):\n"
        "    try:\n        _f = open(_p, 'w'); _f.write(_lines); _f.close()\n    except OSError:\n        pass\n"
        "os._exit(0)\n")),
    # late lines from an exit hook override the harness's real (failing) ones
    "forged_lines_from_atexit": _wrong(FORGED_LINES + "import atexit, sys\n"
                                       "atexit.register(lambda: sys.__stdout__.write(_lines))\n"),
    # every report the harness serialises is turned into a pass
    "json_dumps_replaced": _wrong("import json\n_real = json.dumps\n"
                                  "json.dumps = lambda o, *a, **k: _real(dict(o, ok=True) if isinstance(o, dict) "
                                  "and 'test' in o else o, *a, **k)\n"),
    # the tests are never executed
    "builtins_exec_replaced": _wrong("import builtins\nbuiltins.exec = lambda *a, **k: None\n"),
    # `import unittest` in the tests yields a module whose TestResult forgets failures
    "builtins_import_replaced": _wrong(
        "import builtins, unittest\n_imp = builtins.__import__\n"
        "class _Quiet(unittest.TestResult):\n    def addFailure(self, *a):\n        pass\n"
        "    def addError(self, *a):\n        pass\n"
        "class _FakeUnittest:\n    TestResult = _Quiet\n    TestCase = unittest.TestCase\n"
        "def _import(name, *a, **k):\n    return _FakeUnittest() if name == 'unittest' else _imp(name, *a, **k)\n"
        "builtins.__import__ = _import\n", tests=UNITTESTS),
    # the assertion helpers the tests use become no-ops
    "unittest_assert_helpers_patched": _wrong("import unittest\n"
                                              "unittest.TestCase.assertEqual = lambda self, a, b, msg=None: None\n",
                                              tests=UNITTESTS),
    "math_isclose_patched": _wrong("import math\nmath.isclose = lambda *a, **k: True\n",
                                   tests="\nassert math.isclose(add(0.5, 0.25), 0.75)\n"
                                         "assert math.isclose(add(1.5, 1.5), 3.0)\n"),
    # results compared with the sample's own __eq__
    "always_true_eq": _wrong("class _Any:\n    def __eq__(self, other):\n        return True\n",
                             body="return _Any()"),
    "int_subclass_eq": _wrong("class _Int(int):\n    def __eq__(self, other):\n        return True\n"
                              "    __hash__ = int.__hash__\n", body="return _Int(a - b)"),
    "list_subclass_eq": _wrong("class _L(list):\n    def __eq__(self, other):\n        return True\n",
                               body="return _L([a - b])",
                               tests="\nassert add(1, 2) == [3]\nassert add(2, 2) == [4]\n"),
    # the function walks up the stack to the harness's report function and calls it
    "frame_walk_to_the_reporter": _wrong("import os, sys\n", body=(
        "f = sys._getframe(1)\n    while f is not None:\n        emit = f.f_locals.get('emit')\n"
        "        if callable(emit):\n            for t in ('assert_1', 'assert_2', 'assert_3'):\n"
        "                emit({'test': t, 'ok': True})\n            os._exit(0)\n        f = f.f_back\n"
        "    return a - b")),
    # tests that only compare through a builtin the solution shadows (abs is always 0)
    "shadowed_builtin_in_tests": _wrong("abs = lambda x: 0\n", tests="\nassert abs(add(1, 2) - 3) < 1e-9\n"
                                                                     "assert abs(add(2, 2) - 4) < 1e-9\n"),
    # exceptions that are not Exceptions, inside the tests
    "system_exit_in_tests": _wrong(body="raise SystemExit(0)"),
    "keyboard_interrupt_in_tests": _wrong(body="raise KeyboardInterrupt"),
    # the harness (the sample's parent) is killed after forging
    "kill_the_parent": _wrong(FORGED_LINES + "import os, signal, sys\nsys.__stdout__.write(_lines)\n"
                                             "sys.__stdout__.flush()\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                             "os._exit(0)\n"),
    # the first call swaps the test's check function for a no-op, so the failing assertions after it go unreported
    "failing_checks_suppressed": _wrong("import sys\n", body=(
        "sys._getframe(1).f_globals.update({k: (lambda *a: None) for k in list(sys._getframe(1).f_globals)\n"
        "                                   if k.startswith('_taosha')})\n    return a - b"),
        tests="\ndef test_add():\n    assert add(0, 0) == 0\n    assert add(1, 2) == 3\n    assert add(2, 2) == 4\n"),
    # "passed" events written on every fd the test process holds (the runner's result pipe among them)
    "forged_events_on_the_result_pipe": _wrong(
        "import json, os\n"
        "_ev = ''.join(json.dumps(e) + '\\n' for e in [{'e': 'solution', 'ok': True}] + [x for i in range(3) for x in "
        "({'e': 'start', 't': i}, {'e': 'end', 't': i, 'ok': True})]).encode()\n"
        "for _fd in range(3, 64):\n    try:\n        os.write(_fd, _ev)\n    except OSError:\n        pass\n"
        "os._exit(0)\n"),
}
ACCEPTED_BEFORE = {"forged_lines_on_sys_stdout", "forged_lines_on_inherited_fds", "forged_lines_from_atexit",
                   "json_dumps_replaced", "builtins_exec_replaced", "builtins_import_replaced",
                   "unittest_assert_helpers_patched", "math_isclose_patched", "always_true_eq", "int_subclass_eq",
                   "list_subclass_eq", "frame_walk_to_the_reporter", "shadowed_builtin_in_tests", "kill_the_parent"}


@pytest.fixture(scope="module")
def stage():
    s = VerifyCodeStage(per_test_timeout_s=2.0, timeout_s=20.0, memory_mb=256, workers=2)
    s.setup()
    return s


@pytest.mark.parametrize("name", sorted(TRICKS))
def test_tampering_is_not_verified(stage, name):
    v = verify_sample(TRICKS[name], stage.sandbox, per_test_timeout_s=stage.per_test_timeout_s)
    assert not v.verified, (name, v)
    assert v.reason is not None


def test_the_same_samples_with_a_right_add_and_no_trick_are_verified(stage):
    """The control: without the trick, the tests themselves pass (so the tricks above are what fails)."""
    for tests in (ASSERTS, "import unittest\n" + UNITTESTS, "import math\n\nassert math.isclose(add(0.5, 0.25), 0.75)\n"):
        v = verify_sample(_wrong(body="return a + b", tests=tests), stage.sandbox)
        assert v.verified, (tests, v)


def test_the_harness_is_out_of_reach_of_the_sample(stage):
    """The sample's process cannot open the harness's memory, fds or environment (it is not dumpable).

    If it could, it could read the nonce or the expected values; here it is right only when it cannot.
    """
    text = ("import os\n_n = 0\nfor _p in ('mem', 'fd/0', 'fd/1', 'environ'):\n    try:\n"
            "        open('/proc/%d/%s' % (os.getppid(), _p), 'rb').close()\n        _n += 1\n    except OSError:\n"
            "        pass\n" + _wrong(body="return a + b if _n == 0 else a - b"))
    v = verify_sample(text, stage.sandbox)
    assert v.verified, v


def test_tests_without_a_literal_expectation_do_not_verify(stage):
    text = _wrong(body="return a + b", tests="\nassert add(1, 2) == add(2, 1)\nassert add(1, 1) > 0\n")
    v = verify_sample(text, stage.sandbox)
    assert not v.verified and v.reason == "no_tests" and "literal" in v.error
