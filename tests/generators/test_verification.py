from __future__ import annotations

import pyarrow as pa

from generators.verification import CandidatesStage, Verifier, funnel_of, repairable_failures, replace_rows
from pipeline.schema import make_batch
from pipeline.stats import RunStats, StageStats


def _table(reasons, tasks, **extra):
    n = len(reasons)
    t = make_batch([f"t{i}" for i in range(n)], ids=[f"id{i}" for i in range(n)], source="s", origin="synthetic",
                   extra={"gen_task": pa.array(tasks, pa.string()), **extra})
    return t.set_column(t.schema.get_field_index("drop_reason"), "drop_reason", pa.array(reasons, pa.string()))


def test_replace_rows_keeps_order_and_takes_new_columns():
    table = _table([None, "parse:no_answer", None, "verify_code:tests_failed"], ["math_ref", "math_ref", "code", "code"])
    new = _table([None, "verify_code:timeout"], ["math_ref", "code"], verified=pa.array([True, False]))
    new = new.set_column(0, "id", pa.array(["id1", "id3"]))
    out = replace_rows(table, [1, 3], new)
    assert out["id"].to_pylist() == ["id0", "id1", "id2", "id3"]
    assert out["drop_reason"].to_pylist() == [None, None, None, "verify_code:timeout"]
    assert out["verified"].to_pylist() == [None, True, None, False]


def test_repairable_failures_use_the_verifiers_error_columns():
    table = _table([None, "parse:no_answer", "generate:dead_letter", "verify_code:tests_failed", "generate:truncated",
                    "verify_math:wrong_answer"], ["math"] * 3 + ["code", "code", "math_ref"],
                   verify_error_type=pa.array([None, None, None, "AssertionError", None, None]),
                   verify_error=pa.array([None, None, None, "assert f(1) == 2", None, "answer '3' does not match '4'"]))
    got = repairable_failures(table)
    assert [i for i, _, _ in got] == [1, 3, 4, 5]  # the dead letter is not repairable
    assert got[1] == (3, "AssertionError", "assert f(1) == 2")
    assert got[0][1] == "format error" and "final answer" in got[0][2]
    assert got[3] == (5, "wrong_answer", "answer '3' does not match '4'")


def test_candidates_stage_restores_what_the_reader_renamed():
    t = make_batch(["a", "b"], ids=["x", "y"], source="cand.parquet",
                   extra={"input_drop_reason": pa.array([None, "verify_math:wrong_answer"]),
                          "input_origin": pa.array(["synthetic", "synthetic"]),
                          "input_source": pa.array(["synthetic/round-000/math", "synthetic/round-000/code"]),
                          "source_offset": pa.array([0, 1])})
    out = CandidatesStage()(t)
    assert out["drop_reason"].to_pylist() == [None, "verify_math:wrong_answer"]
    assert out["origin"].to_pylist() == ["synthetic", "synthetic"]
    assert out["source"].to_pylist()[1] == "synthetic/round-000/code"
    assert not [c for c in out.column_names if c.startswith("input_") or c == "source_offset"]


def test_funnel_counts_each_step_from_what_the_previous_one_let_through():
    table = _table([None, "generate:dead_letter", "parse:no_code", "verify_code:tests_failed", None, "dedup:exact"],
                   ["code"] * 6)
    stats = RunStats()
    stats.stages["read"] = StageStats("read", 6, 6)
    stats.stages["candidates"] = StageStats("candidates", 6, 3)
    stats.stages["dedup"] = StageStats("dedup", 3, 2)
    stats.stages["dedup"].dropped["dedup:exact"] = 1
    funnel = funnel_of(table, stats)
    assert [(s["step"], s["rows_in"], s["kept"]) for s in funnel] == \
           [("generate", 6, 5), ("parse", 5, 4), ("verify", 4, 3), ("dedup", 3, 2)]


def test_verifier_routes_rows_by_task_and_keeps_order(monkeypatch):
    seen = {}

    class Fake:
        def __init__(self, name):
            self.name = name

        def __call__(self, batch):
            seen[self.name] = batch["gen_task"].to_pylist()
            return batch.append_column(f"{self.name}_ran", pa.array([True] * batch.num_rows))

    v = Verifier({}, {})
    v._stages = {"verify_math": Fake("verify_math"), "verify_code": Fake("verify_code")}
    table = _table([None] * 4, ["code", "math", "math_ref", "code"])
    votes = _table([None, None], ["math_vote", "math_vote"])
    out = v(table, votes)
    assert seen == {"verify_math": ["math", "math_ref", "math_vote", "math_vote"], "verify_code": ["code", "code"]}
    assert out["id"].to_pylist() == ["id0", "id1", "id2", "id3"]  # the votes are left out
    assert out["verify_code_ran"].to_pylist() == [True, None, None, True]
