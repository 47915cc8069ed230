"""Traditional -> Simplified on the Traditional rows of the langid dev set; others untouched."""

from __future__ import annotations

import json

import opencc
import pyarrow as pa

from filters.normalize.chinese_script import needs_simplification, simplify, to_simplified, traditional_chars


def _rows(dev_data):
    return [json.loads(line) for line in (dev_data / "langid.jsonl").open(encoding="utf-8")]


def test_traditional_rows_are_converted_like_opencc(dev_data):
    hant = [r["text"] for r in _rows(dev_data) if r["script"] == "Hant"]
    assert len(hant) > 100
    out, converted = simplify(pa.array(hant, pa.large_string()))
    reference = opencc.OpenCC("t2s")
    assert out.to_pylist() == [reference.convert(t) for t in hant]
    assert converted.mean() > 0.8  # the rest share every character with Simplified
    assert "動作冒險遊戲" in hant[0] and "动作冒险游戏" in out[0].as_py()


def test_simplified_japanese_and_korean_rows_are_untouched(dev_data):
    rows = _rows(dev_data)
    for label, script in [("zh", "Hans"), ("ja", None), ("ko", None), ("en", None)]:
        texts = [r["text"] for r in rows if r["label"] == label and r["script"] == script]
        arr = pa.array(texts, pa.large_string())
        flagged = needs_simplification(arr)
        # Simplified text may hold a character that is also Traditional (乾 in 乾隆):
        # it is sent to OpenCC, whose phrase table keeps it. Kana/Hangul rows never are.
        assert flagged.mean() < 0.05 if label == "zh" else not flagged.any(), label
        out, converted = simplify(arr)
        assert out.equals(arr) and not converted.any()
    # Without the kana guard, OpenCC would rewrite most Japanese rows (東京 -> 东京).
    ja = [r["text"] for r in rows if r["label"] == "ja"]
    assert sum(opencc.OpenCC("t2s").convert(t) != t for t in ja) > len(ja) // 2


def test_traditional_character_table():
    chars = traditional_chars()
    assert "國" in chars and "學" in chars
    assert "国" not in chars and "的" not in chars


def test_vectorized_t2s_equals_opencc_on_every_chinese_row(dev_data):
    zh = [r["text"] for r in _rows(dev_data) if r["label"] == "zh"]
    zh += [json.loads(line)["text"] for line in (dev_data / "neardup_clusters.jsonl").open(encoding="utf-8")]
    reference = opencc.OpenCC("t2s")
    out = to_simplified(pa.array(zh, pa.large_string())).to_pylist()
    assert out == [reference.convert(t) for t in zh]
    # Phrases win over characters: 乾隆 stays, 乾燥 becomes 干燥; 反覆 -> 反复.
    assert to_simplified(pa.array(["乾隆年間", "乾燥", "反覆"])).to_pylist() == ["乾隆年间", "干燥", "反复"]
