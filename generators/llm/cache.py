"""A persistent cache of finished chat completions, so a rerun pays for nothing twice.

Keyed by the SHA-256 of the canonical JSON of (model, messages, params, seed): the same
request on any machine and any run maps to the same row. Stored in SQLite (WAL mode,
one transaction per write), so a killed run leaves every finished call readable and
nothing half-written; the file can be copied between machines like any artefact.

Only final answers are stored: a completion (``finish_reason`` of any kind, since a
truncated answer is what the model gives for that request and seed). Requests that
failed with transport or server errors are not stored and are tried again on a rerun.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    content TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created REAL NOT NULL,
    attempts INTEGER DEFAULT 1
)
"""


def request_key(model: str, messages: list[dict[str, str]], params: dict[str, Any], seed: int | None) -> str:
    """The cache key: stable across runs, machines and dict orderings."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params, "seed": seed},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedCompletion:
    content: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    attempts: int = 1  # HTTP attempts the answer cost when it was made (a replay costs none)


class RequestCache:
    """SQLite-backed map from request key to a finished completion."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(completions)")}
        if "attempts" not in columns:  # a cache written by an earlier version
            self._db.execute("ALTER TABLE completions ADD COLUMN attempts INTEGER DEFAULT 1")

    def get(self, key: str) -> CachedCompletion | None:
        row = self._db.execute(
            "SELECT content, finish_reason, prompt_tokens, completion_tokens, attempts FROM completions WHERE key = ?",
            (key,)).fetchone()
        return CachedCompletion(row[0], row[1], row[2] or 0, row[3] or 0, row[4] or 1) if row else None

    def put(self, key: str, model: str, request: dict[str, Any], completion: CachedCompletion) -> None:
        """Store a finished completion (the first one stored for a key wins)."""
        self._db.execute(
            "INSERT OR IGNORE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, model, json.dumps(request, ensure_ascii=False, sort_keys=True), completion.content,
             completion.finish_reason, completion.prompt_tokens, completion.completion_tokens, time.time(),
             completion.attempts),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def save_copy(self, path: str | Path) -> None:
        """A consistent copy of the whole cache at ``path`` (a local file), taken while it is open:
        what the loop uploads beside an output dir on object storage (SQLite needs a local file)."""
        target = sqlite3.connect(str(path))
        try:
            self._db.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RequestCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
