"""filters.array_cache: arrays derived from a file, kept on disk while the file and builder stay."""

from __future__ import annotations

import os

import numpy as np
import pytest

from filters import array_cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(array_cache.ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _counting_builder(source):
    calls = []

    def build():
        calls.append(1)
        data = np.frombuffer(source.read_bytes(), np.uint8)
        return {"bytes": data.copy(), "total": np.int64(data.sum())}

    return build, calls


def test_built_once_then_read(cache, tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(b"abc")
    build, calls = _counting_builder(source)
    first = array_cache.cached_arrays("t", source, __file__, build)
    second = array_cache.cached_arrays("t", source, __file__, build)
    assert len(calls) == 1
    assert np.array_equal(first["bytes"], second["bytes"]) and second["total"] == 97 + 98 + 99
    assert [p.suffix for p in cache.iterdir()] == [".npz"]


def test_a_changed_source_or_builder_is_rebuilt(cache, tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(b"abc")
    build, calls = _counting_builder(source)
    array_cache.cached_arrays("t", source, __file__, build)
    source.write_bytes(b"abcd")
    assert array_cache.cached_arrays("t", source, __file__, build)["total"] == 97 + 98 + 99 + 100
    other_builder = tmp_path / "builder.py"
    other_builder.write_text("# another version of the code\n")
    array_cache.cached_arrays("t", source, other_builder, build)
    assert len(calls) == 3
    assert len(list(cache.iterdir())) == 1  # the latest version only


def test_a_damaged_file_is_rebuilt(cache, tmp_path):
    source = tmp_path / "source.txt"
    source.write_bytes(b"abc")
    build, calls = _counting_builder(source)
    array_cache.cached_arrays("t", source, __file__, build)
    (stored,) = cache.iterdir()
    stored.write_bytes(stored.read_bytes()[:20])
    assert array_cache.cached_arrays("t", source, __file__, build)["total"] == 294
    assert array_cache.cached_arrays("t", source, __file__, build)["total"] == 294
    assert len(calls) == 2


def test_switched_off_builds_every_time(monkeypatch, tmp_path):
    monkeypatch.setenv(array_cache.ENV, "off")
    source = tmp_path / "source.txt"
    source.write_bytes(b"abc")
    build, calls = _counting_builder(source)
    array_cache.cached_arrays("t", source, __file__, build)
    array_cache.cached_arrays("t", source, __file__, build)
    assert len(calls) == 2 and array_cache.cache_dir() is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_cache_is_no_error(monkeypatch, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv(array_cache.ENV, str(locked / "cache"))
    source = tmp_path / "source.txt"
    source.write_bytes(b"abc")
    build, calls = _counting_builder(source)
    assert array_cache.cached_arrays("t", source, __file__, build)["total"] == 294


def test_an_unwritable_cache_file_path_is_no_error(monkeypatch, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv(array_cache.ENV, str(blocker))
    source = tmp_path / "source.txt"
    source.write_bytes(b"abc")
    build, calls = _counting_builder(source)
    assert array_cache.cached_arrays("t", source, __file__, build)["total"] == 294


def test_the_jieba_dictionary_read_back_equals_the_built_one(cache):
    from filters.signals import jieba_kernel as jk

    built = jk._build_dictionary(jk.default_dictionary_path())
    jk.load_dictionary.cache_clear()
    try:
        jk.load_dictionary()  # builds and stores
        jk.load_dictionary.cache_clear()
        read = jk.load_dictionary()  # reads
        assert len(list(cache.iterdir())) == 1
        for name in ("root_children", "slots", "node_freq", "log_prob"):
            got = getattr(read, name)
            assert got.dtype == built[name].dtype and np.array_equal(got, built[name])
        assert read.neg_log_total == float(built["neg_log_total"])
    finally:
        jk.load_dictionary.cache_clear()


def test_unicode_tables_come_back_from_the_cache_as_built(cache):
    """The per-code-point tables read from polars and unicodedata: built into an empty cache,
    read back from it, equal to a fresh build each time."""
    from filters.dedup.sketch import shingles
    from filters.signals import general

    assert array_cache.polars_binary().is_file()
    tables = [(general.char_flags.__wrapped__, lambda: general._read_char_flags(0x40000)),
              (shingles.lower_fold.__wrapped__, shingles._read_lower_fold),
              (shingles.char_classes.__wrapped__, lambda: shingles._read_char_classes(shingles.SKIPPED_PLANES))]
    for cached, fresh in tables:
        built, read = cached(), cached()
        assert np.array_equal(built, fresh()) and np.array_equal(read, built) and read.dtype == built.dtype
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["char", "char", "lower"]
