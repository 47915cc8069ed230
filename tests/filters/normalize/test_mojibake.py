"""Mojibake detection and repair on real rows made into mojibake, and on clean rows."""

from __future__ import annotations

import json

import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252
import pyarrow as pa

from filters.normalize.mojibake import looks_like_mojibake, repair_mojibake


def _texts(dev_data, name):
    return [json.loads(line)["text"] for line in (dev_data / name).open(encoding="utf-8")]


def _real_sample(dev_data):
    zh = _texts(dev_data, "math_pos_zh.jsonl")[:40]
    en = [t for t in _texts(dev_data, "math_pos_en.jsonl") if not t.isascii()][:40]
    fr = [t for t in _texts(dev_data, "langid.jsonl") if "é" in t and not any("\x80" <= c <= "\x9f" for c in t)][:20]
    return zh + en + fr


def test_utf8_read_as_cp1252_is_repaired(dev_data):
    clean = _real_sample(dev_data)
    broken = [t.encode("utf-8").decode("sloppy-windows-1252") for t in clean]
    assert all(b != c for b, c in zip(broken, clean))
    arr = pa.array(broken, pa.large_string())
    assert looks_like_mojibake(arr).all()
    out, fixed = repair_mojibake(arr)
    assert out.to_pylist() == clean
    assert fixed.all()


def test_utf8_read_as_latin1_is_repaired(dev_data):
    clean = _real_sample(dev_data)
    broken = [t.encode("utf-8").decode("latin-1") for t in clean]
    out, fixed = repair_mojibake(pa.array(broken, pa.large_string()))
    assert out.to_pylist() == clean
    assert fixed.all()


def test_clean_text_is_not_touched(dev_data):
    clean = []
    for name in ("langid.jsonl", "math_pos_en.jsonl", "math_pos_zh.jsonl", "code_pos.jsonl", "neg_en.jsonl"):
        clean += [t for t in _texts(dev_data, name) if not any("\x80" <= c <= "\x9f" for c in t)]
    arr = pa.array(clean + ["São Paulo", "naïve café", "x² ± ½ °C", "À la carte, ©2024 Ångström"], pa.large_string())
    out, fixed = repair_mojibake(arr)
    assert not fixed.any()
    assert out.equals(arr)
    # The cheap check flags few clean rows, so ftfy rarely runs on clean data.
    assert looks_like_mojibake(arr).mean() < 0.01


def test_real_c1_controls_in_the_dev_set(dev_data):
    rows = [json.loads(line) for line in (dev_data / "langid.jsonl").open(encoding="utf-8")]
    row = next(r for r in rows if r["id"] == "langid-00748")
    assert "s\x92appellent" in row["text"]
    out, fixed = repair_mojibake(pa.array([row["text"]], pa.large_string()))
    assert fixed.tolist() == [True]
    assert "s’appellent" in out[0].as_py()


def test_mixed_batch_only_changes_broken_rows():
    rows = ["fine text", "cafÃ©", None, "ä¸­æ–‡æ•°å­¦", "中文"]
    out, fixed = repair_mojibake(pa.array(rows, pa.large_string()))
    assert out.to_pylist() == ["fine text", "café", None, "中文数学", "中文"]
    assert fixed.tolist() == [False, True, False, True, False]
