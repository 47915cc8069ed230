"""What the synthetic loop costs per accepted sample, and how the client's concurrency scales.

Part 1 runs N rounds of a config's ``generate:`` section (default ``configs/synth_demo.yaml``)
against its managed llama.cpp server, or against any OpenAI-compatible server with
``--base-url``/``--model``, into a fresh output dir with an empty request cache (so every
answer is really requested), and prints per task type and language:

* samples, requests (HTTP attempts: first answers, repairs, votes), tokens in / out, seconds
  (the requests' own latencies, summed);
* acceptance: verified on the first answer, after the repair round, after the crawl's filters
  (what reached ``data/``);
* tokens (in + out) per accepted sample;
* requests/s and tokens/s (out) at the configured ``max_concurrency``: each row's share of the
  wall time the loop spent waiting for the model (its share of the summed latencies), so
  the rows add up to the total line.

Part 2 (``--scaling``, on by default) shows that ``client.max_concurrency`` scales throughput
against a server that decodes several requests at once: a local test HTTP server (127.0.0.1
only, a fixed delay per request, no faults; it stops by itself after ``--scaling-requests``
x levels requests or 30 s idle) answered by the same ``ChatClient`` at each concurrency.
llama-cpp-python's server (the managed one) decodes one request at a time, so against it
concurrency above 1 only queues requests; llama.cpp's own ``llama-server --parallel N``
decodes N at once, and vLLM / SGLang batch dozens to hundreds.

    python benchmarks/synth_yield.py                                  # the demo config, 1 round
    python benchmarks/synth_yield.py --rounds 3 --base-url http://HOST:8000/v1 --model Qwen/Qwen2.5-7B-Instruct \\
        --config configs/synth_full.yaml --concurrency 32
    python benchmarks/synth_yield.py --only-scaling
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.report import table  # noqa: E402

FIRST_PASS_FAIL = ("generate", "parse", "verify_math", "verify_code")


# ----------------------------------------------------------------------------- part 1: yield
def run_rounds(args: argparse.Namespace, out: Path):
    """Run the loop of ``args.config`` into ``out`` with the benchmark's overrides."""
    from generators.loop import run_generate
    from pipeline.config import load_config

    config = load_config(args.config)
    gen = config.generate
    gen.rounds = args.rounds
    if args.base_url:
        gen.server = None
        gen.client.base_url, gen.client.model = args.base_url, args.model
    if args.concurrency:
        gen.client.max_concurrency = args.concurrency
    gen.cache_path = str(out / "requests.sqlite")  # fresh: nothing replays from an earlier run
    config.run.previous_outputs = [p for p in config.run.previous_outputs if Path(p).exists()]
    return run_generate(config, output_dir=str(out), progress=None if args.quiet else _say, overwrite=True), gen


def sample_rows(out: Path) -> list[dict]:
    """Every candidate of the run (kept and rejected), with its task, language, tries, reason."""
    import pyarrow.parquet as pq

    cols = ["gen_task", "gen_lang", "gen_tries", "drop_reason"]
    rows = []
    for kind in ("data", "rejects"):
        for f in sorted((out / kind).glob("*.parquet")):
            t = pq.read_table(f)
            have = [c for c in cols if c in t.column_names]
            rows += [dict(r, drop_reason=r.get("drop_reason")) for r in t.select(have).to_pylist()]
    return rows


def yield_rows(stats: dict, rows: list[dict]) -> tuple[list[list], list]:
    """The table's rows per task/lang and its total row."""
    usage: dict[str, dict] = {}
    wall = 0.0
    for info in stats["generate"]["rounds"]:
        u = info.get("usage") or {}
        wall += u.get("wall_s", 0.0)
        for key, v in u.get("by_task", {}).items():
            acc = usage.setdefault(key, {k: 0 for k in v})
            for k, x in v.items():
                acc[k] += x
    counts: dict[str, dict] = {}
    for r in rows:
        key = f"{r['gen_task']}/{r['gen_lang']}"
        c = counts.setdefault(key, {"samples": 0, "first": 0, "repaired": 0, "kept": 0})
        reason = r["drop_reason"]
        passed_verify = not reason or reason.partition(":")[0] not in FIRST_PASS_FAIL
        c["samples"] += 1
        c["first"] += int(passed_verify and (r["gen_tries"] or 1) == 1)
        c["repaired"] += int(passed_verify)
        c["kept"] += int(reason is None)
    total_latency = sum(u["seconds"] for u in usage.values()) or 1e-9
    out, tot = [], {"samples": 0, "first": 0, "repaired": 0, "kept": 0, "requests": 0, "tokens_in": 0,
                    "tokens_out": 0, "seconds": 0.0}
    for key in sorted(set(usage) | set(counts)):
        u = usage.get(key, {"requests": 0, "tokens_in": 0, "tokens_out": 0, "seconds": 0.0})
        c = counts.get(key, {"samples": 0, "first": 0, "repaired": 0, "kept": 0})
        share = wall * u["seconds"] / total_latency  # this row's part of the wall time
        task, _, lang = key.partition("/")
        out.append(_row(task, lang, c, u, share))
        for k in tot:
            tot[k] += c.get(k, 0) + u.get(k, 0) if k in c or k in u else 0
    total = _row("all", "", tot, tot, wall)
    return out, total


