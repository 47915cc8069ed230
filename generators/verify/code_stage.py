"""Stage ``verify_code``: run each code sample's own unit tests against its function, sandboxed.

Per row: parse the sample (``generators.verify.code_parse``), then run a small harness in a
fresh sandbox (``generators.verify.sandbox``) that executes the solution once and each test
separately (each under its own alarm), reporting one line per test. A row is verified
when every test that exercises the solution passed and there are at least
``min_tests`` of them. Rows run in parallel on ``workers`` threads (each waits on its
own sandboxed process).

Drop reasons: ``verify_code:parse_error``, ``verify_code:no_function``,
``verify_code:no_tests``, ``verify_code:no_docstring``, ``verify_code:solution_error``
(the module itself raised), ``verify_code:tests_failed``, ``verify_code:timeout``
(wall clock, CPU limit or a test's own deadline), ``verify_code:sandbox_violation``
(memory, process count, file size or output limit).
"""

from __future__ import annotations

import inspect
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from generators.verify.code_parse import ParsedSample, parse_sample
from generators.verify.sandbox import Sandbox, SandboxLimits, SandboxResult
from pipeline.schema import active_mask, drop_rows, set_column
from pipeline.stage import stage_reason

_VIOLATION_REASONS = {"timeout": "timeout", "cpu_limit": "timeout", "memory_limit": "sandbox_violation",
                      "process_limit": "sandbox_violation", "file_size_limit": "sandbox_violation",
                      "output_limit": "sandbox_violation", "killed": "sandbox_violation"}
_TEST_ERROR_REASONS = {"TestTimeout": "timeout", "MemoryError": "sandbox_violation",
                       "BlockingIOError": "sandbox_violation", "RecursionError": "tests_failed"}


def _harness(nonce: str, spec: dict, per_test_s: float, sink_chars: int) -> None:  # runs inside the sandbox
    """Exec the solution once, then each test in a copy of its namespace; one JSON line each."""
    import io
    import signal
    import sys

    real_out = sys.stdout

    def emit(obj: dict) -> None:
        real_out.write(nonce + json.dumps(obj) + "\n")
        real_out.flush()

    class Sink(io.TextIOBase):  # what the sample prints is kept small, never floods the pipe
        def __init__(self):
            self.n = 0

        def write(self, s):
            self.n += len(s)
            return len(s)

    class TestTimeout(Exception):
        pass

    def on_alarm(signum, frame):
        raise TestTimeout(f"test ran longer than {per_test_s:g}s")

    signal.signal(signal.SIGALRM, on_alarm)
    sys.stdout = sys.stderr = Sink()
    ns: dict = {"__name__": "solution"}
    try:
        signal.setitimer(signal.ITIMER_REAL, per_test_s)
        exec(compile(spec["solution"], "solution.py", "exec"), ns)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # noqa: BLE001
        signal.setitimer(signal.ITIMER_REAL, 0)
        emit({"test": None, "ok": False, "type": type(exc).__name__, "msg": str(exc)[:sink_chars]})
        return
    emit({"test": None, "ok": True})
    for test in spec["tests"]:
        try:
            signal.setitimer(signal.ITIMER_REAL, per_test_s)
            exec(compile(test["source"], test["name"], "exec"), dict(ns))
            signal.setitimer(signal.ITIMER_REAL, 0)
            emit({"test": test["name"], "ok": True})
        except BaseException as exc:  # noqa: BLE001
            signal.setitimer(signal.ITIMER_REAL, 0)
            msg = str(exc) or ("" if isinstance(exc, AssertionError) else type(exc).__name__)
            if isinstance(exc, AssertionError) and not msg:
                msg = test["source"].strip().splitlines()[-1]
                if test.get("left"):
                    try:
                        signal.setitimer(signal.ITIMER_REAL, per_test_s)
                        msg += f"  (left side was {eval(test['left'], dict(ns))!r})"[:sink_chars]
                    except BaseException:  # noqa: BLE001
                        pass
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            emit({"test": test["name"], "ok": False, "type": type(exc).__name__, "msg": msg[:sink_chars]})
            if isinstance(exc, (TestTimeout, MemoryError)):
                return  # the sample has failed; the remaining tests count as failed without running


