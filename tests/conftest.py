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
