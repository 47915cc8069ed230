"""The normalize stage on real rows: columns, reasons, dropped rows, order, options."""

from __future__ import annotations

import json

import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252
import numpy as np
import opencc
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filters.normalize.stage import NormalizeStage, cjk_char_counts, normalize_texts, weighted_length
from pipeline.config import ConfigError, build_stage
from pipeline.schema import drop_rows, make_batch


def _rows(dev_data, name):
    return [json.loads(line) for line in (dev_data / name).open(encoding="utf-8")]


def _batch(rows):
    return make_batch([r["text"] for r in rows], ids=[r["id"] for r in rows], source="dev")


def test_dev_set_rows_order_and_columns(dev_data):
    rows = []
    for name in ("math_pos_en.jsonl", "math_pos_zh.jsonl", "code_pos.jsonl", "langid.jsonl"):
        rows += _rows(dev_data, name)
    batch = _batch(rows)
    out = NormalizeStage()(batch)
    assert out.num_rows == batch.num_rows
    assert out["id"].to_pylist() == batch["id"].to_pylist()
    assert out.schema.field("text").type == pa.large_string() and not out.schema.field("text").nullable
    for col, typ in [("norm_changed", pa.bool_()), ("mojibake_fixed", pa.bool_()), ("zh_converted", pa.bool_()),
                     ("norm_chars", pa.int64()), ("norm_cjk_chars", pa.int64())]:
        assert out.schema.field(col).type == typ
    assert "text_original" not in out.schema.names
    reasons = set(out["drop_reason"].drop_null().to_pylist())
    assert reasons <= {"normalize:too_short"}
    # Every math and code row is kept; only short langid sentences fall under the floor.
    kept_ids = set(out.filter(pc.is_null(out["drop_reason"]))["id"].to_pylist())
    assert all(r["id"] in kept_ids for r in rows if not r["id"].startswith("langid"))
    changed = out.filter(out["norm_changed"])
    assert 0 < changed.num_rows < out.num_rows
    assert pc.sum(out["mojibake_fixed"]).as_py() >= 9  # the real cp1252 apostrophes of the French rows
    assert not pc.any(out["zh_converted"]).as_py()


def test_too_short_and_empty_reasons():
    texts = ["", "  \n\u200b\n\t ", "moved", "a" * 19, "a" * 20, "你好", "9只兔子有多少条腿？", "\ufeff"]
    out = NormalizeStage()(make_batch(texts, ids=[str(i) for i in range(len(texts))], source="t"))
    assert out["drop_reason"].to_pylist() == [
        "normalize:empty", "normalize:empty", "normalize:too_short", "normalize:too_short", None,
        "normalize:too_short", None, "normalize:empty",
    ]
    assert out["norm_chars"].to_pylist() == [0, 0, 5, 19, 20, 2, 10, 0]
    assert out["norm_cjk_chars"].to_pylist() == [0, 0, 0, 0, 0, 2, 8, 0]
    # The counts keep the rule re-cuttable: 10 chars + 2 x 8 CJK = 26 >= 20.
    assert weighted_length(np.array([10]), np.array([8]), 3.0).tolist() == [26.0]
    out = NormalizeStage(min_chars=0)(make_batch(texts, ids=[str(i) for i in range(len(texts))], source="t"))
    assert set(out["drop_reason"].drop_null().to_pylist()) == {"normalize:empty"}


def test_dropped_rows_are_untouched():
    texts = ["ｘ\u00a0\u00a0is  here  \r\n", "ｙ\u00a0is here and long enough to keep\r\n"]
    batch = drop_rows(make_batch(texts, ids=["a", "b"], source="t"), np.array([True, False]), "langid:other")
    out = NormalizeStage(keep_original=True)(batch)
    assert out["text"].to_pylist() == [texts[0], "y is here and long enough to keep"]
    assert out["drop_reason"].to_pylist() == ["langid:other", None]
    for col in ("norm_changed", "mojibake_fixed", "zh_converted", "norm_chars", "norm_cjk_chars", "text_original"):
        assert out[col][0].as_py() is None, col
    assert out["text_original"].to_pylist() == [None, texts[1]]
    assert out["norm_changed"].to_pylist() == [None, True]