def build_harness(parsed: ParsedSample, tests: list, per_test_s: float, error_chars: int) -> tuple[str, str, str]:
    """(program, sample.json content, nonce) for one sandbox run."""
    import ast

    spec_tests = []
    for t in tests:
        left = None
        if t.kind == "assert":
            node = ast.parse(t.source).body[0]
            if isinstance(node.test, ast.Compare) and len(node.test.ops) == 1:
                left = ast.unparse(node.test.left)
        spec_tests.append({"name": t.name, "source": t.source, "left": left})
    nonce = secrets.token_hex(8)
    program = ("import json\n" + inspect.getsource(_harness)
               + f"\nimport sys\n_nonce = sys.stdin.readline().strip()\n"
               f"with open('sample.json', encoding='utf-8') as _f:\n    _spec = json.load(_f)\n"
               f"_harness(_nonce, _spec, {per_test_s!r}, {error_chars!r})\n")
    return program, json.dumps({"solution": parsed.solution, "tests": spec_tests}), nonce


@dataclass
class CodeVerdict:
    verified: bool
    passed: int = 0
    failed: int = 0
    error_type: str | None = None
    error: str | None = None
    reason: str | None = None  # the part after "verify_code:"


def verify_sample(text: str | None, sandbox: Sandbox, *, min_tests: int = 1, require_docstring: bool = False,
                  require_tests_call_solution: bool = True, per_test_timeout_s: float = 5.0,
                  error_chars: int = 500) -> CodeVerdict:
    """Verify one sample end to end (parse, run in ``sandbox``, judge)."""
    parsed = parse_sample(text)
    if not parsed.ok:
        reason = "no_function" if parsed.error_type == "no_function" else "parse_error"
        return CodeVerdict(False, error_type=parsed.error_type, error=parsed.error, reason=reason)
    tests = [t for t in parsed.tests if t.calls_solution or not require_tests_call_solution]
    if len(tests) < min_tests:
        why = f"{len(tests)} usable test(s), need {min_tests}"
        if len(parsed.tests) > len(tests):
            why += f" ({len(parsed.tests) - len(tests)} ignored: they call no function of the solution)"
        return CodeVerdict(False, error_type="no_tests", error=why, reason="no_tests")
    if require_docstring and not parsed.has_docstring:
        return CodeVerdict(False, error_type="no_docstring", error="the function has no docstring", reason="no_docstring")
    program, spec, nonce = build_harness(parsed, tests, per_test_timeout_s, error_chars)
    result = sandbox.run(program, files={"sample.json": spec}, stdin=nonce + "\n")
    return judge(result, nonce, [t.name for t in tests], error_chars)


def judge(result: SandboxResult, nonce: str, test_names: list[str], error_chars: int = 500) -> CodeVerdict:
    """Turn the harness's report lines (and how the sandbox ended) into a verdict."""
    reports = []
    for line in result.stdout.splitlines():
        if line.startswith(nonce):
            try:
                reports.append(json.loads(line[len(nonce):]))
            except json.JSONDecodeError:
                continue
    by_test = {r["test"]: r for r in reports if r.get("test")}
    solution = next((r for r in reports if r.get("test") is None), None)
    passed = sum(1 for n in test_names if by_test.get(n, {}).get("ok"))
    failed = len(test_names) - passed
    if solution is not None and not solution["ok"]:
        reason = _TEST_ERROR_REASONS.get(solution["type"], "solution_error")
        return CodeVerdict(False, 0, len(test_names), solution["type"], solution["msg"][:error_chars], reason)
    if result.violation is not None:
        where = next((n for n in test_names if n not in by_test), None)
        msg = f"{result.violation} in the sandbox" + (f" during {where}" if where else "")
        tail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
        if tail:
            msg += f": {tail[0]}"
        return CodeVerdict(False, passed, failed, result.violation, msg[:error_chars],
                           _VIOLATION_REASONS.get(result.violation, "sandbox_violation"))
    first = next((by_test[n] for n in test_names if n in by_test and not by_test[n]["ok"]), None)
    if solution is None or (failed and first is None):
        tail = result.stderr.strip()[-error_chars:] or f"exit code {result.returncode}"
        return CodeVerdict(False, passed, failed, "harness_error", f"the test run ended early: {tail}", "runtime_error")
    if first is not None:
        reason = _TEST_ERROR_REASONS.get(first["type"], "tests_failed")
        return CodeVerdict(False, passed, failed, first["type"], f"{first['test']}: {first['msg']}"[:error_chars], reason)
    return CodeVerdict(True, passed, 0)


