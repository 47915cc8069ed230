"""One round's samples: plan the requests, and turn model answers into candidate rows.

A *sample* is one slot of a round (task, language, seed). Its id is stable
(model, round, task, index), so a rerun plans the same requests with the same seeds and
the request cache replays them. Each answer becomes one row in the core schema plus
``gen_*`` metadata and the parsed fields; an answer that cannot be used is still a
row, with ``drop_reason`` ``generate:<why>`` or ``parse:<why>`` (nothing is lost).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from generators.llm.client import ChatRequest, ChatResult
from generators.tasks.parse import code_text, math_text, parse_code, parse_code_ref, parse_math
from generators.tasks.prompts import PromptLibrary, PromptTemplate, draw_topics
from generators.tasks.seeds import Seed, pick
from pipeline.schema import ORIGIN_SYNTHETIC, make_batch

CODE_TASKS = ("code", "code_ref")

PARSE_MESSAGES = {  # why a sample was refused, as the repair prompt tells the model (en, zh)
    "no_problem": ("no problem statement was found (expected a 'Problem:' section)",
                   "没有找到题目（需要“题目：”部分）"),
    "no_solution": ("no step-by-step solution was found (expected a 'Solution:' section)",
                    "没有找到逐步解答（需要“解答：”部分）"),
    "no_answer": ("no final answer was found (expected 'Final answer: \\boxed{...}')",
                  "没有找到最终答案（需要“答案：\\boxed{...}”）"),
    "no_code": ("no ```python code block was found", "没有找到 ```python 代码块"),
    "no_function": ("the code block does not define a function", "代码块里没有定义函数"),
    "no_task": ("no task description was found before the code", "代码前面没有任务描述"),
    "no_docstring": ("the function has no docstring", "函数没有文档字符串"),
    "too_few_tests": ("fewer than 3 unit tests (assert statements) were found", "单元测试（assert 语句）少于 3 条"),
    "copied_example": ("the answer copies the example from the instructions; write a new, different one",
                       "回答照抄了说明里的示例；请写一个新的、不同的"),
    "truncated": ("the answer was cut off before it ended; write a shorter complete answer",
                  "回答在结束前被截断了；请写一个更短的完整回答"),
}


def parse_message(why: str, lang: str) -> str:
    en, zh = PARSE_MESSAGES.get(why, (why, why))
    return zh if lang == "zh" else en



@dataclass
class Sample:
    sample_id: str
    task: str  # math | math_ref | code | code_ref
    lang: str
    seed_id: str
    template: PromptTemplate
    messages: list[dict[str, str]]
    request_seed: int
    reference_answer: str | None = None
    topics: tuple[str, str] | None = None
    seed_text: str | None = None  # the seed problem a math_ref sample solves (code_ref: the task)
    signature: str | None = None  # code_ref: the function to write
    reference_tests: tuple[str, ...] = ()  # code_ref: the seed's tests, which judge the function
    tries: int = 0
    history: list[dict[str, str]] = field(default_factory=list)  # the conversation so far (for repair)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def request_seed(base: int, *parts: object) -> int:
    """A stable 31-bit seed for one request (sample id + try), independent of ordering."""
    digest = hashlib.blake2b(repr((base, *parts)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def plan_round(tasks: dict[str, int], languages: list[str], library: PromptLibrary, *, round_index: int,
               base_seed: int, documents: list[Seed], problems: list[Seed], topics: list[tuple[str, str]],
               model: str, code_tasks: list[Seed] | None = None) -> list[Sample]:
    """The samples of one round, in a fixed order."""
    out: list[Sample] = []
    for task in TASK_ORDER:
        n = tasks.get(task, 0)
        langs = [languages[i % len(languages)] for i in range(n)]
        per_lang = {lang: langs.count(lang) for lang in languages}
        pools = {"math": documents or problems, "math_ref": problems, "code_ref": code_tasks or []}.get(task)
        chosen: dict[str, list[Seed]] = {}
        if task != "code" and n:
            if not pools:
                needs = "seeds.code_tasks" if task == "code_ref" else "seeds.problems (or seeds.corpus for math)"
                raise ValueError(f"task {task!r} needs seeds: set generate.{needs}")
            # code tasks come as translations (one row per language): shuffle each language's pool
            # on its own, or a round would ask for the same function in both languages
            chosen = {lang: pick(pools, k, round_index=round_index, lang=lang,
                                 base_seed=base_seed + hash_task(task) + (j if task == "code_ref" else 0))
                      for j, (lang, k) in enumerate(per_lang.items())}
        counters = {lang: 0 for lang in languages}
        for i, lang in enumerate(langs):
            sid = f"{model}/r{round_index:03d}/{task}/{i:05d}"
            template = library.get(task, lang)
            seed_obj: Seed | None = None
            pair = None
            if task == "code":
                pair = draw_topics(topics, lang, random.Random(request_seed(base_seed, sid, "topics")))
                values = {"topic1": pair[0], "topic2": pair[1]}
                seed_id = f"topics:{pair[0]}+{pair[1]}"
            else:
                seed_obj = chosen[lang][counters[lang]]
                counters[lang] += 1
                values = {"math": {"seed": seed_obj.text}, "math_ref": {"problem": seed_obj.text},
                          "code_ref": {"stub": function_stub(seed_obj)}}[task]
                seed_id = seed_obj.id
            out.append(Sample(sid, task, lang, seed_id, template, template.messages(**values),
                              request_seed(base_seed, sid, 0),
                              reference_answer=seed_obj.reference_answer if task == "math_ref" and seed_obj else None,
                              topics=pair, seed_text=seed_obj.text if seed_obj else None,
                              signature=seed_obj.signature if task == "code_ref" and seed_obj else None,
                              reference_tests=seed_obj.tests if task == "code_ref" and seed_obj else ()))
    return out


def function_stub(seed: Seed) -> str:
    """What a ``code_ref`` prompt shows: the signature and the task as its docstring."""
    return f'{seed.signature}\n    """{seed.text}"""'


def code_ref_task(sample: Sample) -> str:
    """The instruction a ``code_ref`` training sample starts with (its task, in its language)."""
    call = (sample.signature or "").strip().removeprefix("def ").rstrip(":")
    if sample.lang == "zh":
        return f"编写 Python 函数 `{call}`：{sample.seed_text}"
    return f"Write a Python function `{call}`. {sample.seed_text}"


TASK_ORDER = ("math", "math_ref", "code", "code_ref")


def hash_task(task: str) -> int:
    return {"math": 0, "math_ref": 1000, "code": 2000, "code_ref": 3000}[task]


def first_request(sample: Sample) -> ChatRequest:
    return ChatRequest(sample.sample_id, sample.messages, sample.request_seed, sample.template.stop)


def repair_request(sample: Sample, library: PromptLibrary, error_type: str, error_message: str, base_seed: int) -> ChatRequest:
    """The original conversation + the failed answer + the error, as the next user turn."""
    follow_up = library.get("repair", sample.lang).render_user(error_type=error_type, error_message=error_message[:800])
    messages = sample.history + [{"role": "user", "content": follow_up}]
    return ChatRequest(sample.sample_id, messages, request_seed(base_seed, sample.sample_id, sample.tries),
                       sample.template.stop)


def build_rows(samples: list[Sample], results: list[ChatResult], *, model: str, round_index: int) -> pa.Table:
    """Candidate rows (one per sample) from the latest answers, parsed; failures carry a reason."""
    rows: dict[str, list] = {k: [] for k in (
        "gen_task", "gen_lang", "gen_model", "gen_prompt", "gen_seed_id", "gen_round", "gen_tries",
        "gen_finish_reason", "gen_prompt_tokens", "gen_completion_tokens", "gen_request_key", "gen_error",
        "gen_topics", "gen_group", "problem", "solution", "answer", "reference_answer", "code_task", "code", "tests")}
    texts, ids, reasons = [], [], []
    for sample, result in zip(samples, results):
        sample.tries += 1
        sample.prompt_tokens += result.prompt_tokens
        sample.completion_tokens += result.completion_tokens
        content = result.content or ""
        reason, fields, text = None, {}, content
        if result.status == "dead":
            reason = "generate:dead_letter"
        elif not content.strip():
            reason = "generate:empty"
        elif result.finish_reason != "stop":
            reason = "generate:truncated"
        if reason is None or reason == "generate:truncated":
            sample.history = [*(sample.history or sample.messages), {"role": "assistant", "content": content}]
        if reason is None:
            if sample.task == "code":
                parsed = parse_code(content)
                if parsed.error is None:
                    text = code_text(parsed.fields["task"], parsed.fields["code"], parsed.fields["tests"], sample.lang)
            elif sample.task == "code_ref":
                parsed = parse_code_ref(content, sample.signature or "")
                if parsed.error is None:  # the model's function, judged by the seed's own tests
                    parsed.fields.update(task=code_ref_task(sample), tests="\n".join(sample.reference_tests))
                    text = code_text(parsed.fields["task"], parsed.fields["code"], parsed.fields["tests"], sample.lang)
            else:
                parsed = parse_math(content, needs_problem=sample.task == "math")
                if parsed.error is None:
                    problem = parsed.fields["problem"] if sample.task == "math" else (sample.seed_text or "")
                    parsed.fields["problem"] = problem
                    text = math_text(problem, parsed.fields["solution"], parsed.fields["answer"], sample.lang)
            fields = parsed.fields
            reason = f"parse:{parsed.error}" if parsed.error else None
            if reason is None and copied_from_prompt(sample, fields):
                reason = "parse:copied_example"
        ids.append(_row_id(sample.sample_id))
        texts.append(text)
        reasons.append(reason)
        r = rows
        r["gen_task"].append(sample.task)
        r["gen_lang"].append(sample.lang)
        r["gen_model"].append(model)
        r["gen_prompt"].append(sample.template.key)
        r["gen_seed_id"].append(sample.seed_id)
        r["gen_round"].append(round_index)
        r["gen_tries"].append(sample.tries)
        r["gen_finish_reason"].append(result.finish_reason)
        r["gen_prompt_tokens"].append(sample.prompt_tokens)
        r["gen_completion_tokens"].append(sample.completion_tokens)
        r["gen_request_key"].append(result.key)
        r["gen_error"].append(result.error)
        r["gen_topics"].append(list(sample.topics) if sample.topics else None)
        r["gen_group"].append(sample.sample_id if sample.task == "math" else None)  # self-consistency vote group
        is_code = sample.task in CODE_TASKS
        for name in ("problem", "solution", "answer"):
            r[name].append(fields.get(name) if not is_code else None)
        r["reference_answer"].append(sample.reference_answer)
        r["code_task"].append(fields.get("task") if is_code else None)
        r["code"].append(fields.get("code") if is_code else None)
        r["tests"].append(fields.get("tests") if is_code else None)
    types = {"gen_round": pa.int32(), "gen_tries": pa.int32(), "gen_prompt_tokens": pa.int64(),
             "gen_completion_tokens": pa.int64(), "gen_topics": pa.list_(pa.string())}
    extra = {k: pa.array(v, types.get(k, pa.string())) for k, v in rows.items()}
    batch = make_batch(texts, ids=ids, source=[f"synthetic/round-{round_index:03d}/{s.task}" for s in samples],
                       origin=ORIGIN_SYNTHETIC, extra=extra)
    return batch.set_column(batch.schema.get_field_index("drop_reason"), "drop_reason", pa.array(reasons, pa.string()))


def _squash(text: str) -> str:
    return " ".join(text.split())


def copied_from_prompt(sample: Sample, fields: dict[str, str]) -> bool:
    """True when the sample's code (or new problem) is a copy of text in its own prompt,
    such as the format example: small models do that, and it is not a new sample."""
    prompt = _squash(" ".join(m["content"] for m in sample.messages))
    part = fields.get("code") if sample.task == "code" else fields.get("problem") if sample.task == "math" else None
    return bool(part) and _squash(part) in prompt


def vote_requests(table: pa.Table, samples: list[Sample], library: PromptLibrary, k: int,
                  base_seed: int) -> list[ChatRequest]:
    """k-1 independent solves of each new problem (active ``math`` rows), for self-consistency."""
    out = []
    if k < 2:
        return out
    by_id = {s.sample_id: s for s in samples}
    active = table.filter(pa.compute.and_(pa.compute.is_null(table["drop_reason"]),
                                          pa.compute.equal(table["gen_task"], "math")))
    for group, problem in zip(active["gen_group"].to_pylist(), active["problem"].to_pylist()):
        sample = by_id[group]
        template = library.get("math_ref", sample.lang)
        messages = template.messages(problem=problem)
        for j in range(1, k):
            out.append(ChatRequest(f"{group}/vote{j}/try{sample.tries}", messages,
                                   request_seed(base_seed, group, "vote", j, sample.tries), template.stop))
    return out


def vote_rows(requests: list[ChatRequest], results: list[ChatResult]) -> pa.Table:
    """Rows of the extra solves: answer text only, grouped with the sample they vote on.

    A failed or unparsable solve still votes (as 'no answer'): it is evidence too."""
    texts, groups = [], []
    for req, res in zip(requests, results):
        texts.append(res.content or "")
        groups.append(req.request_id.split("/vote")[0])
    ids = [_row_id(r.request_id) for r in requests]
    return make_batch(texts, ids=ids, source="synthetic/votes", origin=ORIGIN_SYNTHETIC,
                      extra={"gen_task": pa.array(["math_vote"] * len(ids), pa.string()),
                             "gen_group": pa.array(groups, pa.string())})


def _row_id(sample_id: str) -> str:
    from pipeline.schema import stable_id

    return stable_id("synthetic", sample_id)
