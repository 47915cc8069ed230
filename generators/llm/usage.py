"""What a round's requests cost, per task and language.

The client's own counters (``ClientStats``) are per run; a team deciding whether a task is
worth its tokens needs them per task type and language, and beside what each task yielded.
So every batch of results is booked here under the ``task/lang`` of the sample it was for
(first answers, repairs, and the extra solves that vote on new problems alike), and the
round's stats carry the table. ``benchmarks/synth_yield.py`` reads it back.

``seconds`` is the sum of the requests' own latencies (with several requests in flight it
exceeds wall time); ``wall_s`` is the time the round spent waiting for the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from generators.llm.client import ChatRequest, ChatResult


@dataclass
class TaskUsage:
    answers: int = 0  # results (one per request id, cache hits included)
    requests: int = 0  # HTTP attempts sent (retries included)
    cached: int = 0
    failed: int = 0  # dead-lettered
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    def add(self, result: ChatResult) -> None:
        self.answers += 1
        self.requests += result.attempts
        self.cached += int(result.cached)
        self.failed += int(result.status == "dead")
        if not result.cached:  # a replayed answer cost nothing this time
            self.tokens_in += result.prompt_tokens
            self.tokens_out += result.completion_tokens
            self.seconds += result.seconds

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["seconds"] = round(self.seconds, 3)
        return d


@dataclass
class RoundUsage:
    """Bookings of one round, keyed ``task/lang``; ``owner`` maps a request id to that key."""

    owner: Callable[[str], str]
    by_task: dict[str, TaskUsage] = field(default_factory=dict)
    wall_s: float = 0.0

    def run(self, generate, requests: list[ChatRequest], label: str) -> list[ChatResult]:
        """``generate.run`` with the results booked and the wait timed."""
        if not requests:
            return []
        t0 = time.perf_counter()
        results = generate.run(requests, label)
        self.wall_s += time.perf_counter() - t0
        for req, res in zip(requests, results):
            self.by_task.setdefault(self.owner(req.request_id), TaskUsage()).add(res)
        return results

    def to_dict(self) -> dict:
        return {"wall_s": round(self.wall_s, 3),
                "by_task": {k: v.to_dict() for k, v in sorted(self.by_task.items())}}


def sample_key_of(samples) -> Callable[[str], str]:
    """request id -> ``task/lang`` of its sample (vote ids are ``<sample id>/vote<j>/try<t>``)."""
    keys = {s.sample_id: f"{s.task}/{s.lang}" for s in samples}
    return lambda request_id: keys.get(request_id.split("/vote")[0], "other")
