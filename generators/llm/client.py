"""Async chat-completions client for any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama).

Why not the ``openai`` package's own retries: the loop needs every request to end in
exactly one recorded state (done, or dead-lettered with its last error), retries that
honour ``Retry-After``, a per-request cache consulted before any network traffic, and
counts of what happened. So the package is used with ``max_retries=0`` for transport,
and the policy lives here:

* bounded concurrency (an ``asyncio.Semaphore``; a slot is released while backing off);
* per-attempt timeout;
* retries with exponential backoff and full jitter on 408/409/425/429/5xx, timeouts,
  connection errors and malformed bodies; ``Retry-After`` (seconds or HTTP date) and
  ``retry-after-ms`` are honoured as a lower bound on the wait;
* other 4xx and unexpected errors are not retried: the request is dead-lettered at once;
* ``finish_reason != "stop"`` is a finished request but a failed sample (``ok`` false);
* finished completions go to the ``RequestCache``; a rerun replays them with no request;
* with a ``progress`` callback, a line per finished request (at most one a second) and a
  heartbeat while requests run (``generators.llm.progress``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal

from generators.config import ClientConfig
from generators.llm.cache import CachedCompletion, RequestCache, request_key
from generators.llm.progress import RequestProgress, Say

RETRYABLE_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class ChatRequest:
    request_id: str  # the caller's id (a sample id); results come back in request order too
    messages: list[dict[str, str]]
    seed: int | None = None
    stop: tuple[str, ...] = ()  # stop sequences (part of the cache key)


@dataclass
class ChatResult:
    request_id: str
    key: str
    status: Literal["done", "dead"]
    content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0  # HTTP attempts made in this run (0 for a cache hit)
    cached: bool = False
    error: str | None = None  # last error ("<kind>: <message>") for dead letters
    seconds: float = 0.0  # time spent on HTTP attempts for this request (0 for a cache hit)

    @property
    def ok(self) -> bool:
        """A usable sample: the request finished and the model stopped by itself."""
        return self.status == "done" and self.finish_reason == "stop" and bool(self.content)


@dataclass
class ClientStats:
    requests: int = 0  # HTTP attempts sent
    cache_hits: int = 0
    done: int = 0
    dead_letters: int = 0
    truncated: int = 0  # finish_reason != "stop"
    retries: Counter = field(default_factory=Counter)  # by error kind
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # answers replayed from the cache: what they cost when an earlier process (a killed run
    # of this round, or another run sharing the cache) made them, so a resumed round's
    # stats still account for every request the server answered
    replayed_requests: int = 0
    replayed_prompt_tokens: int = 0
    replayed_completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["retries"] = dict(sorted(self.retries.items()))
        return d


class RequestFailed(Exception):
    def __init__(self, kind: str, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(f"{kind}: {message}")
        self.kind, self.retryable, self.retry_after = kind, retryable, retry_after


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff before retry ``attempt`` (1-based)."""
    return rng.uniform(0.0, min(cap, base * (2 ** (attempt - 1))))


