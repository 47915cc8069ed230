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
