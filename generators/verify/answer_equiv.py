"""Is an extracted answer the same as the reference? Numeric first, symbolic second.

Most answers (GSM8K, CMATH, most of MATH) are numbers written in different ways:
``18``, ``$18.00``, ``18 dollars``, ``1,875``, ``\\dfrac{17}{50}``, ``0.34``, ``34\\%``,
``137 \\frac{1}{2}``, ``90^\\circ``. ``normalize_answer`` strips the decoration and
``to_number`` reads the value as an exact ``Fraction``; two numbers are compared
exactly (relative tolerance 1e-6 when a side is a decimal). A percentage matches
either its value or its value / 100, since "answer in percent" is ambiguous.

Everything else (``3\\sqrt{13}``, intervals, tuples, polynomials, matrices) goes to
math-verify (LaTeX -> SymPy) in ``SymbolicChecker``: a separate worker
process with an external deadline, because SymPy can run for minutes on adversarial
input and math-verify's own timeout uses ``signal.alarm``, which fails in threads and
Ray actors (we call it with its timeouts off).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import regex

_SPACING = regex.compile(r"\\[,;:!> ]|\\quad|\\qquad|~|\\left|\\right|\\displaystyle|\\mathrm|\\mathbf")
_DEGREES = regex.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_TEXT = regex.compile(r"\\(?:text|textbf|mbox|operatorname)\s*\{([^{}]*)\}")
_CURRENCY = regex.compile(r"\\\$|\$|¥|￥|€|£|USD|RMB|rmb|dollars?|cents?|元|块")
_UNIT_WORDS = regex.compile(
    r"(?<=[\d}.])\s*(?:(?:square|sq\.?|cubic)\s+)?"
    r"(?:[a-zA-Z]{2,}|[a-zA-Z]{2,}\^?\{?[23]?\}?|cm|m|km|kg|g|s|h|ml|mL|L)\.?"
    r"(?:\s+(?:per|an?|each)\s+[a-zA-Z]+)?$"
)
_CJK_UNIT = regex.compile(r"(?<=[\d}.])\s*\p{Han}{1,4}$")
_CJK_NUMBER = regex.compile(r"-?\d+/\d+|-?\d+(?:\.\d+)?%?")
_THOUSANDS = regex.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_ASSIGN = regex.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=[-+.\d\\])")
_FRAC = regex.compile(r"\\[dt]?frac\s*(?:\{([^{}]+)\}|(\d))\s*(?:\{([^{}]+)\}|(\d))")
_PLAIN_NUMBER = regex.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_SLASH_FRACTION = regex.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_MIXED = regex.compile(r"(-?\d+)\s+(?:\\frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+))")


def normalize_answer(ans: str) -> str:
    """A canonical string form: math delimiters, spacing, units, currency and degrees removed."""
    s = str(ans).strip()
    s = s.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _TEXT.sub(lambda m: " " + m.group(1).strip() + " ", s)
    s = _SPACING.sub(" ", s)
    s = _DEGREES.sub("", s)
    s = s.replace("\\%", "%").replace("％", "%")
    s = _CURRENCY.sub("", s)
    s = s.strip().strip("$").strip()
    s = s.rstrip("。.，,").strip() if not s.endswith("..") else s
    s = _UNIT_WORDS.sub("", s).strip()
    s = _CJK_UNIT.sub("", s).strip()
    if regex.search(r"\p{Han}", s):  # "还剩9页没有看" -> "9": a Chinese phrase around exactly one number
        nums = _CJK_NUMBER.findall(s)
        if len(nums) == 1:
            s = nums[0]
    rhs = _ASSIGN.sub("", s)
    if rhs != s and _read_number(rhs.replace(" ", "")) is not None:  # "x = 5" -> "5"; "y = 2x + 3" stays
        s = rhs
    s = regex.sub(r"\s+", " ", s).strip()
    if _THOUSANDS.match(s.replace(" ", "")):
        s = s.replace(" ", "").replace(",", "")
    if regex.fullmatch(r"\(?[A-Ea-e]\)?", s):  # a multiple-choice letter, "(C)"
        s = s.strip("()").upper()
    return s


@dataclass(frozen=True)
class NumericValue:
    value: Fraction
    percent: bool  # written with a % sign
    exact: bool  # an integer or fraction (not a decimal that may be rounded)


def to_number(ans: str, *, normalized: bool = False) -> NumericValue | None:
    """The numeric value of an answer, or None when it is not a plain number."""
    s = ans if normalized else normalize_answer(ans)
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    s = s.replace(" ", "") if not _MIXED.fullmatch(s) else s
    value = _read_number(s)
    if value is None:
        return None
    exact = "." not in s and "e" not in s.lower()
    return NumericValue(value, percent, exact)


def _read_number(s: str) -> Fraction | None:
    sign = 1
    if s.startswith("-") and not _PLAIN_NUMBER.fullmatch(s):
        sign, s = -1, s[1:].strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    if _PLAIN_NUMBER.fullmatch(s):
        try:
            return sign * Fraction(s)
        except (ValueError, ZeroDivisionError):
            return None
    m = _SLASH_FRACTION.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return sign * Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC.fullmatch(s)
    if m:
        num = _read_number((m.group(1) or m.group(2)).strip())
        den = _read_number((m.group(3) or m.group(4)).strip())
        if num is not None and den:
            return sign * num / den
        return None
    m = _MIXED.fullmatch(s)
    if m:
        whole = int(m.group(1))
        num, den = (int(m.group(2)), int(m.group(3))) if m.group(2) else (int(m.group(4)), int(m.group(5)))
        if den == 0:
            return None
        frac = Fraction(num, den)
        return sign * (whole - frac if whole < 0 else whole + frac)
    return None


def numbers_equal(pred: NumericValue, gold: NumericValue, *, rel_tol: float = 1e-6) -> bool:
    """Exact for integers/fractions; ``rel_tol`` when either side is a (possibly rounded) decimal."""
    candidates = [pred.value]
    if pred.percent != gold.percent:  # "34%" vs "0.34": accept either reading
        candidates += [pred.value / 100, pred.value * 100]
    for value in candidates:
        if value == gold.value:
            return True
        if not (pred.exact and gold.exact):
            scale = max(abs(float(gold.value)), 1.0)
            if abs(float(value) - float(gold.value)) <= rel_tol * scale:
                return True
    return False


@dataclass(frozen=True)
class Equivalence:
    equal: bool | None  # None: could not decide (timeout or error)
    method: str  # "string", "numeric", "symbolic"
    error: str | None = None


def quick_equivalence(pred: str, gold: str) -> Equivalence | None:
    """Decide cheaply when possible (same normalized string, or both plain numbers)."""
    p, g = normalize_answer(pred), normalize_answer(gold)
    if not p:
        return Equivalence(False, "string", "empty answer")
    if p == g or p.replace(" ", "") == g.replace(" ", ""):
        return Equivalence(True, "string")
    pn, gn = to_number(p, normalized=True), to_number(g, normalized=True)
    if pn is not None and gn is not None:
        return Equivalence(numbers_equal(pn, gn), "numeric")
    if regex.fullmatch(r"[A-E]", g) or regex.fullmatch(r"[A-E]", p):  # a choice letter against anything else
        return Equivalence(p == g, "string")
    return None


def answers_equivalent(pred: str, gold: str, checker: SymbolicCheckerLike | None = None) -> Equivalence:
    """Full check: ``quick_equivalence``, then the symbolic checker when one is given."""
    quick = quick_equivalence(pred, gold)
    if quick is not None:
        return quick
    if checker is None:
        return Equivalence(False, "string", "not numerically comparable and symbolic check disabled")
    equal, error = checker.equivalent(normalize_symbolic(pred), normalize_symbolic(gold))
    return Equivalence(equal, "symbolic", error)


def normalize_symbolic(ans: str) -> str:
    """Light cleanup before LaTeX parsing: units and degrees go, structure stays."""
    s = normalize_answer(ans)
    return s.replace("%", "\\%") if s.endswith("%") else s


class SymbolicCheckerLike(Protocol):
    def equivalent(self, pred: str, gold: str) -> tuple[bool | None, str | None]: ...


class SymbolicChecker:
    """math-verify in a worker process, each comparison under an external deadline.

    Only math-verify's LaTeX path is used (ANTLR -> SymPy constructors): its plain
    expression path calls SymPy's ``parse_expr``, which ``eval``s model output. A
    comparison that runs past ``timeout_s`` kills the worker (a runaway SymPy call
    cannot be interrupted otherwise) and the next call starts a fresh one. The worker
    caps its own address space at ``memory_mb``. Thread-safe: calls are serialized.
    """

    def __init__(self, timeout_s: float = 5.0, *, memory_mb: int = 2048, startup_timeout_s: float = 120.0):
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.restarts = 0

    def start(self) -> None:
        with self._lock:
            self._ensure_worker()

    def _ensure_worker(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        cmd = [sys.executable, "-m", "generators.verify.answer_equiv", "--worker", str(self.memory_mb)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True, bufsize=1)
        if self._read_line(self._proc, self.startup_timeout_s) != "ready":
            self._kill()
            raise RuntimeError("the math-verify worker did not start (is math-verify installed?)")
        return self._proc

    @staticmethod
    def _read_line(proc: subprocess.Popen, timeout_s: float) -> str | None:
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            return None
        line = proc.stdout.readline()
        return line.strip() if line else None

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def equivalent(self, pred: str, gold: str) -> tuple[bool | None, str | None]:
        with self._lock:
            proc = self._ensure_worker()
            try:
                proc.stdin.write(json.dumps({"pred": pred, "gold": gold}) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._kill()
                return None, "symbolic worker died"
            line = self._read_line(proc, self.timeout_s)
            if line is None:
                self._kill()
                self.restarts += 1
                return None, f"timeout: symbolic comparison took more than {self.timeout_s:g}s"
            reply = json.loads(line)
            return reply["equal"], reply.get("error")

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __del__(self) -> None:  # the worker also exits on its own when our end of its stdin closes
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()

    def __enter__(self) -> "SymbolicChecker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _worker_main(memory_mb: int) -> None:
    """The worker loop: one JSON request per stdin line, one JSON reply per line."""
    import resource

    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    import logging

    logging.disable(logging.WARNING)
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig(boxed_match_priority=0)]
    out.write("ready\n")
    for line in sys.stdin:
        req = json.loads(line)
        try:
            gold = parse(f"$\\boxed{{{req['gold']}}}$", extraction_config=config, parsing_timeout=None)
            pred = parse(f"$\\boxed{{{req['pred']}}}$", extraction_config=config, parsing_timeout=None)
            if not gold or not pred:
                reply = {"equal": False, "error": "could not parse " + ("reference" if not gold else "answer")}
            else:
                reply = {"equal": bool(verify(gold, pred, timeout_seconds=None)), "error": None}
        except MemoryError:
            reply = {"equal": None, "error": "memory limit in symbolic comparison"}
        except Exception as exc:  # noqa: BLE001 - a parse failure is an answer, not a crash
            reply = {"equal": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--worker":
    _worker_main(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