def test_mojibake_rows_are_repaired_in_the_stage(dev_data):
    rows = _rows(dev_data, "math_pos_zh.jsonl")[:20] + _rows(dev_data, "math_pos_en.jsonl")[:20]
    clean = [r["text"] for r in rows]
    broken = [t.encode("utf-8").decode("sloppy-windows-1252") if i % 2 else t for i, t in enumerate(clean)]
    out = NormalizeStage(keep_original=True)(make_batch(broken, ids=[str(i) for i in range(40)], source="t"))
    expected = NormalizeStage()(make_batch(clean, ids=[str(i) for i in range(40)], source="t"))
    assert out["text"].to_pylist() == expected["text"].to_pylist()
    was_broken = [b != c for b, c in zip(broken, clean)]
    assert out["mojibake_fixed"].to_pylist() == was_broken
    assert [o == b for o, b, w in zip(out["text_original"].to_pylist(), broken, was_broken) if w] == [True] * sum(was_broken)


def test_traditional_to_simplified_keeps_the_original(dev_data):
    rows = [r for r in _rows(dev_data, "langid.jsonl") if r["label"] == "zh" and r["script"] in ("Hant", "Hans")]
    rows += [r for r in _rows(dev_data, "langid.jsonl") if r["label"] == "ja"][:20]
    out = NormalizeStage(to_simplified=True, min_chars=0)(_batch(rows))
    t2s = opencc.OpenCC("t2s")
    for row, text, orig, conv in zip(rows, out["text"].to_pylist(), out["text_original"].to_pylist(),
                                     out["zh_converted"].to_pylist()):
        if row["script"] == "Hant" and t2s.convert(row["text"]) != row["text"]:
            assert conv and orig == row["text"] and text == t2s.convert(row["text"]).strip()
        else:
            assert not conv and orig is None
    assert sum(out["zh_converted"].to_pylist()) > 90
    off = NormalizeStage(min_chars=0)(_batch(rows))
    assert not pc.any(off["zh_converted"]).as_py()
    assert "text_original" not in off.schema.names


def test_keep_original_is_null_when_unchanged():
    texts = ["already clean text, nothing to do", "trailing spaces   "]
    out = NormalizeStage(keep_original=True)(make_batch(texts, ids=["a", "b"], source="t"))
    assert out["text_original"].to_pylist() == [None, "trailing spaces   "]
    assert out["norm_changed"].to_pylist() == [False, True]


def test_chunked_text_column_and_empty_batch():
    batch = pa.concat_tables([
        make_batch(["ｆｕｌｌ width text here"], ids=["a"], source="t"),
        make_batch(["second chunk of text here\n\n\n\n\n"], ids=["b"], source="t"),
    ])
    assert batch["text"].num_chunks == 2
    out = NormalizeStage()(batch)
    assert out["text"].to_pylist() == ["full width text here", "second chunk of text here"]
    empty = NormalizeStage()(make_batch([], ids=[], source="t"))
    assert empty.num_rows == 0 and "norm_changed" in empty.schema.names


def test_normalize_texts_options():
    arr = pa.array(["x² ｘ \x92", None], pa.string())
    res = normalize_texts(arr, unicode_form="nfkc", protect_spans=False, fix_mojibake=False)
    assert res.text.to_pylist() == ["x2 x", ""]
    assert res.mojibake_fixed.tolist() == [False, False]
    res = normalize_texts(arr)
    assert res.text.to_pylist() == ["x² x ’", ""]
    assert res.mojibake_fixed.tolist() == [True, False] and res.changed.tolist() == [True, False]  # null is ""


def test_cjk_counts():
    arr = pa.array(["abc", "中文，テスト한국어𠀀", "", "。、（）"], pa.large_string())
    assert cjk_char_counts(arr).tolist() == [0, 9, 0, 0]
    assert cjk_char_counts(arr.slice(1, 2)).tolist() == [9, 0]


def test_config_validation():
    stage = build_stage("normalize", {"unicode_form": "nfkc", "to_simplified": True, "min_chars": 50})
    assert isinstance(stage, NormalizeStage) and stage.min_chars == 50
    with pytest.raises(ConfigError, match="unicode_form"):
        build_stage("normalize", {"unicode_form": "nfkd"})
    with pytest.raises(ConfigError, match="max_blank_lines"):
        build_stage("normalize", {"max_blank_lines": -1})
    with pytest.raises(ConfigError, match="min_char"):
        build_stage("normalize", {"min_char": 5})
