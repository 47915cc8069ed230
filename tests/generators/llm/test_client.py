"""The chat client against a real local HTTP server that injects faults.

Every request must end done or dead-lettered, none lost or duplicated, and a rerun must
replay the request cache with zero new requests (counted at the server).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tests.generators.llm.fault_server import FaultServer
from generators.llm.client import ChatClient, ChatRequest, backoff_delay, parse_retry_after
from generators.config import ClientConfig
from generators.llm.cache import RequestCache

PLANS = ["", "500", "500,503", "429", "timeout", "malformed", "drop", "length", "always500", "400",
         "drop,500,malformed", "429,429"]


def _config(**kw) -> ClientConfig:
    base = dict(max_concurrency=4, timeout_s=0.5, max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05,
                max_tokens=16)
    base.update(kw)
    return ClientConfig(**base)


def _requests(n: int, plans: list[str]) -> list[ChatRequest]:
    out = []
    for i in range(n):
        plan = plans[i % len(plans)]
        directive = f" [faults:{plan}]" if plan else ""
        out.append(ChatRequest(f"r{i}", [{"role": "user", "content": f"question {i}{directive}"}], seed=i))
    return out


def test_every_request_ends_done_or_dead_lettered_none_lost_or_duplicated(tmp_path):
    requests = _requests(36, PLANS)
    with FaultServer(slow_s=1.5) as server:
        client = ChatClient(_config(), model="m", base_url=server.base_url, cache=RequestCache(tmp_path / "c.sqlite"))
        results = client.run(requests)

        assert [r.request_id for r in results] == [q.request_id for q in requests]  # none lost, order kept
        by_plan = {}
        for q, r in zip(requests, results):
            plan = PLANS[int(q.request_id[1:]) % len(PLANS)]
            by_plan.setdefault(plan, []).append(r)
            # the server saw exactly the attempts the client reports, and at most one success per request
            hits = server.hits_for(_server_key(q))
            assert len(hits) == r.attempts
            assert sum(h.fault is None or h.fault == "length" for h in hits) == (1 if r.status == "done" else 0)

        for plan, rs in by_plan.items():
            for r in rs:
                if plan in ("always500", "400"):
                    assert r.status == "dead" and not r.ok
                    assert r.error.startswith("http_500" if plan == "always500" else "http_400")
                    assert r.attempts == (4 if plan == "always500" else 1)  # 400 is not retried
                elif plan == "length":
                    assert r.status == "done" and r.finish_reason == "length" and not r.ok
                else:
                    assert r.status == "done" and r.ok, (plan, r)
                    assert r.attempts == 1 + (len(plan.split(",")) if plan else 0)
                    assert r.content.startswith("echo ")

        stats = client.stats
        assert stats.done + stats.dead_letters == len(requests)
        assert stats.requests == server.count()
        assert stats.dead_letters == len(by_plan["always500"]) + len(by_plan["400"])
        assert {"http_500", "http_503", "http_429", "timeout", "malformed", "connection"} <= set(stats.retries)
        assert stats.completion_tokens == 5 * stats.done


def test_rerun_replays_cache_with_zero_new_requests(tmp_path):
    requests = _requests(20, ["", "500", "length", "drop"])
    cache_path = tmp_path / "cache.sqlite"
    with FaultServer() as server:
        first = ChatClient(_config(), model="m", base_url=server.base_url, cache=RequestCache(cache_path)).run(requests)
        sent = server.count()
        assert sent == 20 + 5 + 5  # one retry each for the "500" and "drop" requests
        second_client = ChatClient(_config(), model="m", base_url=server.base_url, cache=RequestCache(cache_path))
        second = second_client.run(requests)
        assert server.count() == sent  # zero new requests
        assert second_client.stats.cache_hits == 20 and second_client.stats.requests == 0
        assert [(r.content, r.finish_reason) for r in second] == [(r.content, r.finish_reason) for r in first]
        assert all(r.cached for r in second)
        # a changed sampling parameter is a different request: it is sent again
        third = ChatClient(_config(temperature=0.1), model="m", base_url=server.base_url, cache=RequestCache(cache_path))
        third.run(requests[:3])
        assert server.count() == sent + 3


def test_dead_letters_are_not_cached_and_retried_on_rerun(tmp_path):
    requests = _requests(4, ["always500", ""])
    cache_path = tmp_path / "cache.sqlite"
    with FaultServer() as server:
        ChatClient(_config(max_attempts=2), model="m", base_url=server.base_url, cache=RequestCache(cache_path)).run(requests)
        assert server.count() == 2 * 2 + 2
        rerun = ChatClient(_config(max_attempts=2), model="m", base_url=server.base_url, cache=RequestCache(cache_path))
        results = rerun.run(requests)
        assert server.count() == 6 + 2 * 2  # only the two dead-lettered requests were tried again
        assert [r.status for r in results] == ["dead", "done", "dead", "done"]


def test_retry_after_is_honoured(tmp_path):
    with FaultServer(retry_after="1") as server:
        client = ChatClient(_config(backoff_base_s=0.001, backoff_max_s=0.001), model="m", base_url=server.base_url)
        [result] = client.run(_requests(1, ["429"]))
        assert result.ok and result.attempts == 2
        first, second = server.hits
        assert first.fault == "429" and second.fault is None
        assert second.t - first.t >= 0.95  # waited for Retry-After, not the 1 ms backoff


def test_a_long_retry_after_is_capped(tmp_path):
    """A server asking for 600 s per attempt must not stall a round for an hour: the wait is
    capped at client.max_retry_after_s."""
    with FaultServer(retry_after="600") as server:
        client = ChatClient(_config(backoff_base_s=0.001, backoff_max_s=0.001, max_retry_after_s=1.0), model="m",
                            base_url=server.base_url)
        [result] = client.run(_requests(1, ["429"]))
        assert result.ok and result.attempts == 2
        first, second = server.hits
        assert 0.95 <= second.t - first.t < 30


def test_concurrency_is_bounded():
    in_flight, peak, lock = 0, 0, threading.Lock()

    def slow_responder(messages, body):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return "ok"

    with FaultServer(responder=slow_responder) as server:
        client = ChatClient(_config(max_concurrency=3, timeout_s=5), model="m", base_url=server.base_url)
        results = client.run(_requests(15, [""]))
    assert all(r.ok for r in results)
    assert 1 <= peak <= 3


def test_lazy_base_url_is_resolved_once_and_only_on_a_cache_miss(tmp_path):
    calls = Counter()
    cache_path = tmp_path / "c.sqlite"
    with FaultServer() as server:
        def provider():
            calls["n"] += 1
            return server.base_url

        ChatClient(_config(), model="m", base_url=provider, cache=RequestCache(cache_path)).run(_requests(6, [""]))
        assert calls["n"] == 1
        ChatClient(_config(), model="m", base_url=provider, cache=RequestCache(cache_path)).run(_requests(6, [""]))
        assert calls["n"] == 1  # everything cached: no server needed


def test_api_key_comes_from_the_named_environment_variable(monkeypatch):
    seen = []
    with FaultServer() as server:
        original = server._serve

        def spy(handler, body):
            seen.append(handler.headers.get("authorization"))
            original(handler, body)

        server._serve = spy
        monkeypatch.setenv("MY_TEST_KEY", "sk-test-123")
        ChatClient(_config(api_key_env="MY_TEST_KEY"), model="m", base_url=server.base_url).run(_requests(1, [""]))
    assert seen == ["Bearer sk-test-123"]


def test_duplicate_request_ids_are_refused():
    client = ChatClient(_config(), model="m", base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError):
        client.run([ChatRequest("a", [{"role": "user", "content": "x"}]), ChatRequest("a", [{"role": "user", "content": "y"}])])


def test_retry_after_parsing_and_backoff_bounds():
    import random

    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert parse_retry_after({}) is None
    rng = random.Random(0)
    delays = [backoff_delay(k, 0.5, 4.0, rng) for k in range(1, 10) for _ in range(20)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert max(backoff_delay(1, 0.5, 4.0, rng) for _ in range(50)) <= 0.5


def _server_key(request: ChatRequest) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps([request.messages, request.seed], sort_keys=True).encode()).hexdigest()[:16]
