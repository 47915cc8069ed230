"""pipeline.allocators: the allocator settings a run starts with."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import allocators

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    for name in [*allocators.ENV_DEFAULTS, allocators.OFF_SWITCH]:
        monkeypatch.delenv(name, raising=False)
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's default
    yield monkeypatch
    gc.set_threshold(*saved)


def test_sets_the_environment_defaults(clean_env):
    done = allocators.configure()
    for name, value in allocators.ENV_DEFAULTS.items():
        assert os.environ[name] == value
        assert done[name] == value


def test_keeps_what_the_user_set(clean_env):
    clean_env.setenv("MIMALLOC_PURGE_DELAY", "0")
    done = allocators.configure()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "0"
    assert "MIMALLOC_PURGE_DELAY" not in done
    assert os.environ["_RJEM_MALLOC_CONF"] == allocators.ENV_DEFAULTS["_RJEM_MALLOC_CONF"]


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_the_off_switch_changes_nothing(clean_env, value):
    clean_env.setenv(allocators.OFF_SWITCH, value)
    assert allocators.configure() == {}
    assert not any(name in os.environ for name in allocators.ENV_DEFAULTS)
    assert gc.get_threshold() == (700, 10, 10)
    assert allocators.tune_gc() is False


def test_the_collector_runs_rarely(clean_env):
    assert "gc" in allocators.configure()
    assert gc.get_threshold() == allocators.GC_THRESHOLDS
    before = gc.get_stats()[0]["collections"]
    keep = [[] for _ in range(50_000)]  # 50,000 container allocations: ~70 young passes by default
    assert gc.get_stats()[0]["collections"] == before
    del keep


def test_a_higher_young_threshold_is_left_alone(clean_env):
    gc.set_threshold(10 * allocators.GC_THRESHOLDS[0], 5, 5)
    assert allocators.tune_gc() is True
    assert gc.get_threshold() == (10 * allocators.GC_THRESHOLDS[0], 5, 5)


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_malloc_thresholds(clean_env):
    assert "mallopt" in allocators.configure()


def test_the_cli_configures_before_pyarrow_loads():
    """The environment variables only work if they are set before pyarrow and polars load
    their allocators: importing the CLI module must set them first."""
    code = (
        "import os, sys\n"
        "import builtins\n"
        "real = builtins.__import__\n"
        "seen = {}\n"
        "def spy(name, *a, **k):\n"
        "    if name.split('.')[0] in ('pyarrow', 'polars') and name not in seen:\n"
        "        seen[name] = os.environ.get('MIMALLOC_PURGE_DELAY')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = spy\n"
        "import pipeline.cli\n"
        "print(sorted(set(seen.values())))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in allocators.ENV_DEFAULTS and k != allocators.OFF_SWITCH}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == repr([allocators.ENV_DEFAULTS["MIMALLOC_PURGE_DELAY"]])


def test_release_unused_runs_between_allocations():
    """A smoke test: how much the kernel gets back is the allocator's business (measured in
    benchmarks/e2e_scale.py's peak RSS), not assertable here."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    arrays = [pc.add(pa.array(np.arange(1 << 20)), 1) for _ in range(8)]
    assert pool.bytes_allocated() >= before + 8 * (8 << 20)
    del arrays
    allocators.release_unused()
    assert pool.bytes_allocated() == before
    assert pc.sum(pc.add(pa.array(np.arange(10)), 1)).as_py() == 55  # the pool still serves


def test_the_command_freezes_before_exit():
    """``taosha`` (pipeline.cli:entry) freezes the objects alive after its work, so the
    interpreter's shutdown collections skip them; ``main`` alone (tests, notebooks) does not."""
    code = (
        "import gc, sys\n"
        "import pipeline.cli as cli\n"
        "cli.main = lambda argv=None: 0\n"
        "assert gc.get_freeze_count() == 0\n"
        "code = cli.entry()\n"
        "print(code, gc.get_freeze_count() > 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != allocators.OFF_SWITCH}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["0", "True"]
    env[allocators.OFF_SWITCH] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["0", "False"]