def _row(task: str, lang: str, c: dict, u: dict, wall_share: float) -> list:
    tokens = u["tokens_in"] + u["tokens_out"]
    n = c["samples"] or 1
    pct = lambda k: f"{c[k]} ({100 * c[k] / n:.0f}%)"  # noqa: E731
    return [task, lang, c["samples"], u["requests"], u["tokens_in"], u["tokens_out"], f"{u['seconds']:.1f}",
            pct("first"), pct("repaired"), pct("kept"),
            f"{tokens / c['kept']:.0f}" if c["kept"] else "-",
            f"{u['requests'] / wall_share:.2f}" if wall_share else "-",
            f"{u['tokens_out'] / wall_share:.1f}" if wall_share else "-"]


HEADERS = ["task", "lang", "samples", "requests", "tok in", "tok out", "seconds", "verified", "+repair",
           "+filters", "tok/accepted", "req/s", "tok/s"]


# ----------------------------------------------------------------------------- part 2: scaling
@contextmanager
def delay_server(delay_s: float, max_requests: int, idle_s: float = 30.0, completion_tokens: int = 50):
    """A fault-free OpenAI-compatible server on 127.0.0.1 that answers every chat request after
    ``delay_s`` (threads: requests overlap, as on a batching server). It serves at most
    ``max_requests`` requests (then 503) and shuts itself down after ``idle_s`` without one."""
    state = {"served": 0, "last": time.monotonic()}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                state["served"] += 1
                state["last"] = time.monotonic()
                over = state["served"] > max_requests
            if over:
                return self._send(503, {"error": {"message": "request budget of this test server spent"}})
            time.sleep(delay_s)
            self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "delay",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "ok " * completion_tokens}}],
                             "usage": {"prompt_tokens": 20, "completion_tokens": completion_tokens,
                                       "total_tokens": 20 + completion_tokens}})

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default backlog (5) refuses connections at 16 in flight

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stop = threading.Event()

    def watchdog() -> None:
        while not stop.wait(0.5):
            with lock:
                idle = time.monotonic() - state["last"]
                done = state["served"] >= max_requests
            if idle > idle_s or (done and idle > 1.0):
                break
        server.shutdown()

    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        stop.set()
        server.server_close()


def scaling(delay_s: float, n: int, levels: list[int]) -> list[list]:
    from generators.config import ClientConfig
    from generators.llm.client import ChatClient, ChatRequest

    rows = []
    with delay_server(delay_s, max_requests=n * len(levels)) as url:
        for c in levels:
            client = ChatClient(ClientConfig(max_concurrency=c, timeout_s=30, max_attempts=1), model="delay", base_url=url)
            requests = [ChatRequest(f"c{c}/r{i}", [{"role": "user", "content": f"question {i}"}]) for i in range(n)]
            t0 = time.perf_counter()
            results = client.run(requests)
            wall = time.perf_counter() - t0
            ok = sum(r.status == "done" for r in results)
            tokens = sum(r.completion_tokens for r in results)
            rows.append([c, n, ok, f"{wall:.2f}", f"{ok / wall:.1f}", f"{tokens / wall:.0f}",
                         f"{min(c, n) / delay_s:.1f}"])
    return rows


