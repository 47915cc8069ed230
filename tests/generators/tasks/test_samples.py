from __future__ import annotations

from generators.llm.client import ChatResult
from generators.tasks.prompts import PromptLibrary, load_topics
from generators.tasks.samples import build_rows, first_request, plan_round, repair_request, vote_requests, vote_rows
from generators.tasks.seeds import Seed, load_problems, pick

LIB = PromptLibrary.load()
PROBLEMS = [Seed(f"p{i}", "en", f"What is {i} + 1?", str(i + 1)) for i in range(6)] + \
           [Seed(f"z{i}", "zh", f"{i} 加 1 等于多少？", str(i + 1)) for i in range(6)]


def _plan(round_index=0, **tasks):
    return plan_round(tasks or {"math": 2, "math_ref": 2, "code": 2}, ["en", "zh"], LIB, round_index=round_index,
                      base_seed=7, documents=[], problems=PROBLEMS, topics=load_topics(), model="m")


def _done(sample, content, finish="stop"):
    return ChatResult(sample.sample_id, "k", "done", content, finish, 10, 5, 1)


def test_plan_is_deterministic_per_round_and_rounds_use_different_seeds():
    a, b = _plan(0), _plan(0)
    assert [(s.sample_id, s.seed_id, s.request_seed, s.messages) for s in a] == \
           [(s.sample_id, s.seed_id, s.request_seed, s.messages) for s in b]
    assert [s.lang for s in a] == ["en", "zh"] * 3
    assert len({s.request_seed for s in a}) == len(a)
    r1 = _plan(1)
    ref0 = {s.seed_id for s in a if s.task == "math_ref"}
    ref1 = {s.seed_id for s in r1 if s.task == "math_ref"}
    assert ref0.isdisjoint(ref1)
    code = [s for s in a if s.task == "code"]
    assert all(s.seed_id.startswith("topics:") and s.topics[0] != s.topics[1] for s in code)
    zh_code = next(s for s in code if s.lang == "zh")
    assert zh_code.topics[0] in zh_code.messages[-1]["content"]
    ref = next(s for s in a if s.task == "math_ref" and s.lang == "zh")
    assert ref.reference_answer and ref.seed_text in ref.messages[-1]["content"]


def test_pick_prefers_the_language_and_wraps():
    en = pick(PROBLEMS, 4, round_index=0, base_seed=1, lang="en")
    assert all(s.lang == "en" for s in en) and len(set(en)) == 4
    assert len(pick(PROBLEMS[:2], 5, round_index=3, base_seed=1, lang="zh")) == 5  # falls back, wraps


def test_rows_carry_reasons_for_every_failure_and_provenance_for_all():
    plan = _plan(math=0, math_ref=2, code=2)
    ref_en, ref_zh, code_en, code_zh = plan
    results = [
        _done(ref_en, "1 + 1 = 2.\nFinal answer: \\boxed{2}"),
        ChatResult(ref_zh.sample_id, "k", "dead", attempts=4, error="http_500: boom"),
        _done(code_en, "Task: add\n```python\ndef add(a, b):\n    return a + b\n```", finish="length"),
        _done(code_zh, "任务：求和。\n```python\ndef sum_even(numbers):\n    \"\"\"返回列表中所有偶数之和。\"\"\"\n"
                       "    return sum(n for n in numbers if n % 2 == 0)\n```\n测试：\n```python\n"
                       "assert sum_even([1, 2, 3, 4]) == 6\nassert sum_even([]) == 0\nassert sum_even([5, 7]) == 0\n```"),
    ]
    table = build_rows(plan, results, model="m", round_index=0)
    assert table["drop_reason"].to_pylist() == [None, "generate:dead_letter", "generate:truncated", None]
    assert set(table["origin"].to_pylist()) == {"synthetic"}
    assert table["gen_tries"].to_pylist() == [1, 1, 1, 1]
    assert table["gen_error"].to_pylist()[1] == "http_500: boom"
    assert table["reference_answer"].to_pylist()[0] == ref_en.reference_answer
    assert table["text"].to_pylist()[0].startswith("Problem: " + ref_en.seed_text)
    assert all(p.startswith(("math_ref.", "code.")) for p in table["gen_prompt"].to_pylist())
    assert table["id"].to_pylist() == build_rows(_plan(math=0, math_ref=2, code=2), results, model="m",
                                                 round_index=0)["id"].to_pylist()  # stable ids


def test_a_copy_of_the_prompts_example_is_not_a_new_sample():
    [sample] = _plan(math=1, math_ref=0, code=0)
    copy = ("Problem: A shop sells pens at 3 dollars each. Tom buys 4 pens. How much does he pay?\n"
            "Solution: 4 * 3 = 12.\nFinal answer: \\boxed{12}")
    table = build_rows([sample], [_done(sample, copy)], model="m", round_index=0)
    assert table["drop_reason"].to_pylist() == ["parse:copied_example"]


def test_repair_request_replays_the_conversation_with_the_error():
    [sample] = _plan(math=0, math_ref=1, code=0)
    build_rows([sample], [_done(sample, "Final answer: \\boxed{3}")], model="m", round_index=0)
    req = repair_request(sample, LIB, "wrong_answer", "answer '3' does not match", base_seed=7)
    roles = [m["role"] for m in req.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert req.messages[2]["content"] == "Final answer: \\boxed{3}"
    assert "wrong_answer" in req.messages[-1]["content"] and "does not match" in req.messages[-1]["content"]
    assert req.seed != first_request(sample).seed  # a new try is a new request, not a cache hit


def test_new_problems_get_k_minus_1_votes_grouped_with_them():
    plan = _plan(math=2, math_ref=0, code=0)
    answers = ["Problem: Tom has 3 apples and gets 4 more. How many?\nSolution: 3 + 4 = 7.\nFinal answer: \\boxed{7}",
               "I don't know"]
    table = build_rows(plan, [_done(s, a) for s, a in zip(plan, answers)], model="m", round_index=0)
    reqs = vote_requests(table, plan, LIB, 3, base_seed=7)
    assert len(reqs) == 2 and all("Tom has 3 apples" in r.messages[-1]["content"] for r in reqs)
    assert len({r.seed for r in reqs}) == 2
    votes = vote_rows(reqs, [ChatResult(r.request_id, "k", "done", "\\boxed{7}", "stop") for r in reqs])
    assert set(votes["gen_group"].to_pylist()) == {plan[0].sample_id}
    assert table["gen_group"].to_pylist()[0] == plan[0].sample_id


def test_problem_files_skip_rows_without_an_answer(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "no answer"}\n{"question": "二加二？", "answer": 4}\n')
    seeds = load_problems([str(path)])
    assert [(s.lang, s.reference_answer) for s in seeds] == [("en", "2"), ("zh", "4")]
