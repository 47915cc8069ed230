"""Generation on a Ray actor pool: same results and cache behaviour as the local client."""

from __future__ import annotations

import pytest

from generators.llm.client import ChatRequest
from generators.config import ClientConfig
from generators.llm.cache import RequestCache
from tests.generators.llm.fault_server import FaultServer


@pytest.mark.cluster
@pytest.mark.slow
def test_actor_pool_generates_in_order_dead_letters_and_replays_the_cache(tmp_path, ray_local):
    from generators.llm.ray_client import RayGenerator

    config = ClientConfig(max_concurrency=2, timeout_s=10, max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02)
    plans = ["", "500", "always500", "length"]
    requests = [ChatRequest(f"r{i}", [{"role": "user", "content": f"q{i}" + (f" [faults:{plans[i % 4]}]" if plans[i % 4] else "")}],
                            seed=i) for i in range(12)]
    with FaultServer() as server:
        gen = RayGenerator(config, model="m", base_url=server.base_url, cache=RequestCache(tmp_path / "c.sqlite"),
                           num_actors=2)
        results = gen.run(requests)
        assert [r.request_id for r in results] == [q.request_id for q in requests]
        assert [r.status for r in results] == ["done", "done", "dead", "done"] * 3
        assert [r.finish_reason for r in results if r.status == "done"] == ["stop", "stop", "length"] * 3
        assert gen.stats.requests == server.count() == 12 + 3 + 3  # one retry per "500", two attempts per always500
        assert gen.stats.dead_letters == 3
        sent = server.count()
        again = RayGenerator(config, model="m", base_url=server.base_url, cache=RequestCache(tmp_path / "c.sqlite"),
                             num_actors=2).run([q for i, q in enumerate(requests) if i % 4 != 2])
        assert server.count() == sent  # every finished call replayed from the driver's cache
        assert all(r.cached for r in again)
