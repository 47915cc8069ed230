"""The generation step on Ray: an actor pool of chat clients.

With ``run.engine: ray`` the loop sends each round's requests through a small pool of
actors, each holding one ``ChatClient`` (``client.max_concurrency`` requests in flight
per actor, so ``num_workers * max_concurrency`` in all). The driver keeps the request
cache: it answers hits itself, ships only misses to the actors, and stores what comes
back, so resume and replay work exactly as in a local run. The actors are I/O-bound,
so they ask for a quarter CPU each (an actor pool that takes every CPU deadlocks Ray
Data here; see DESIGN.md).

Pointing it at a served model on the cluster:

* vLLM: start ``vllm serve MODEL --port 8000`` (or a Ray Serve / KubeRay deployment of
  it), set ``generate.server: null``, ``generate.client.base_url:
  http://<head-or-service>:8000/v1`` and ``generate.client.model: MODEL``; the same for
  SGLang (``python -m sglang.launch_server``, port 30000).
* Or use ``ray.data.llm`` (``build_llm_processor`` with a vLLM engine config) for offline
  batch inference on GPUs: feed it the rendered ``messages`` of ``samples.plan_round``
  and hand its outputs to ``samples.build_rows`` as ``ChatResult``s; the request cache
  and the rest of the loop are unchanged.
"""

from __future__ import annotations

import time
from typing import Callable

from generators.llm.client import ChatClient, ChatRequest, ChatResult, ClientStats
from generators.config import ClientConfig
from generators.llm.cache import CachedCompletion, RequestCache


class _ClientActor:
    """One chat client in an actor (no cache: the driver owns it)."""

    def __init__(self, config: ClientConfig, model: str, base_url: str):
        self.client = ChatClient(config, model=model, base_url=base_url)

    def run(self, requests: list[ChatRequest]) -> tuple[list[ChatResult], dict]:
        before = self.client.stats.as_dict()
        results = self.client.run(requests)
        after = self.client.stats.as_dict()
        delta = {k: (v - before[k] if isinstance(v, int) else {r: n - before[k].get(r, 0) for r, n in v.items()})
                 for k, v in after.items()}
        return results, delta


class RayGenerator:
    """Same interface as ``ChatClient`` (``run``, ``stats``), executed by a Ray actor pool."""

    def __init__(self, config: ClientConfig, *, model: str, base_url: str | Callable[[], str],
                 cache: RequestCache | None, num_actors: int = 2, ray_address: str | None = None,
                 progress: Callable[[str], None] | None = None):
        self.config, self.model, self.cache = config, model, cache
        self.say = progress  # one line per actor chunk that comes back (the actors run their own clients)
        self._base_url, self.num_actors, self.ray_address = base_url, max(1, num_actors), ray_address
        self._keyer = ChatClient(config, model=model, base_url="http://unused")
        self._actors: list = []
        self.stats = ClientStats()

    def _pool(self):
        import ray

        if not ray.is_initialized():
            ray.init(address=self.ray_address, ignore_reinit_error=True, include_dashboard=False)
        if not self._actors:
            url = self._base_url() if callable(self._base_url) else self._base_url
            self._base_url = url
            actor_cls = ray.remote(num_cpus=0.25)(_ClientActor)
            self._actors = [actor_cls.remote(self.config, self.model, url) for _ in range(self.num_actors)]
        return ray.util.ActorPool(self._actors)

    def run(self, requests: list[ChatRequest], label: str = "[generate] requests") -> list[ChatResult]:
        results: dict[str, ChatResult] = {}
        t0 = time.monotonic()
        misses = []
        for req in requests:
            key = self._keyer.key_of(req)
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is None:
                misses.append(req)
                continue
            self.stats.cache_hits += 1
            self.stats.replayed_requests += hit.attempts
            self.stats.replayed_prompt_tokens += hit.prompt_tokens
            self.stats.replayed_completion_tokens += hit.completion_tokens
            results[req.request_id] = self._count(ChatResult(req.request_id, key, "done", hit.content, hit.finish_reason,
                                                             hit.prompt_tokens, hit.completion_tokens, 0, cached=True))
        if misses:
            by_id = {r.request_id: r for r in misses}
            chunks = [misses[i:: self.num_actors] for i in range(self.num_actors) if misses[i:: self.num_actors]]
            tokens = 0
            for chunk_results, delta in self._pool().map(lambda actor, chunk: actor.run.remote(chunk), chunks):
                tokens += delta["completion_tokens"]
                if self.say:
                    elapsed = max(time.monotonic() - t0, 1e-9)
                    self.say(f"{label}: {len(results) + len(chunk_results)}/{len(requests)} done "
                             f"({self.stats.cache_hits} from cache so far), {tokens} tokens out, "
                             f"{tokens / elapsed:.1f} tokens/s over {self.num_actors} actors")
                self.stats.requests += delta["requests"]
                self.stats.dead_letters += delta["dead_letters"]
                self.stats.retries.update(delta["retries"])
                for res in chunk_results:
                    results[res.request_id] = res
                    if res.status == "done":
                        self._count(res)
                        if self.cache is not None:
                            req = by_id[res.request_id]
                            self.cache.put(res.key, self.model, {"messages": req.messages, "params": self._keyer.params_of(req),
                                                                 "seed": req.seed},
                                           CachedCompletion(res.content, res.finish_reason, res.prompt_tokens,
                                                            res.completion_tokens, max(res.attempts, 1)))
        return [results[r.request_id] for r in requests]

    def _count(self, res: ChatResult) -> ChatResult:
        self.stats.done += 1
        self.stats.truncated += int(res.finish_reason != "stop")
        self.stats.prompt_tokens += res.prompt_tokens
        self.stats.completion_tokens += res.completion_tokens
        return res
