"""Progress lines for a batch of chat requests: done / in flight / tokens per second.

A round against a CPU model takes minutes, and a new user who sees nothing for that long
cannot tell a slow server from a hung one. So the client reports as it goes: a line when
a request finishes (at most one per ``min_gap_s``, so a fast vLLM server does not flood
the terminal), and a heartbeat every ``heartbeat_s`` while a request is still running,
so even one slow request shows that the server is working. The last request always
prints, so the final count is on screen.

Tokens per second count completion tokens of requests answered by the server in this
batch (cache hits are free and are counted separately), over the batch's wall time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

Say = Callable[[str], None]


@dataclass
class RequestProgress:
    say: Say
    label: str  # e.g. "[generate round 0] requests"
    total: int
    min_gap_s: float = 1.0
    heartbeat_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    cached: int = 0
    failed: int = 0  # dead-lettered
    in_flight: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    _start: float = field(default=0.0, init=False)
    _last: float = field(default=-1e9, init=False)

    def __post_init__(self) -> None:
        self._start = self._last = self.clock()

    # --------------------------------------------------------------- events
    def started(self) -> None:
        self.in_flight += 1

    def retried(self) -> None:
        self.in_flight -= 1
        self.retries += 1

    def finished(self, *, cached: bool = False, dead: bool = False, prompt_tokens: int = 0,
                 completion_tokens: int = 0) -> None:
        """One request reached its final state (answered, replayed from the cache, or dead)."""
        if not cached:
            self.in_flight -= 1
        self.done += 1
        self.cached += int(cached)
        self.failed += int(dead)
        if not cached:
            self.tokens_in += prompt_tokens
            self.tokens_out += completion_tokens
        now = self.clock()
        if self.done == self.total or now - self._last >= self.min_gap_s:
            self._emit(now)

    def tick(self) -> None:
        """Called periodically: a heartbeat when nothing was printed for ``heartbeat_s``."""
        now = self.clock()
        if self.done < self.total and now - self._last >= self.heartbeat_s:
            self._emit(now)

    # --------------------------------------------------------------- output
    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self.clock()) - self._start, 1e-9)
        parts = [f"{self.done}/{self.total} done"]
        if self.cached:
            parts.append(f"{self.cached} from cache")
        parts.append(f"{self.in_flight} in flight")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.retries:
            parts.append(f"{self.retries} retried")
        parts.append(f"{self.tokens_out} tokens out, {self.tokens_out / elapsed:.1f} tokens/s, {elapsed:.0f} s")
        return f"{self.label}: " + ", ".join(parts)

    def _emit(self, now: float) -> None:
        self._last = now
        self.say(self.line(now))
