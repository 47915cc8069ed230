"""How well does verify_math accept right answers and reject wrong ones?

Every real solution in a labeled set (GSM8K solutions ending in ``#### N``, MATH500
solutions with ``\\boxed{}`` LaTeX answers) is checked twice with the real stage
logic (``VerifyMathStage.verify_rows``): against its gold answer (it must be
accepted) and against a deterministically perturbed gold answer (it must be
rejected). The perturbation adds 1 to the first integer of the answer (so
``\\frac{14}{3}`` -> ``\\frac{15}{3}``, ``3\\sqrt{13}`` -> ``4\\sqrt{13}``, ``(8,-2)`` ->
``(9,-2)``), or shifts a choice letter (``\\text{(C)}`` -> ``\\text{(D)}``), or appends
``+1`` when the answer has no digit.

Prints acceptance and rejection rates per dataset and overall, how answers were
extracted, seconds per row, and every failure. ``--variant plain`` checks GSM8K
solutions with the ``#### N`` line removed (the last-number fallback).

``--rewrite`` gives the gold answer in an equivalent but different form (``$18.00``,
``3/2``, SymPy's LaTeX) so that acceptance goes through the numeric and symbolic paths
rather than string equality.

    python benchmarks/verify_eval.py [--data PATH] [--limit N] [--variant marked|plain] [--rewrite]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generators.verify.math_stage import VerifyMathStage  # noqa: E402

DEFAULT_DATA = "/work/shared/data/dev/math_pos_en.jsonl"
_FIRST_INT = regex.compile(r"\d+")
_CHOICE = regex.compile(r"\(([A-E])\)")


def perturb(answer: str) -> str:
    """A wrong answer close to ``answer`` (deterministic)."""
    m = _FIRST_INT.search(answer)
    if m:
        return answer[: m.start()] + str(int(m.group()) + 1) + answer[m.end():]
    m = _CHOICE.search(answer)
    if m:
        return answer[: m.start(1)] + chr(ord(m.group(1)) + 1 if m.group(1) != "E" else ord("A")) + answer[m.end(1):]
    return answer + "+1"


def rewrite(answer: str, i: int) -> str:
    """The same answer written differently (deterministic): ``18`` -> ``$18.00`` / ``18.0`` / ``18 units``,
    ``\\frac{3}{2}`` -> ``3/2`` or ``1.5``, ``1875`` -> ``1,875``; other LaTeX through SymPy's own printer
    (``\\left(2, \\infty\\right)``); unchanged when none applies (counted)."""
    from generators.verify.answer_equiv import normalize_answer, to_number

    num = to_number(answer)
    if num is not None and not num.percent:
        v = num.value
        if v.denominator == 1:
            n = int(v)
            return [f"${n}.00", f"{n}.0", f"{n} units", f"{n:,}" if abs(n) >= 1000 else f"{n}"][i % 4]
        dec = float(v)
        if (v * 10**6).denominator == 1:
            return f"{dec:g}" if i % 2 else f"{v.numerator}/{v.denominator}"
        return f"{v.numerator}/{v.denominator}"
    try:
        import sympy
        from math_verify import LatexExtractionConfig, parse

        parsed = parse(f"$\\boxed{{{normalize_answer(answer)}}}$", extraction_config=[LatexExtractionConfig()])
        if parsed and isinstance(parsed[0], (sympy.Basic, sympy.MatrixBase)):
            return sympy.latex(parsed[0])
    except Exception:  # noqa: BLE001 - keep the answer as written
        pass
    return answer


def solution_of(row: dict, variant: str) -> str | None:
    """The solution text to verify: GSM8K's raw solution (with ``#### N``), MATH's boxed one."""
    if variant == "plain":
        return row.get("solution")
    return row.get("solution_raw") or row.get("solution")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--variant", choices=["marked", "plain"], default="marked")
    ap.add_argument("--rewrite", action="store_true",
                    help="give the gold answer in an equivalent but different form (exercises numeric/symbolic)")
    ap.add_argument("--timeout-s", type=float, default=5.0)
    args = ap.parse_args(argv)

    rows = [json.loads(line) for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if solution_of(r, args.variant) and r.get("answer") is not None]
    if args.variant == "plain":
        rows = [r for r in rows if "####" in (r.get("solution_raw") or "")]
    if args.limit:
        rows = rows[: args.limit]
    if not rows:
        print(f"{args.data}: no rows carry both a solution and an answer; nothing to evaluate")
        return 0
    texts = [solution_of(r, args.variant) for r in rows]
    gold = [str(r["answer"]) for r in rows]
    wrong = [perturb(g) for g in gold]
    if args.rewrite:
        gold = [rewrite(g, i) for i, g in enumerate(gold)]
        unchanged = sum(g == str(r["answer"]) for g, r in zip(gold, rows))
        print(f"gold answers rewritten: {len(rows) - unchanged} of {len(rows)} ({unchanged} left as written)")

    stage = VerifyMathStage(timeout_s=args.timeout_s)
    stage.setup()
    t0 = time.perf_counter()
    accepted = stage.verify_rows(texts, gold, [None] * len(rows))
    t1 = time.perf_counter()
    rejected = stage.verify_rows(texts, wrong, [None] * len(rows))
    t2 = time.perf_counter()
    stage.close()

    stats: dict[str, Counter] = defaultdict(Counter)
    failures = []
    for r, g, w, a, b in zip(rows, gold, wrong, accepted, rejected):
        ds = r.get("dataset", "?").split(" ")[0]
        for key in (ds, "all"):
            stats[key]["n"] += 1
            stats[key]["accepted"] += a.verified
            stats[key]["rejected"] += not b.verified
            stats[key][f"extract:{a.method}"] += 1
            stats[key][f"method:{a.verify_method}"] += 1
            stats[key][f"wrong:{b.verify_method}"] += 1
        if not a.verified:
            failures.append(("REJECTED GOLD", r["id"], g, a.answer, a.error or a.verify_method))
        if b.verified:
            failures.append(("ACCEPTED WRONG", r["id"], w, b.answer, b.verify_method))

    print(f"data: {args.data}  variant: {args.variant}{' rewritten gold' if args.rewrite else ''}  rows: {len(rows)}")
    for key in sorted(stats, key=lambda k: (k == "all", k)):
        s = stats[key]
        extract = ", ".join(f"{k[8:]}={v}" for k, v in sorted(s.items()) if k.startswith("extract:"))
        method = ", ".join(f"{k[7:]}={v}" for k, v in sorted(s.items()) if k.startswith("method:"))
        print(f"  {key:10s} n={s['n']:4d}  accepted vs gold: {s['accepted'] / s['n']:.2%}  "
              f"rejected vs perturbed: {s['rejected'] / s['n']:.2%}")
        wrong_by = ", ".join(f"{k[6:]}={v}" for k, v in sorted(s.items()) if k.startswith("wrong:"))
        print(f"  {'':10s} extraction: {extract}; gold decided by: {method}; perturbed decided by: {wrong_by}")
    print(f"  seconds per row: gold pass {(t1 - t0) / len(rows) * 1e3:.2f} ms, "
          f"perturbed pass {(t2 - t1) / len(rows) * 1e3:.2f} ms")
    print(f"failures: {len(failures)}")
    for kind, rid, ref, got, why in failures:
        print(f"  {kind:14s} {rid}: reference {ref!r}, extracted {got!r} ({why})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