def llama_scaling(config_path: str, n: int, levels: list[int], max_tokens: int = 32) -> list[list]:
    """The same measure against the managed llama-cpp-python server of ``config_path``."""
    import tempfile as _tf

    from generators.config import ClientConfig, ServerConfig
    from generators.llm.client import ChatClient, ChatRequest
    from generators.llm.server import llama_cpp_server, served_model_name
    from pipeline.config import load_config

    server_config = load_config(config_path).generate.server or ServerConfig()
    rows = []
    with _tf.TemporaryDirectory() as tmp:
        with llama_cpp_server(server_config, Path(tmp) / "llama.log") as server:
            warm = ChatClient(ClientConfig(max_tokens=8, timeout_s=600), model=served_model_name(server_config),
                              base_url=server.base_url)
            warm.run([ChatRequest("warm-up", [{"role": "user", "content": "Hello."}])])  # load and first-call costs
            for k, c in enumerate(levels):
                client = ChatClient(ClientConfig(max_concurrency=c, timeout_s=600, max_attempts=1, max_tokens=max_tokens,
                                                 temperature=0.0), model=served_model_name(server_config),
                                    base_url=server.base_url)
                requests = [ChatRequest(f"c{c}/r{i}", [{"role": "user", "content": f"Count from {10 * k + i} to {10 * k + i + 40}."}])
                            for i in range(n)]
                t0 = time.perf_counter()
                results = client.run(requests)
                wall = time.perf_counter() - t0
                ok = sum(r.status == "done" for r in results)
                tokens = sum(r.completion_tokens for r in results)
                rows.append([c, n, ok, f"{wall:.2f}", f"{ok / wall:.2f}", f"{tokens / wall:.1f}", "-"])
    return rows


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "synth_demo.yaml"))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--base-url", help="an OpenAI-compatible server instead of the config's managed one")
    ap.add_argument("--model", help="the model name on --base-url")
    ap.add_argument("--concurrency", type=int, help="override client.max_concurrency")
    ap.add_argument("--output", help="keep the run here (default: a temp dir, removed)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--no-scaling", dest="scaling", action="store_false")
    ap.add_argument("--only-scaling", action="store_true")
    ap.add_argument("--scaling-delay", type=float, default=0.25, help="seconds per request of the test server")
    ap.add_argument("--scaling-requests", type=int, default=32)
    ap.add_argument("--scaling-levels", default="1,2,4,8,16")
    ap.add_argument("--llama-scaling", action="store_true",
                    help="also measure concurrency 1 vs 4 against the config's managed llama.cpp server")
    args = ap.parse_args(argv)
    if args.base_url and not args.model:
        ap.error("--base-url needs --model")

    if not args.only_scaling:
        out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="synth_yield-"))
        try:
            result, gen = run_rounds(args, out)
            stats = json.loads((out / "stats.json").read_text())
            rows, total = yield_rows(stats, sample_rows(out))
            server = "managed llama.cpp (llama-cpp-python)" if gen.server is not None else gen.client.base_url
            print(f"\nsynthetic yield: {Path(args.config).name}, {args.rounds} round(s), model "
                  f"{stats['generate']['endpoint']['model']} on {server}, max_concurrency {gen.client.max_concurrency}, "
                  f"max_tokens {gen.client.max_tokens}, repair_tries {gen.repair_tries}")
            print(table(HEADERS, rows + [total], "llrrrrrrrrrrr"))
            print("verified = first answer passed verification; +repair = after the repair round; +filters = "
                  "reached data/ (langid, heuristics, classify, dedup); tok/accepted = tokens in+out per sample "
                  "in data/; req/s and tok/s (out) over the wall time spent waiting for the model")
        finally:
            if not args.output:
                shutil.rmtree(out, ignore_errors=True)
    if args.scaling or args.only_scaling:
        levels = [int(x) for x in args.scaling_levels.split(",")]
        print(f"\nclient concurrency against a local test server that takes {args.scaling_delay:g} s per request "
              f"and overlaps requests (no faults):")
        print(table(["max_concurrency", "requests", "ok", "wall s", "req/s", "tok/s", "ideal req/s"],
                    scaling(args.scaling_delay, args.scaling_requests, levels), "rrrrrrr"))
        if args.llama_scaling:
            print("\nthe same against the managed llama-cpp-python server (4 requests of up to 32 tokens, "
                  "levels alternated after a warm-up request):")
            print(table(["max_concurrency", "requests", "ok", "wall s", "req/s", "tok/s", "ideal req/s"],
                        llama_scaling(args.config, 4, [1, 4, 1, 4]), "rrrrrrr"))
        print("llama-cpp-python's server (the managed one) decodes one request at a time: concurrency > 1 only "
              "queues there. llama.cpp's llama-server --parallel N decodes N at once; vLLM/SGLang batch many.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