def classify_error(exc: BaseException) -> RequestFailed:
    """Map an exception from the ``openai`` package to (kind, retryable, Retry-After)."""
    import openai

    if isinstance(exc, RequestFailed):
        return exc
    if isinstance(exc, openai.APITimeoutError) or isinstance(exc, asyncio.TimeoutError):
        return RequestFailed("timeout", str(exc) or "request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return RequestFailed("connection", str(exc.__cause__ or exc), retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(getattr(exc.response, "headers", None))
        return RequestFailed(f"http_{status}", str(exc.message)[:300], retryable=status in RETRYABLE_STATUS,
                             retry_after=retry_after)
    if isinstance(exc, (json.JSONDecodeError, openai.APIResponseValidationError, ValueError, TypeError,
                        AttributeError, KeyError, IndexError)):
        return RequestFailed("malformed", f"{type(exc).__name__}: {exc}"[:300], retryable=True)
    return RequestFailed("unexpected", f"{type(exc).__name__}: {exc}"[:300], retryable=False)


def _completion_of(response: Any) -> CachedCompletion:
    """Pull content, finish_reason and usage out of a response, or raise 'malformed'."""
    if isinstance(response, (str, bytes)):  # a non-JSON body the package handed back as text
        raise RequestFailed("malformed", f"non-JSON body: {str(response)[:120]!r}", retryable=True)
    choices = getattr(response, "choices", None)
    if not choices:
        raise RequestFailed("malformed", "response has no choices", retryable=True)
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    finish = getattr(choice, "finish_reason", None)
    if content is None and finish is None:
        raise RequestFailed("malformed", "choice has neither content nor finish_reason", retryable=True)
    usage = getattr(response, "usage", None)
    return CachedCompletion(content, finish, int(getattr(usage, "prompt_tokens", 0) or 0),
                            int(getattr(usage, "completion_tokens", 0) or 0))


class ChatClient:
    """Runs a list of chat requests to completion; every request ends done or dead-lettered.

    ``base_url`` may be a callable: it is called (in a worker thread, once) only when the
    first request misses the cache, so a fully cached rerun never starts a server.
    """

    def __init__(self, config: ClientConfig, *, model: str, base_url: str | Callable[[], str],
                 cache: RequestCache | None = None, rng: random.Random | None = None, progress: Say | None = None):
        self.config, self.model, self.cache = config, model, cache
        self.say = progress
        self._base_url = base_url
        self._rng = rng or random.Random(config.seed)
        self.stats = ClientStats()
        self._api = None
        self._api_lock: asyncio.Lock | None = None
        self._progress: RequestProgress | None = None

    def params(self) -> dict[str, Any]:
        """The sampling params that are sent and that key the cache."""
        c = self.config
        return {"temperature": c.temperature, "top_p": c.top_p, "max_tokens": c.max_tokens, **c.extra_body}

    def params_of(self, request: ChatRequest) -> dict[str, Any]:
        params = self.params()
        if request.stop:
            params["stop"] = list(request.stop)
        return params

    def key_of(self, request: ChatRequest) -> str:
        return request_key(self.model, request.messages, self.params_of(request), request.seed)

    def run(self, requests: list[ChatRequest], label: str = "[generate] requests") -> list[ChatResult]:
        """Blocking wrapper for ``complete_many`` (one event loop per call)."""
        return asyncio.run(self.complete_many(requests, label))

    async def complete_many(self, requests: list[ChatRequest], label: str = "[generate] requests") -> list[ChatResult]:
        ids = [r.request_id for r in requests]
        if len(set(ids)) != len(ids):
            raise ValueError("request_id values must be unique within a call")
        sem = asyncio.Semaphore(self.config.max_concurrency)
        self._api_lock = asyncio.Lock()
        self._progress = RequestProgress(self.say, label, len(requests)) if self.say and requests else None
        beat = asyncio.create_task(self._heartbeat()) if self._progress else None
        try:
            return list(await asyncio.gather(*(self._complete(r, sem) for r in requests)))
        finally:
            if beat is not None:
                beat.cancel()
            if self._api is not None:
                await self._api.close()
                self._api = None

    async def _heartbeat(self, every_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            self._progress.tick()

    async def _client(self) -> Any:
        assert self._api_lock is not None
        async with self._api_lock:
            if self._api is None:
                import openai

                url = self._base_url
                if callable(url):  # e.g. start the managed server on the first cache miss
                    url = await asyncio.to_thread(url)
                    self._base_url = url
                api_key = os.environ.get(self.config.api_key_env) or "not-needed"
                self._api = openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0,
                                               timeout=self.config.timeout_s)
        return self._api

    async def _complete(self, request: ChatRequest, sem: asyncio.Semaphore) -> ChatResult:
        key = self.key_of(request)
        progress = self._progress
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.stats.cache_hits += 1
            self.stats.replayed_requests += hit.attempts
            self.stats.replayed_prompt_tokens += hit.prompt_tokens
            self.stats.replayed_completion_tokens += hit.completion_tokens
            if progress:
                progress.finished(cached=True)
            return self._finish(ChatResult(request.request_id, key, "done", hit.content, hit.finish_reason,
                                           hit.prompt_tokens, hit.completion_tokens, 0, cached=True))
        attempts, last, spent = 0, None, 0.0
        while attempts < self.config.max_attempts:
            attempts += 1
            t0 = None
            try:
                async with sem:
                    if progress:
                        progress.started()
                    api = await self._client()  # (may start the managed server: not the request's time)
                    t0 = time.perf_counter()
                    self.stats.requests += 1
                    kwargs: dict[str, Any] = {"stop": list(request.stop)} if request.stop else {}
                    if self.config.extra_body:
                        kwargs["extra_body"] = self.config.extra_body
                    response = await asyncio.wait_for(
                        api.chat.completions.create(
                            model=self.model, messages=request.messages, seed=request.seed,
                            temperature=self.config.temperature, top_p=self.config.top_p,
                            max_tokens=self.config.max_tokens, timeout=self.config.timeout_s, **kwargs),
                        timeout=self.config.timeout_s + 5.0)  # guard against a stuck transport
                    spent, t0 = spent + time.perf_counter() - t0, None
                    completion = _completion_of(response)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - every failure becomes a recorded state
                spent += time.perf_counter() - t0 if t0 is not None else 0.0
                last = classify_error(exc)
                if not last.retryable or attempts >= self.config.max_attempts:
                    break
                self.stats.retries[last.kind] += 1
                if progress:
                    progress.retried()
                delay = backoff_delay(attempts, self.config.backoff_base_s, self.config.backoff_max_s, self._rng)
                if last.retry_after is not None:
                    # bounded: a server asking for 600 s per attempt would stall the round for
                    # max_attempts x 10 minutes; past the cap the request is retried sooner
                    delay = max(delay, min(last.retry_after, self.config.max_retry_after_s))
                    if progress and delay >= 5.0:
                        progress.say(f"{progress.label}: server asked to wait {last.retry_after:.0f} s "
                                     f"({last.kind}); retrying request {request.request_id} in {delay:.0f} s")
                await asyncio.sleep(delay)
                continue
            if self.cache is not None:
                self.cache.put(key, self.model, {"messages": request.messages, "params": self.params_of(request),
                                                 "seed": request.seed}, replace(completion, attempts=attempts))
            if progress:
                progress.finished(prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens)
            return self._finish(ChatResult(request.request_id, key, "done", completion.content,
                                           completion.finish_reason, completion.prompt_tokens,
                                           completion.completion_tokens, attempts, seconds=spent))
        self.stats.dead_letters += 1
        if progress:
            progress.finished(dead=True)
        return ChatResult(request.request_id, key, "dead", attempts=attempts, error=str(last), seconds=spent)

    def _finish(self, result: ChatResult) -> ChatResult:
        self.stats.done += 1
        self.stats.truncated += int(result.finish_reason != "stop")
        self.stats.prompt_tokens += result.prompt_tokens
        self.stats.completion_tokens += result.completion_tokens
        return result
