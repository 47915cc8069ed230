"""Shingles: normalization, CJK runs vs word runs, and the vectorized hashes equal the
plain-Python reference on real zh/en/code text."""

import json
from pathlib import Path

import numpy as np

from tests.filters.dedup.shingle_reference import shingle_hashes
from filters.dedup.sketch.shingles import ShingleConfig, shingle_normal_form, shingle_strings, span_hash64

DEV = Path(__file__).resolve().parents[3] / "data" / "dev"


def _texts(name: str, n: int) -> list[str]:
    return [json.loads(line)["text"] for line in (DEV / name).open()][:n]


def test_traditional_and_simplified_normalize_to_the_same_text():
    trad = "自1960年代以後塞維亞實力每況愈下，只能在低組別聯賽打滾，至1990年代末才升上甲組。"
    simp = "自1960年代以后塞维亚实力每况愈下，只能在低组别联赛打滚，至1990年代末才升上甲组。"
    a, b = shingle_normal_form([trad, simp]).to_list()
    assert a == b
    assert a.startswith("自 1960 年 代 以 后")


def test_case_punctuation_and_whitespace_are_normalized():
    out = shingle_normal_form(["Hello,   WORLD!\n\tIt's 3.14", "hello world it s 3 14"]).to_list()
    assert out[0] == out[1] == "hello world it s 3 14"
    assert shingle_normal_form(["Price 42"], ShingleConfig(digits_to_zero=True)).to_list() == ["price 00"]


def test_cjk_runs_give_char_ngrams_and_word_runs_word_ngrams():
    norm = shingle_normal_form(["小猫吃了鱼 the cat ate the fish 好"]).to_list()[0]
    sh = shingle_strings(norm, ShingleConfig(n_cjk=2, n_word=3))
    assert sh == ["小 猫", "猫 吃", "吃 了", "了 鱼", "the cat ate", "cat ate the", "ate the fish", "好"]


def test_code_mode_keeps_case_and_operators():
    norm = shingle_normal_form(["def f(x): return x+1"], ShingleConfig(mode="code")).to_list()[0]
    assert norm == "def f ( x ) : return x + 1"
    assert shingle_normal_form(["def f(x): return x+1"]).to_list()[0] == "def f x return x 1"


def test_vectorized_hashes_match_reference_on_real_text():
    texts = _texts("neardup_clusters.jsonl", 80) + _texts("code_pos.jsonl", 5) + ["", "  ", "a", "中"]
    for cfg in (ShingleConfig(), ShingleConfig(mode="code", n_word=5)):
        norm = shingle_normal_form(texts, cfg)
        hashes, offsets = shingle_hashes(norm, cfg)
        assert len(offsets) == len(texts) + 1
        for i, t in enumerate(norm.to_list()):
            ref = [span_hash64(s.encode()) for s in shingle_strings(t, cfg)]
            assert hashes[offsets[i] : offsets[i + 1]].tolist() == ref


def test_empty_documents_have_no_shingles():
    hashes, offsets = shingle_hashes(shingle_normal_form(["", "!!!", "ok"]))
    assert np.diff(offsets).tolist() == [0, 0, 1]


def test_compiled_path_equals_reference_on_real_text():
    import polars as pl

    from filters.dedup.sketch.shingles import fast_shingle_hashes

    texts = []
    for name in ("math_pos_en.jsonl", "math_pos_zh.jsonl", "code_pos.jsonl", "langid.jsonl", "neardup_clusters.jsonl"):
        texts += _texts(name, 150)
    texts += ["", "  ", "a_b c_d", "x\u3099y ・ー", "①②〇 ５６ ٣", "\x1c\x1dz", "Ünïcödé ΣΑΣ"]
    # Traditional characters the kernel folds, including 3-byte ones that become 4-byte
    # ones (\u346e -> U+2B748) and back (U+205E3 -> \u34c6), inside words and alone
    texts += ["自1960年代以後塞維亞實力每況愈下", "\u346e\u3493\u34c4 x\u346ey \U000205e3\U000217b5 \U00021839", "體a體"]
    for cfg in (ShingleConfig(), ShingleConfig(mode="code", digits_to_zero=True), ShingleConfig(n_cjk=3, n_word=1, lowercase=False),
                ShingleConfig(traditional_to_simplified=False)):
        norm, norm_off, hashes, offsets = fast_shingle_hashes(pl.Series(texts), cfg)
        ref = shingle_normal_form(texts, cfg)
        got = [bytes(norm[norm_off[i] : norm_off[i + 1]]).decode() for i in range(len(texts))]
        assert got == ref.to_list()
        ref_h, ref_off = shingle_hashes(ref, cfg)
        assert np.array_equal(offsets, ref_off) and np.array_equal(hashes, ref_h)


def test_char_classes_skip_only_unassigned_planes():
    """The planes char_classes leaves to class 4 hold nothing: the full scan agrees."""
    import numpy as np

    from filters.dedup.sketch.shingles import char_classes

    assert np.array_equal(char_classes(), char_classes.__wrapped__(None))


def _fast_normal_form(texts, cfg):
    import polars as pl

    from filters.dedup.sketch.shingles import fast_shingle_hashes

    norm, norm_off, _, _ = fast_shingle_hashes(pl.Series(texts, dtype=pl.String) if isinstance(texts, list) else texts, cfg)
    return [bytes(norm[norm_off[i] : norm_off[i + 1]]).decode() for i in range(len(norm_off) - 1)]


def test_compiled_lower_case_equals_polars_for_every_character():
    """The kernel lower-cases through a code point map taken from polars; every character
    below ``CASED_BELOW``, alone, inside words and next to its neighbours, normalizes as
    the reference's ``str.to_lowercase`` does, and so do the two it leaves to polars:
    capital sigma (final or not) and U+0130, which lower-cases to two characters."""
    from filters.dedup.sketch.shingles import CASED_BELOW

    import unicodedata

    # characters this Python's Unicode assigns: the class table (char_classes) comes from
    # it, while polars' regexes know newer letters too (a separate difference)
    every = [chr(cp) for cp in range(CASED_BELOW) if not 0xD800 <= cp < 0xE000 and unicodedata.category(chr(cp)) != "Cn"]
    texts = [" ".join(every), "".join(every), "a".join(every[::7]), "x" + "Y".join(every[1::5]) + "z"]
    texts += ["ΣΑΣ ΟΔΥΣΣΕΥΣ Σ aΣ Σa", "İstanbul DİYARBAKIR İ", "no capital sigma", "ΚΑΛΗΜΕΡΑ, ΚΟΣΜΕ", "Kelvin \u212a", ""]
    for cfg in (ShingleConfig(), ShingleConfig(mode="code"), ShingleConfig(traditional_to_simplified=False),
                ShingleConfig(lowercase=False)):
        assert _fast_normal_form(texts, cfg) == shingle_normal_form(texts, cfg).to_list()


def test_lower_case_map_is_polars_not_this_python():
    import polars as pl

    from filters.dedup.sketch.shingles import CONTEXT_LOWER, lower_fold

    fold = lower_fold()
    for ch in ("\u1c89", "\ua7cb", "\U00010d50", "A", "Ä", "\u212a"):
        assert chr(fold[ord(ch)]) == pl.Series([ch]).str.to_lowercase()[0]
    assert fold[ord("Σ")] == fold[0x130] == CONTEXT_LOWER
    assert fold[ord("a")] == ord("a") and fold[ord("中")] == ord("中")


def test_arrow_input_sliced_or_with_nulls_normalizes_as_the_reference():
    import pyarrow as pa

    texts = ["skip me", "Hello World", None, "ΣΟΦΙΑ 體育", "İyi"]
    for arr in (pa.array(texts, pa.large_string()).slice(1), pa.array(texts, pa.string()).slice(1),
                pa.chunked_array([pa.array(texts[:3]), pa.array(texts[3:])])):
        want = shingle_normal_form([t or "" for t in arr.to_pylist()]).to_list()
        assert _fast_normal_form(arr, ShingleConfig()) == want


def test_selected_rows_are_the_rows_taken():
    """``rows`` reads a selection in place: the same bytes and hashes as the selected
    texts taken out first, in the order given (a flagged text, U+0130, among them)."""
    import pyarrow as pa

    from filters.dedup.sketch.shingles import fast_shingle_hashes

    texts = _texts("langid.jsonl", 60) + ["İstanbul ΣΑΣ", "", "体育 體育"] + _texts("code_pos.jsonl", 20)
    arrow = pa.chunked_array([pa.array(texts[:40]), pa.array(texts[40:])])
    rng = np.random.default_rng(3)
    for rows in (np.arange(len(texts)), np.sort(rng.choice(len(texts), 30, replace=False)), np.array([61, 2, 61, 0]),
                 np.array([], np.int64)):
        got = fast_shingle_hashes(arrow, ShingleConfig(), rows=rows)
        want = fast_shingle_hashes(pa.array([texts[i] for i in rows], pa.string()), ShingleConfig())
        for g, w in zip(got, want):
            assert np.array_equal(g, w)
