"""A real two-node Ray cluster on this machine, and the demo submitted to it with ``ray job submit``.

The test starts a head node (with the dashboard, which serves the job API) and a second
node with its own CPU and a custom resource, each ``ray start --block`` in its own
process group, and stops exactly those groups at the end; it never runs ``ray stop``,
which would take down every other Ray on the machine. Every port is picked free, so it
does not collide with other clusters here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest

from pipeline.config import load_config
from pipeline.run.local import run_local

ROOT = Path(__file__).resolve().parents[4]
START_TIMEOUT = 240


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def ray_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "token"  # Ray 2.60 turns token auth on; every node and client must agree
    env["RAY_agent_register_timeout_ms"] = "180000"  # agents start slowly on a loaded 2-core machine
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


class TwoNodeCluster:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.temp_dir = tempfile.mkdtemp(prefix="tsr-", dir="/tmp")  # Ray's socket paths must stay < 108 bytes
        p = free_ports(16)
        self.gcs_port, self.dashboard_port = p[0], p[1]
        self.address = f"127.0.0.1:{self.gcs_port}"
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"
        node_ports = lambda q: [  # noqa: E731
            "--object-manager-port", str(q[0]), "--node-manager-port", str(q[1]),
            "--dashboard-agent-listen-port", str(q[2]), "--dashboard-agent-grpc-port", str(q[3]),
            "--runtime-env-agent-port", str(q[4]), "--metrics-export-port", str(q[5])]
        self.head_cmd = ["ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                         "--port", str(self.gcs_port), "--num-cpus", "1", "--include-dashboard=true",
                         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port),
                         "--ray-client-server-port", str(p[2]), "--temp-dir", self.temp_dir,
                         "--disable-usage-stats", *node_ports(p[3:9])]
        self.worker_cmd = ["ray", "start", "--block", "--address", self.address, "--node-ip-address", "127.0.0.1",
                           "--num-cpus", "1", "--resources", json.dumps({"taosha_second_node": 1}),
                           "--disable-usage-stats", *node_ports(p[9:15])]
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, cmd: list[str], log: str) -> None:
        out = (self.tmp / log).open("wb")
        self.procs.append(subprocess.Popen(cmd, env=ray_env(), stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True, cwd=self.tmp))

    def _status(self) -> str:
        res = subprocess.run(["ray", "status", "--address", self.address], env=ray_env(), capture_output=True,
                             text=True, timeout=60)
        return res.stdout + res.stderr

    def start(self) -> None:
        self._spawn(self.head_cmd, "head.log")
        self._wait(lambda: "0.0/1.0 CPU" in self._status() or "/1.0 CPU" in self._status(), "head node")
        self._spawn(self.worker_cmd, "worker.log")
        self._wait(lambda: "/2.0 CPU" in self._status() and "taosha_second_node" in self._status(), "second node")

    def _wait(self, ready, what: str) -> None:
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{what}: `ray start` exited early; see {self.tmp}/*.log")
            try:
                if ready():
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(2)
        raise RuntimeError(f"{what} not up after {START_TIMEOUT} s; see {self.tmp}/*.log")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, the process groups this test started (worker first), and nothing else."""
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 20
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the daemons `ray start` left in its group
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.mark.cluster
@pytest.mark.slow
def test_demo_submitted_to_a_two_node_cluster(tmp_path):
    cluster = TwoNodeCluster(tmp_path)
    try:
        cluster.start()
        out = tmp_path / "out"
        submit = subprocess.run(
            ["ray", "job", "submit", "--address", cluster.dashboard, "--working-dir", str(ROOT), "--",
             "taosha", "run", "configs/demo.yaml", "--engine", "ray", "--ray-address", "auto", "--output", str(out), "--no-generate"],
            # the job's workers run from the uploaded working dir, whose numba cache starts empty: each stage
            # actor compiles its kernels (the submission took 546 s alone, and ran past 600 s inside the full
            # suite, on a slow shared 2-core machine on 2026-12-02)
            env=ray_env(), capture_output=True, text=True, timeout=1200, cwd=ROOT,
        )
        log = submit.stdout + submit.stderr
        assert submit.returncode == 0, log[-4000:]
        assert "succeeded" in log, log[-4000:]
        assert "ray: 2 CPUs (joined auto)" in log, log[-4000:]  # the driver saw both nodes
    finally:
        cluster.stop()
    groups = {p.pid for p in cluster.procs}
    deadline = time.time() + 30  # SIGKILLed processes take a moment to leave the process table
    while True:
        leftovers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _pgid(pid) in groups]
        if not leftovers or time.time() > deadline:
            break
        time.sleep(0.5)
    assert not leftovers, f"processes of the test's cluster still running: {leftovers}"

    stats = json.loads((out / "stats.json").read_text())
    assert stats["engine"] == "ray" and stats["records_in"] > 0
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]
    local = tmp_path / "local"
    cfg = load_config(ROOT / "configs/demo.yaml")
    cfg.output.dir = str(local)
    run_local(cfg, progress=None)
    ids = lambda d: sorted(pl.read_parquet(sorted((d / "data").glob("*.parquet")))["id"].to_list())  # noqa: E731
    assert ids(out) == ids(local)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["data"]["rows"] == stats["kept"]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
