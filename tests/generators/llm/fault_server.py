"""A real local OpenAI-compatible HTTP server for tests that injects faults on demand.

It is a test tool beside the real model path (llama.cpp serving SmolLM2), not a
substitute for it. Faults are planned per request *content*, so they do not depend on
the order in which concurrent requests arrive: the last user message may carry a
directive ``[faults:500,429,timeout]``; attempt k of that message gets the k-th fault,
later attempts succeed. Faults:

* ``500``/``503``/``400``...: that HTTP status with an OpenAI-style error body;
* ``429``: status 429 with ``Retry-After: <retry_after>``;
* ``timeout``: the answer comes ``slow_s`` seconds late (after the client gave up);
* ``malformed``: status 200 with a body that is not JSON;
* ``drop``: the connection is closed without any response;
* ``length``: a normal answer cut short, ``finish_reason: "length"``;
* ``always500``: every attempt fails (the request must end dead-lettered).

Every request is logged (time, key, fault) so tests can count what reached the server.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

DIRECTIVE = re.compile(r"\[faults:([a-z0-9_,]+)\]")


def default_responder(messages: list[dict], body: dict) -> str:
    """Deterministic content: an echo of a hash of the messages and the seed."""
    digest = hashlib.sha256(json.dumps([messages, body.get("seed")], sort_keys=True).encode()).hexdigest()[:12]
    return f"echo {digest}"


@dataclass
class Hit:
    t: float
    key: str
    fault: str | None
    body: dict


@dataclass
class FaultServer:
    retry_after: str = "0"
    slow_s: float = 3.0
    responder: Callable[[list[dict], dict], str] = default_responder
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server._serve(self, body)

            def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # ------------------------------------------------------------------ control
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> "FaultServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, fault: str | None = "any") -> int:
        with self._lock:
            return len(self.hits) if fault == "any" else sum(h.fault == fault for h in self.hits)

    def hits_for(self, key: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.key == key]

    # ------------------------------------------------------------------ serving
    def _serve(self, handler: BaseHTTPRequestHandler, body: dict) -> None:
        messages = body.get("messages") or []
        last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        key = hashlib.sha256(json.dumps([messages, body.get("seed")], sort_keys=True).encode()).hexdigest()[:16]
        match = DIRECTIVE.search(last_user)
        plan = match.group(1).split(",") if match else []
        with self._lock:
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            fault = "always500" if "always500" in plan else (plan[attempt] if attempt < len(plan) else None)
            self.hits.append(Hit(time.monotonic(), key, fault, body))
        h = handler
        if fault == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "malformed":
            data = b'{"id": "x", "choices": [ {"message": '  # cut mid-object
            h.send_response(200)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if fault == "timeout":
            time.sleep(self.slow_s)
        if fault == "429":
            h._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"retry-after": self.retry_after})
            return
        if fault == "always500":
            fault = "500"
        if fault and fault.isdigit():
            h._json(int(fault), {"error": {"message": f"injected {fault}", "type": "server_error"}})
            return
        content = self.responder(messages, body)
        finish = "stop"
        if fault == "length":
            content, finish = content[: max(1, len(content) // 2)], "length"
        h._json(200, {
            "id": f"chatcmpl-{key}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fault-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })
