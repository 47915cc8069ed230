import json

import pyarrow as pa

from filters.signals.script_detect import char_stats, chinese_by_script, script_only_chars, zh_script


def test_char_stats_counts_each_class_per_text():
    st = char_stats(pa.array(["中文かな한글abc é𠀀。，", "", None, "x1"]))
    assert st.han.tolist() == [3, 0, 0, 0]  # 中 文 and the supplementary 𠀀
    assert st.kana.tolist() == [2, 0, 0, 0]
    assert st.hangul.tolist() == [2, 0, 0, 0]
    assert st.letters.tolist() == [11, 0, 0, 1]  # + a b c é
    assert st.zh_punct.tolist() == [2, 0, 0, 0]
    assert st.digits.tolist() == [0, 0, 0, 1]
    assert st.chars.tolist() == [14, 0, 0, 2]


def test_char_stats_on_a_sliced_array_uses_the_slice():
    arr = pa.array(["aaaa", "中中", "bb", "ccc"]).slice(1, 2)
    st = char_stats(arr)
    assert st.chars.tolist() == [2, 2] and st.han.tolist() == [2, 0]


def test_script_only_sets_follow_opencc():
    simp, trad = script_only_chars()
    assert {"发", "国", "这"} <= simp and {"發", "國", "這"} <= trad
    assert "中" not in simp and "中" not in trad  # shared characters say nothing


def test_zh_script_on_labeled_dev_rows(dev_data):
    rows = [json.loads(x) for x in open(dev_data / "langid.jsonl", encoding="utf-8")]
    rows = [r for r in rows if r["label"] == "zh" and r["script"]]
    got = zh_script(char_stats(pa.array([r["text"] for r in rows]))).to_pylist()
    decided = [(g, r["script"]) for g, r in zip(got, rows) if g is not None]
    assert all(g == want for g, want in decided)
    sentences = [g for g, r in zip(got, rows) if r["kind"] == "sentence"]
    assert None not in sentences  # every sentence carries script-specific characters


def test_chinese_by_script_separates_japanese_and_korean():
    texts = ["控制", "山田孝之の嫁は歳年上", "김학철씨는", "我用 Python 写代码", "An English line with 中文"]
    assert chinese_by_script(char_stats(pa.array(texts))).tolist() == [True, False, False, True, False]


def test_compiled_char_stats_equal_the_numpy_path():
    import dataclasses

    import numpy as np

    texts = ["", "plain ASCII 123", "中文，繁體與简体。", "かな 한글 ＡＢＣ！", "𠀀𪜀 supplementary", "café…“q”",
             "x" * 5000 + "数" * 3000, None]
    arr = pa.array(texts, pa.large_string())
    # malformed UTF-8 too (a lead byte at the end of a text and of the data, a stray continuation byte)
    raw = b"ab\xe4" + b"\x80cd" + b"\xf0\x9f"
    bad = pa.Array.from_buffers(pa.large_string(), 3, [None, pa.py_buffer(np.array([0, 3, 6, 8], np.int64).tobytes()),
                                                        pa.py_buffer(raw)])
    for a in (arr, bad, arr.slice(2, 4)):
        fast, ref = char_stats(a), char_stats(a, compiled=False)
        for f in dataclasses.fields(fast):
            assert np.array_equal(getattr(fast, f.name), getattr(ref, f.name)), f.name
