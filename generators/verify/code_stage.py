"""Stage ``verify_code``: run each code sample's own unit tests against its function, sandboxed.

Per row: parse the sample (``generators.verify.code_parse``), rewrite its tests so that
each assertion reports its operands instead of comparing them (``checks``), then run
the harness (``harness``) in a fresh sandbox (``generators.verify.sandbox``). The
harness starts the sample in a child process (``runner``), keeps the expected values,
compares what the child reports as plain data (``plain``), enforces each test's
deadline and alone writes the report. The sample can reach neither the harness nor
its report channel: tampering (forged lines, ``os._exit``, patched ``json``/``exec``/
``unittest``, always-true ``__eq__``...) can only make a row fail.

A row is verified when every test that exercises the solution passed, there are at
least ``min_tests`` of them, every assertion written directly in a test's body was
reached, and at least one such assertion pins the solution's result (compared for
equality with a literal the sample's process never sees, or the truth of a bare call
of the solution: ``checks.Check.binding``) and held; values that are not plain builtin
data fail their check. Rows run in parallel on
``workers`` threads (each waits on its own sandboxed process).

Drop reasons: ``verify_code:parse_error``, ``verify_code:no_function``,
``verify_code:no_tests``, ``verify_code:no_docstring``, ``verify_code:solution_error``
(the module itself raised), ``verify_code:tests_failed``, ``verify_code:timeout``
(wall clock, CPU limit or a test's own deadline), ``verify_code:sandbox_violation``
(memory, process count, file size or output limit).
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from generators.verify.checks import CHECK_FN, rewrite_test
from generators.verify.code_parse import ParsedSample, parse_sample
from generators.verify.sandbox import Sandbox, SandboxLimits, SandboxResult, _classify
from pipeline.active_rows import ActiveRows
from pipeline.stage import stage_reason

_VIOLATION_REASONS = {"timeout": "timeout", "cpu_limit": "timeout", "memory_limit": "sandbox_violation",
                      "process_limit": "sandbox_violation", "file_size_limit": "sandbox_violation",
                      "output_limit": "sandbox_violation", "killed": "sandbox_violation"}
_TEST_ERROR_REASONS = {"TestTimeout": "timeout", "MemoryError": "sandbox_violation",
                       "BlockingIOError": "sandbox_violation", "RecursionError": "tests_failed"}
_NO_ANCHOR = ("no test compares a result of the solution with a literal expected value (such as "
              "assert f(2) == 4, or assert is_prime(7)) outside loops, branches, try and with blocks, "
              "so no run can show the function right")


_SHIPPED = Path(__file__).parent


def _source(name: str) -> str:
    return (_SHIPPED / name).read_text(encoding="utf-8")


def build_harness(parsed: ParsedSample, tests: list, per_test_s: float, error_chars: int,
                  max_report_bytes: int = 8 * 1024 * 1024) -> tuple[str, str, list[dict], str]:
    """(program, its stdin, the checks, the report nonce) for one sandbox run.

    The program is the harness (``generators.verify.harness``); its stdin carries the
    nonce, the runner's source, the rewritten tests and the expected values, so nothing
    of it is ever a file the sample could read.
    """
    nonce = secrets.token_hex(16)
    spec_tests, checks = [], []
    for t in tests:
        source, found = rewrite_test(t, len(checks), frozenset(parsed.functions))
        checks += [c.to_dict() for c in found]
        spec_tests.append({"name": t.name, "source": source, "own": sum(c.own for c in found),
                           "must": [c.id for c in found if c.unconditional]})
    plain = _source("plain.py")
    program = plain + "\n" + _source("harness.py") + "\nharness_main()\n"
    stdin = json.dumps({"nonce": nonce, "runner_code": plain + "\n" + _source("runner.py"), "check_fn": CHECK_FN,
                        "solution": parsed.solution, "tests": spec_tests, "checks": checks,
                        "per_test_s": per_test_s, "error_chars": error_chars, "max_report_bytes": max_report_bytes})
    return program, stdin, checks, nonce


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
    program, stdin, checks, nonce = build_harness(parsed, tests, per_test_timeout_s, error_chars)
    if not any(c["binding"] for c in checks):
        return CodeVerdict(False, error_type="no_tests", error=_NO_ANCHOR, reason="no_tests")
    result = sandbox.run(program, stdin=stdin)
    return judge(result, nonce, [t.name for t in tests], error_chars)


def judge(result: SandboxResult, nonce: str, test_names: list[str], error_chars: int = 500) -> CodeVerdict:
    """Turn the harness's report lines (and how the sandbox ended) into a verdict.

    Only lines that start with the nonce count; the nonce lives in the host and in the
    harness process, never in the sample's. Without the harness's ``done`` line (the
    sample killed it, or the sandbox was), nothing is verified.
    """
    reports = []
    for line in result.stdout.splitlines():
        if line.startswith(nonce):
            try:
                report = json.loads(line[len(nonce):])
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(report, dict):
                reports.append(report)
    done = next((r for r in reports if r.get("done")), None)
    by_test = {r["test"]: r for r in reports if r.get("test")}
    solution = next((r for r in reports if "test" in r and r["test"] is None), None)
    passed = sum(1 for n in test_names if by_test.get(n, {}).get("ok"))
    failed = len(test_names) - passed
    if done is not None and done.get("harness_error"):
        return CodeVerdict(False, 0, len(test_names), "harness_error", str(done["harness_error"])[:error_chars],
                           "runtime_error")
    if solution is not None and not solution["ok"]:
        reason = _TEST_ERROR_REASONS.get(solution["type"], "solution_error")
        return CodeVerdict(False, 0, len(test_names), solution["type"], solution["msg"][:error_chars], reason)
    violation, stderr = result.violation, result.stderr
    if violation is None and done is not None:
        stderr = str(done.get("child_stderr") or "")
        missing = any(n not in by_test for n in test_names) and all(r["ok"] for r in by_test.values())
        if done.get("violation"):
            violation = done["violation"]
        elif missing:  # the test process died: from a limit, or by its own hand (then it just ended early)
            rc = done.get("child_rc")
            found = _classify(-rc if isinstance(rc, int) and rc < 0 else None, stderr)
            violation = None if found == "killed" else found
    if violation is not None:
        where = next((n for n in test_names if n not in by_test), None)
        msg = f"{violation} in the sandbox" + (f" during {where}" if where else "")
        tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
        if tail:
            msg += f": {tail[0]}"
        return CodeVerdict(False, passed, failed, violation, msg[:error_chars],
                           _VIOLATION_REASONS.get(violation, "sandbox_violation"))
    first = next((by_test[n] for n in test_names if n in by_test and not by_test[n]["ok"]), None)
    if done is None or solution is None or (failed and first is None):
        tail = stderr.strip()[-error_chars:] or f"exit code {result.returncode}"
        return CodeVerdict(False, passed, failed, "harness_error", f"the test run ended early: {tail}", "runtime_error")
    if first is not None:
        reason = _TEST_ERROR_REASONS.get(first["type"], "tests_failed")
        return CodeVerdict(False, passed, failed, first["type"], f"{first['test']}: {first['msg']}"[:error_chars], reason)
    if not done.get("binding"):
        return CodeVerdict(False, passed, 0, "no_tests", _NO_ANCHOR, "no_tests")
    return CodeVerdict(True, passed, 0)


@dataclass
class VerifyCodeStage:
    """Run each code sample's unit tests against its function in a sandbox."""

    name: ClassVar[str] = "verify_code"
    code_field: str = "text"  # the column holding the sample (model output)
    isolation: Literal["auto", "bwrap", "unshare", "rlimits"] = "auto"  # sandbox: auto | bwrap | unshare | rlimits (weak ones need allow_weak_isolation)
    allow_weak_isolation: bool = False  # without it, no bubblewrap = refuse (never fall back to unshare/rlimits)
    python: str = "auto"  # interpreter inside the sandbox
    workers: int = 2  # samples run in parallel
    timeout_s: float = 20.0  # wall clock per sample (all its tests)
    per_test_timeout_s: float = 5.0  # deadline of each test, enforced by the harness
    cpu_s: int = 10  # CPU seconds for the whole run (RLIMIT_CPU)
    memory_mb: int = 512  # memory of the whole sandbox (all its processes)
    max_procs: int = 16  # processes in the sandbox (fork bombs)
    max_file_mb: int = 16  # largest file the sample may write
    max_output_kb: int = 256  # output the harness reads back at most
    min_tests: int = 1  # tests needed for a row to count as verified
    require_docstring: bool = False  # drop functions without a docstring
    require_tests_call_solution: bool = True  # ignore tests such as ``assert True``
    error_chars: int = 500  # verify_error is truncated to this
    select_field: str | None = None  # only verify rows whose select_field value is in select_values
    select_values: list[str] = field(default_factory=list)  # values of select_field whose rows are verified (others pass through)

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
        rows = ActiveRows.of(batch, where=selected_rows(batch, self.select_field, self.select_values))
        texts = rows.column(self.code_field).to_pylist() if self.code_field in batch.column_names else [None] * len(rows)
        verdicts = self.verify_texts(texts)
        columns = {  # a math and a code verifier share columns: each fills in its own rows
            "verified": ([v.verified for v in verdicts], pa.bool_()),
            "tests_passed": ([v.passed for v in verdicts], pa.int32()),
            "tests_failed": ([v.failed for v in verdicts], pa.int32()),
            "verify_error_type": ([v.error_type for v in verdicts], pa.string()),
            "verify_error": ([v.error for v in verdicts], pa.string()),
            "sandbox_isolation": ([self.sandbox.isolation] * len(verdicts), pa.string()),
        }
        reasons = [stage_reason(self.name, v.reason) if v.reason else None for v in verdicts]
        return rows.scatter(batch, columns, reasons=pa.array(reasons, pa.string()), keep_inactive=True)

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

