"""Progress lines while requests run: per finished request (rate-limited), a heartbeat while
a slow request runs, the last one always; and the client's lines against a real HTTP server."""

from __future__ import annotations

import re

from generators.config import ClientConfig
from generators.llm.client import ChatClient, ChatRequest
from generators.llm.progress import RequestProgress
from tests.generators.llm.fault_server import FaultServer


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_line_per_finished_request_at_most_one_per_gap_and_the_last_always():
    lines: list[str] = []
    clock = Clock()
    p = RequestProgress(lines.append, "[generate round 0] answers", total=4, min_gap_s=1.0, clock=clock)
    p.started()
    clock.t += 2.0
    p.finished(prompt_tokens=50, completion_tokens=40)
    assert lines == ["[generate round 0] answers: 1/4 done, 0 in flight, 40 tokens out, 20.0 tokens/s, 2 s"]
    p.finished(cached=True)  # 0 s after the last line: no new line
    assert len(lines) == 1
    p.started()
    clock.t += 0.5
    p.finished(completion_tokens=10)  # still inside the gap
    assert len(lines) == 1
    p.started()
    clock.t += 0.1
    p.finished(dead=True)  # the last request: always printed
    assert lines[-1] == ("[generate round 0] answers: 4/4 done, 1 from cache, 0 in flight, 1 failed, "
                         "50 tokens out, 19.2 tokens/s, 3 s")


def test_heartbeat_while_a_request_runs_and_none_after_the_end():
    lines: list[str] = []
    clock = Clock()
    p = RequestProgress(lines.append, "x", total=1, heartbeat_s=10.0, clock=clock)
    p.started()
    clock.t += 5.0
    p.tick()
    assert lines == []
    clock.t += 6.0
    p.tick()
    assert lines == ["x: 0/1 done, 1 in flight, 0 tokens out, 0.0 tokens/s, 11 s"]
    p.finished(completion_tokens=3)
    clock.t += 60.0
    p.tick()
    assert len(lines) == 2 and lines[-1].startswith("x: 1/1 done")


def test_the_client_reports_each_request_and_retries_against_a_real_server():
    lines: list[str] = []
    with FaultServer() as server:
        config = ClientConfig(max_concurrency=2, timeout_s=10, max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)
        client = ChatClient(config, model="m", base_url=server.base_url, progress=lines.append)
        requests = [ChatRequest(f"r{i}", [{"role": "user", "content": f"q{i}" + (" [faults:500]" if i == 0 else "")}])
                    for i in range(3)]
        results = client.run(requests, "[generate round 0] answers")
    assert [r.status for r in results] == ["done"] * 3
    assert all(r.seconds > 0 for r in results)
    assert lines, "no progress line"
    assert re.fullmatch(r"\[generate round 0\] answers: 3/3 done, 0 in flight, 1 retried, \d+ tokens out, "
                        r"[\d.]+ tokens/s, \d+ s", lines[-1]), lines[-1]
    assert not any("_work" in line for line in lines)
