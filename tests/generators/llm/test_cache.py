from __future__ import annotations

import multiprocessing

from generators.llm.cache import CachedCompletion, RequestCache, request_key

MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "解方程 x+1=2"}]


def test_key_depends_on_model_messages_params_and_seed_but_not_dict_order():
    base = request_key("m", MSGS, {"temperature": 0.7, "max_tokens": 8}, 1)
    assert base == request_key("m", [dict(reversed(list(m.items()))) for m in MSGS], {"max_tokens": 8, "temperature": 0.7}, 1)
    assert base != request_key("m2", MSGS, {"temperature": 0.7, "max_tokens": 8}, 1)
    assert base != request_key("m", MSGS[1:], {"temperature": 0.7, "max_tokens": 8}, 1)
    assert base != request_key("m", MSGS, {"temperature": 0.8, "max_tokens": 8}, 1)
    assert base != request_key("m", MSGS, {"temperature": 0.7, "max_tokens": 8}, 2)
    assert base != request_key("m", MSGS, {"temperature": 0.7, "max_tokens": 8}, None)


def test_put_get_persists_across_reopen(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    key = request_key("m", MSGS, {}, 0)
    with RequestCache(path) as cache:
        assert cache.get(key) is None
        cache.put(key, "m", {"messages": MSGS}, CachedCompletion("答案：1", "stop", 12, 3))
        cache.put(key, "m", {"messages": MSGS}, CachedCompletion("other", "stop", 1, 1))  # first wins
        assert len(cache) == 1
    with RequestCache(path) as cache:
        assert cache.get(key) == CachedCompletion("答案：1", "stop", 12, 3)


def _write_then_die(path: str) -> None:
    cache = RequestCache(path)
    cache.put("k1", "m", {}, CachedCompletion("done", "stop", 1, 1))
    import os

    os._exit(1)  # killed without closing: the committed row must survive


def test_a_killed_writer_leaves_committed_rows_readable(tmp_path):
    path = str(tmp_path / "cache.sqlite")
    proc = multiprocessing.get_context("spawn").Process(target=_write_then_die, args=(path,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 1
    with RequestCache(path) as cache:
        assert cache.get("k1") == CachedCompletion("done", "stop", 1, 1)
