"""The verify_math stage on batches: reference checks, self-consistency, reasons, columns."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from pipeline.config import build_stage
from pipeline.schema import drop_rows, make_batch
from generators.verify.math_stage import VerifyMathStage, majority_vote


@pytest.fixture(scope="module")
def stage():
    s = VerifyMathStage(timeout_s=5.0)
    s.setup()
    yield s
    s.close()


def _batch(texts, **extra):
    return make_batch(texts, ids=[f"r{i}" for i in range(len(texts))], source="t", origin="synthetic", extra=extra)


def test_reference_checks_mark_right_and_wrong_rows(stage):
    texts = [
        "3 + 4 = 7, so the answer is $\\boxed{7}$.",
        "2 + 2 = 5\n#### 5",
        "Nothing concluded here.",
        "所以答案是 $\\dfrac{1}{2}$。",
        "We get $\\boxed{\\sqrt{117}}$.",
    ]
    refs = ["7", "4", "3", "0.5", "3\\sqrt{13}"]
    out = stage(_batch(texts, reference_answer=pa.array(refs)))
    assert out["verified"].to_pylist() == [True, False, False, True, True]
    assert out["drop_reason"].to_pylist() == [None, "verify_math:wrong_answer", "verify_math:no_answer", None, None]
    assert out["extracted_answer"].to_pylist()[:2] == ["7", "5"]
    assert out["extract_method"].to_pylist() == ["boxed", "hash", None, "zh_marker", "boxed"]
    assert out["verify_method"].to_pylist()[4] == "symbolic"
    errors = out["verify_error"].to_pylist()
    assert errors[0] is None and errors[2] == "no final answer found"
    assert errors[1] == "the final answer '5' does not match the reference answer"  # the reference is not revealed
    assert out["verify_error_type"].to_pylist()[:3] == [None, "wrong_answer", "no_answer"]


def test_self_consistency_by_group(stage):
    texts = ["#### 12", "#### 12.0", "#### 13",  # seed a: 2/3 agree -> majority
             "#### 1", "#### 2",                 # seed b: 1/2, no majority
             "#### 9"]                           # seed c: alone
    seeds = ["a", "a", "a", "b", "b", "c"]
    s = VerifyMathStage(group_fields=["gen_seed_id"], min_group_size=2, symbolic=False)
    out = s(_batch(texts, gen_seed_id=pa.array(seeds)))
    assert out["verified"].to_pylist() == [True, True, False, False, False, False]
    assert out["drop_reason"].to_pylist() == [None, None, "verify_math:minority", "verify_math:no_consensus",
                                              "verify_math:no_consensus", "verify_math:small_group"]
    agreement = out["answer_agreement"].to_pylist()
    assert agreement[0] == pytest.approx(2 / 3)


def test_majority_counts_rows_without_answer_against_agreement():
    votes = majority_vote(["4", None, None], None, min_group_size=3, min_agreement=0.5)
    assert [v.reason for v in votes] == ["no_consensus", "no_answer", "no_answer"]


def test_rows_without_reference_or_group():
    out = VerifyMathStage(symbolic=False)(_batch(["#### 3"]))
    assert out["drop_reason"].to_pylist() == ["verify_math:no_reference"]
    kept = VerifyMathStage(symbolic=False, unreferenced="keep")(_batch(["#### 3"]))
    assert kept["drop_reason"].to_pylist() == [None] and kept["verified"].to_pylist() == [False]


def test_already_dropped_and_unselected_rows_are_untouched():
    batch = _batch(["#### 3", "#### 4", "#### 5"], reference_answer=pa.array(["3", "4", "6"]),
                   gen_task=pa.array(["math", "code", "math"]))
    batch = drop_rows(batch, [True, False, False], "langid:lang")
    s = VerifyMathStage(symbolic=False, select_field="gen_task", select_values=["math"])
    out = s(batch)
    assert out["drop_reason"].to_pylist() == ["langid:lang", None, "verify_math:wrong_answer"]
    assert out["verified"].to_pylist() == [None, None, False]


def test_solution_and_reference_fields_are_configurable():
    batch = _batch(["unused"], answer_text=pa.array(["The answer is 41."]), gold=pa.array(["41"]))
    out = build_stage("verify_math", {"solution_field": "answer_text", "reference_field": "gold", "symbolic": False})(batch)
    assert out["verified"].to_pylist() == [True]


def test_stage_is_built_from_config_and_rejects_unknown_keys():
    from pipeline.config import ConfigError

    assert build_stage("verify_math", {"group_fields": ["gen_seed_id"]}).group_fields == ["gen_seed_id"]
    with pytest.raises(ConfigError, match="bogus"):
        build_stage("verify_math", {"bogus": 1})


def test_dev_solutions_pass_against_gold_and_fail_against_a_wrong_answer(stage, dev_data):
    rows = [json.loads(line) for line in (dev_data / "math_pos_en.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = rows[:40] + rows[-40:]  # GSM8K and MATH500
    texts = [r.get("solution_raw") or r["solution"] for r in rows]
    ok = stage(_batch(texts, reference_answer=pa.array([r["answer"] for r in rows])))
    assert ok["verified"].to_pylist() == [True] * len(rows)
    bad = stage(_batch(texts, reference_answer=pa.array(["12345"] * len(rows))))
    assert set(bad["drop_reason"].to_pylist()) == {"verify_math:wrong_answer"}
