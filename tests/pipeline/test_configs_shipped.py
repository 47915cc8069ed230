"""Every config shipped in configs/ loads and validates (stages, keys, model files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_validates(path):
    config = load_config(path)
    assert config.stages, path
    assert len(config.config_hash()) == 64
