"""Shared test fixtures: paths to the real data shipped with the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_DATA = ROOT / "tests" / "data" / "dev"
DEMO_DATA = ROOT / "configs" / "demo_data"


@pytest.fixture(scope="session")
def dev_data() -> Path:
    """Labeled dev rows (langid, math, code, prose, near-duplicates); see PROVENANCE.md there."""
    return DEV_DATA


@pytest.fixture(scope="session")
def demo_data() -> Path:
    """The real crawl sample (WARC/WET) that the demo config runs on."""
    return DEMO_DATA


@pytest.fixture(scope="session")
def ray_local():
    """One in-process local Ray for the whole test session (every module shares it).

    Two ``ray.init`` calls in one process fail, and a stale cluster record can make a bare
    ``ray.init()`` hang, so tests never start Ray themselves: they take this fixture.
    """
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto) on 127.0.0.1, started and stopped by the test session.

    Yields the environment a client needs (``AWS_ENDPOINT_URL`` and test credentials):
    pyarrow, polars and Ray workers started by a subprocess all read it from the
    environment, as they would a real bucket's. Nothing leaves the machine.
    """
    import os
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "taosha-test",
           "AWS_SECRET_ACCESS_KEY": "taosha-test", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto server did not start")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield {"env": env, "client": boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=10)