@dataclass
class VerifyCodeStage:
    """Run each code sample's unit tests against its function in a sandbox."""

    name: ClassVar[str] = "verify_code"
    code_field: str = "text"  # the column holding the sample (model output)
    isolation: Literal["auto", "bwrap", "unshare", "rlimits"] = "auto"
    allow_weak_isolation: bool = False  # permit "rlimits" (no network isolation) when nothing better works
    python: str = "auto"  # interpreter inside the sandbox
    workers: int = 2  # samples run in parallel
    timeout_s: float = 20.0  # wall clock per sample (all its tests)
    per_test_timeout_s: float = 5.0
    cpu_s: int = 10
    memory_mb: int = 512
    max_procs: int = 16
    max_file_mb: int = 16
    max_output_kb: int = 256
    min_tests: int = 1
    require_docstring: bool = False
    require_tests_call_solution: bool = True  # ignore tests such as ``assert True``
    error_chars: int = 500  # verify_error is truncated to this
    select_field: str | None = None  # only verify rows whose select_field value is in select_values
    select_values: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sandbox: Sandbox | None = None  # runtime state, not config

    def setup(self) -> None:
        if self._sandbox is None:
            limits = SandboxLimits(timeout_s=self.timeout_s, cpu_s=self.cpu_s, memory_mb=self.memory_mb,
                                   max_procs=self.max_procs, max_file_mb=self.max_file_mb,
                                   max_output_bytes=self.max_output_kb * 1024)
            self._sandbox = Sandbox(self.isolation, limits, allow_weak=self.allow_weak_isolation, python=self.python)

    @property
    def sandbox(self) -> Sandbox:
        self.setup()
        return self._sandbox

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        mask = active_mask(batch) & selected_rows(batch, self.select_field, self.select_values)
        idx = np.flatnonzero(mask)
        texts = batch[self.code_field].to_pylist() if self.code_field in batch.column_names else [None] * batch.num_rows
        verdicts = self.verify_texts([texts[i] for i in idx])
        n = batch.num_rows
        cols: dict[str, tuple[list, pa.DataType]] = {
            "verified": ([None] * n, pa.bool_()), "tests_passed": ([None] * n, pa.int32()),
            "tests_failed": ([None] * n, pa.int32()), "verify_error_type": ([None] * n, pa.string()),
            "verify_error": ([None] * n, pa.string()), "sandbox_isolation": ([None] * n, pa.string())}
        reasons: list[str | None] = [None] * n
        for i, v in zip(idx, verdicts):
            cols["verified"][0][i], cols["tests_passed"][0][i], cols["tests_failed"][0][i] = v.verified, v.passed, v.failed
            cols["verify_error_type"][0][i], cols["verify_error"][0][i] = v.error_type, v.error
            cols["sandbox_isolation"][0][i] = self.sandbox.isolation
            reasons[i] = stage_reason(self.name, v.reason) if v.reason else None
        for col, (values, dtype) in cols.items():
            batch = set_column(batch, col, merge_column(batch, col, values, mask, dtype))
        drop = np.array([r is not None for r in reasons], dtype=bool)
        return drop_rows(batch, drop, reasons) if drop.any() else batch

    def verify_texts(self, texts: list[str | None]) -> list[CodeVerdict]:
        """Verify samples in parallel, results in input order."""
        def one(text: str | None) -> CodeVerdict:
            return verify_sample(text, self.sandbox, min_tests=self.min_tests, require_docstring=self.require_docstring,
                                 require_tests_call_solution=self.require_tests_call_solution,
                                 per_test_timeout_s=self.per_test_timeout_s, error_chars=self.error_chars)
        if len(texts) <= 1 or self.workers <= 1:
            return [one(t) for t in texts]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(one, texts))


def selected_rows(batch: pa.Table, select_field: str | None, values: list[str]) -> np.ndarray:
    """Rows a verifier applies to: all, or those whose ``select_field`` is one of ``values``."""
    if not select_field:
        return np.ones(batch.num_rows, dtype=bool)
    if select_field not in batch.column_names:
        return np.zeros(batch.num_rows, dtype=bool)
    import pyarrow.compute as pc

    hit = pc.is_in(batch[select_field].cast(pa.string()), value_set=pa.array(values, pa.string()))
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)


def merge_column(batch: pa.Table, name: str, values: list, mask: np.ndarray, dtype: pa.DataType) -> pa.Array:
    """New values where ``mask``; elsewhere keep what an earlier stage wrote (a math and a code verifier share columns)."""
    if name not in batch.column_names:
        return pa.array(values, dtype)
    old = batch[name].to_pylist()
    return pa.array([v if m else o for v, m, o in zip(values, mask, old)], dtype)
