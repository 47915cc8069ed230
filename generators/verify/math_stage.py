"""Stage ``verify_math``: check a written solution's final answer.

With a reference answer (column ``reference_field``): the extracted answer must be
equivalent to it (``generators.verify.answer_equiv``: string, exact numeric, then symbolic
math-verify in a worker process under an external deadline).

Without one: self-consistency. Rows sharing the values of ``group_fields`` (e.g. the
k samples generated for one seed problem: ``["gen_seed_id"]``) vote; answers are
clustered by equivalence and a row is verified when its cluster holds more than
``min_agreement`` of a group of at least ``min_group_size`` rows. Rows with neither
a reference nor a group are dropped as ``verify_math:no_reference`` unless
``unreferenced: keep`` (then kept with ``verified = false``).

Columns: ``extracted_answer``, ``extract_method`` (boxed/hash/zh_marker/en_marker/
last_number), ``verified``, ``verify_error`` (null when verified), ``verify_error_type``
(the drop reason's second part, as verify_code's column), ``verify_method``
(string/numeric/symbolic/majority), ``answer_agreement`` (share of the group that
agrees, self-consistency rows only). ``verify_error`` never quotes the reference or the
majority answer, since the loop feeds it back to the model in repair prompts. Drop reasons: ``no_answer``, ``wrong_answer``,
``timeout``, ``no_reference``, ``no_consensus``, ``minority``, ``small_group``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pyarrow as pa

from generators.verify.answer_equiv import Equivalence, SymbolicChecker, answers_equivalent
from generators.verify.answer_extract import extract_answer, extract_reference
from generators.verify.code_stage import selected_rows
from pipeline.active_rows import ActiveRows
from pipeline.stage import stage_reason


@dataclass
class MathVerdict:
    answer: str | None = None
    method: str | None = None  # how the answer was found
    verified: bool = False
    error: str | None = None
    verify_method: str | None = None
    agreement: float | None = None
    reason: str | None = None  # the part after "verify_math:"


def check_against_reference(answer: str | None, reference: str, checker: SymbolicChecker | None) -> MathVerdict:
    """Verdict for one extracted answer against a reference answer."""
    if answer is None:
        return MathVerdict(error="no final answer found", reason="no_answer")
    eq: Equivalence = answers_equivalent(answer, reference, checker)
    if eq.equal:
        return MathVerdict(answer, verified=True, verify_method=eq.method)
    if eq.equal is None:
        return MathVerdict(answer, error=eq.error or "undecided", verify_method=eq.method,
                           reason="timeout" if eq.error and eq.error.startswith("timeout") else "compare_error")
    # The message never contains the reference: it is fed back to the model in repair prompts.
    return MathVerdict(answer, error=f"the final answer {_short(answer)!r} does not match the reference answer",
                       verify_method=eq.method, reason="wrong_answer")


def _short(s: str, n: int = 200) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def majority_vote(answers: list[str | None], checker: SymbolicChecker | None, *, min_group_size: int,
                  min_agreement: float) -> list[MathVerdict]:
    """Self-consistency verdicts for the rows of one group (``None`` = no answer found)."""
    clusters: list[list[int]] = []  # indices of equivalent answers; clusters[i][0] is the representative
    for i, ans in enumerate(answers):
        if ans is None:
            continue
        for members in clusters:
            eq = answers_equivalent(ans, answers[members[0]], checker)
            if eq.equal:
                members.append(i)
                break
        else:
            clusters.append([i])
    n = len(answers)
    best = max(clusters, key=len) if clusters else []
    tie = sum(1 for c in clusters if len(c) == len(best)) > 1
    share = len(best) / n if n else 0.0
    out = []
    for i, ans in enumerate(answers):
        v = MathVerdict(ans, verify_method="majority", agreement=share)
        if ans is None:
            v.error, v.reason, v.agreement = "no final answer found", "no_answer", None
        elif n < min_group_size:
            v.error, v.reason = f"group of {n} sample(s), need {min_group_size} to vote", "small_group"
        elif tie or share <= min_agreement:
            v.error, v.reason = f"no answer has a majority ({len(best)}/{n} agree at most)", "no_consensus"
        elif i in best:
            v.verified = True
        else:
            v.error = f"the final answer {_short(ans)!r} disagrees with the majority of {n} samples ({len(best)} agree)"
            v.reason = "minority"
        out.append(v)
    return out


@dataclass
class VerifyMathStage:
    """Check each solution's final answer against a reference, or by majority over k samples."""

    name: ClassVar[str] = "verify_math"
    solution_field: str = "text"  # the column holding the written solution
    reference_field: str = "reference_answer"  # a bare answer or a solution with \boxed{}/####
    group_fields: list[str] = field(default_factory=list)  # self-consistency groups, e.g. ["gen_seed_id"]
    min_group_size: int = 3  # samples per problem needed for a majority vote
    min_agreement: float = 0.5  # the majority answer must be held by more than this share of the group
    allow_last_number: bool = True  # fall back to the last number when no answer marker is found
    symbolic: bool = True  # math-verify for non-numeric answers
    timeout_s: float = 5.0  # per symbolic comparison (external deadline; the worker is killed)
    symbolic_memory_mb: int = 2048  # memory of the worker that checks symbolic equivalence
    unreferenced: Literal["drop", "keep"] = "drop"  # rows with neither a reference answer nor a group: drop or keep
    select_field: str | None = None  # only verify rows whose select_field value is in select_values
    select_values: list[str] = field(default_factory=list)  # values of select_field whose rows are verified (others pass through)

    def __post_init__(self) -> None:
        self._checker: SymbolicChecker | None = None  # runtime state, not config

    def setup(self) -> None:
        if self._checker is None and self.symbolic:
            self._checker = SymbolicChecker(self.timeout_s, memory_mb=self.symbolic_memory_mb)  # starts on first use

    def close(self) -> None:
        if self._checker is not None:
            self._checker.close()
            self._checker = None

    def verify_rows(self, texts: list[str | None], references: list[str | None],
                    groups: list[tuple | None]) -> list[MathVerdict]:
        """Verdicts for parallel lists of solutions, references and group keys (pure except the checker)."""
        self.setup()
        found = [extract_answer(t, allow_last_number=self.allow_last_number) for t in texts]
        answers = [f.answer if f else None for f in found]
        verdicts: list[MathVerdict | None] = [None] * len(texts)
        by_group: dict[tuple, list[int]] = defaultdict(list)
        for i, ref in enumerate(references):
            ref = extract_reference(ref)
            if ref is not None:
                verdicts[i] = check_against_reference(answers[i], ref, self._checker)
            elif groups[i] is not None:
                by_group[groups[i]].append(i)
            elif answers[i] is None:
                verdicts[i] = MathVerdict(error="no final answer found", reason="no_answer")
            else:
                verdicts[i] = MathVerdict(answers[i], error="no reference answer and no group to vote in",
                                          reason="no_reference" if self.unreferenced == "drop" else None)
        for members in by_group.values():
            votes = majority_vote([answers[i] for i in members], self._checker,
                                  min_group_size=self.min_group_size, min_agreement=self.min_agreement)
            for i, v in zip(members, votes):
                verdicts[i] = v
        for i, v in enumerate(verdicts):
            v.method = found[i].method if found[i] else None
            if v.answer is None and found[i]:
                v.answer = found[i].answer
        return verdicts  # type: ignore[return-value]

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = ActiveRows.of(batch, where=selected_rows(batch, self.select_field, self.select_values))
        texts = _column(rows, self.solution_field)
        refs = _column(rows, self.reference_field)
        groups: list[tuple | None] = [None] * len(rows)
        if self.group_fields and all(f in batch.column_names for f in self.group_fields):
            cols = [_column(rows, f) for f in self.group_fields]
            groups = [None if any(v is None for v in key) else tuple(key) for key in zip(*cols)]
        verdicts = self.verify_rows(texts, refs, groups)
        columns = {  # a math and a code verifier share columns: each fills in its own rows
            "extracted_answer": ([_short(v.answer, 1000) if v.answer else v.answer for v in verdicts], pa.string()),
            "extract_method": ([v.method for v in verdicts], pa.string()),
            "verified": ([v.verified for v in verdicts], pa.bool_()),
            "verify_error_type": ([v.reason for v in verdicts], pa.string()),
            "verify_error": ([v.error for v in verdicts], pa.string()),
            "verify_method": ([v.verify_method for v in verdicts], pa.string()),
            "answer_agreement": ([v.agreement for v in verdicts], pa.float32()),
        }
        reasons = [stage_reason(self.name, v.reason) if v.reason else None for v in verdicts]
        return rows.scatter(batch, columns, reasons=pa.array(reasons, pa.string()), keep_inactive=True)


def _column(rows: ActiveRows, name: str) -> list:
    """The selected rows' values of ``name`` as strings (None where null or no such column)."""
    if name not in rows.batch.column_names:
        return [None] * len(rows)
    return [None if v is None else str(v) for v in rows.column(name).to_pylist()]
