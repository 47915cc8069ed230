import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from tests.filters.signals.polars_reference import duplicate_fracs, line_signals, text_signals, whitespace_words, word_signals


def test_duplicate_lines_and_paragraphs_count_repeats_of_earlier_items():
    texts = pl.Series(["a b c a b c a b c\nline\nline\n\npara\n\npara", "", "one\ntwo"])
    lines = duplicate_fracs(texts, "line")
    assert line_signals(texts, pl.Series([False] * 3))["quality_dup_line_frac"].to_list() == pytest.approx([0.4, 0.0, 0.0])
    # nonblank lines: "a b c...", line, line, para, para -> 2 repeats of 5
    assert lines["quality_dup_line_frac"].to_list() == pytest.approx([0.4, 0.0, 0.0])
    assert lines["quality_dup_line_char_frac"][0] == pytest.approx((4 + 4) / (17 + 4 * 4))
    paras = duplicate_fracs(texts, "para")
    assert paras["quality_dup_para_frac"].to_list() == pytest.approx([1 / 3, 0.0, 0.0])


def test_word_signals_top_ngrams_follow_gopher():
    texts = pl.Series(["a b c a b c a b c line line para para", "", "单 词"])
    sig = word_signals(whitespace_words(texts))
    assert sig["quality_word_count"].to_list() == [13, 0, 2]
    # "a b" occurs 3 times and covers 6 of 25 word characters; "a b c" 9 of 25
    assert sig["quality_top_2gram_frac"][0] == pytest.approx(6 / 25)
    assert sig["quality_top_3gram_frac"][0] == pytest.approx(9 / 25)
    assert sig["quality_top_2gram_frac"][2] == 0.0  # nothing repeats
    assert sig["quality_alpha_word_frac"].to_list() == pytest.approx([1.0, 0.0, 1.0])


def test_line_signals():
    text = "• one\n• two...\n\nA full sentence.\nlorem ipsum here\n  • one  "
    df = line_signals(pl.Series([text, ""]), pl.Series([False, False]))
    row = df.row(0, named=True)
    assert row["quality_bullet_lines_frac"] == pytest.approx(3 / 5)
    assert row["quality_ellipsis_lines_frac"] == pytest.approx(1 / 5)
    assert row["quality_terminal_punct_frac"] == pytest.approx(2 / 5)
    assert row["quality_short_line_frac"] == pytest.approx(1.0)
    assert row["quality_dup_line_frac"] == pytest.approx(1 / 5)  # "• one" again, once stripped
    assert df.row(1, named=True)["quality_bullet_lines_frac"] == 0.0
    whole = pl.DataFrame({"text": [text]}).select(text_signals(pl.col("text"))).row(0, named=True)
    assert whole["quality_lorem_ipsum"] is True and whole["_symbols"] == 1


def test_short_lines_are_shorter_for_cjk():
    text = "这是一个十几个字的中文句子。\nshort english line here"
    df = line_signals(pl.Series([text, text]), pl.Series([True, False]))
    assert df["quality_short_line_frac"].to_list() == pytest.approx([0.0, 1.0])


def test_compiled_top_ngrams_equal_the_polars_path():
    texts = pl.Series(["a b c a b c a b c line line para para", "", "x", "one two one two three one two three",
                       "重复 的 词 重复 的 词 重复", "w " * 300 + "v w " * 50, "p q r s p q r s t"])
    words = whitespace_words(texts)
    assert word_signals(words).equals(word_signals(words, compiled=False))
    one = word_signals(whitespace_words(pl.Series(["a b a b"])))
    assert one["quality_top_2gram_frac"][0] == pytest.approx(4 / 4)  # "a b" twice covers all 4 characters


def _dev_texts() -> list[str]:
    import json
    from pathlib import Path

    texts = []
    for path in sorted((Path(__file__).resolve().parents[2] / "data" / "dev").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                row = json.loads(line)
                texts += [row[k] for k in ("text", "a", "b") if isinstance(row.get(k), str)]
    return texts


def test_text_word_signals_equal_word_signals_on_the_dev_sets():
    import pyarrow as pa

    from filters.signals.general import text_word_signals
    from filters.signals.word_kernel import SEP
    from filters.signals.zh import JiebaWords

    texts = _dev_texts() + ["", "  \u3000 ", "x\u2003y\u0085z\u00a0w\u180e", "ſ K ½ 𝐱 𠀀 ..."]
    series = pl.Series(texts)
    # whitespace words
    got = text_word_signals(pa.array(texts, pa.large_string()))
    assert got.equals(word_signals(whitespace_words(series)))
    # jieba's tokens, punctuation and whitespace tokens left out (the heuristics' Chinese words)
    jieba = JiebaWords()
    tokens = pl.Series("w", jieba.words(texts), dtype=pl.List(pl.String))
    tokens = tokens.list.eval(pl.element().filter(pl.element().str.contains(r"[\pL\pN]")))
    joined = pa.array(jieba.joined(texts, SEP), pa.large_string())
    assert text_word_signals(joined, np.ones(len(texts), bool)).equals(word_signals(tokens))


def test_mixed_word_signals_equal_the_mixed_array():
    """Rows read from jieba's joined tokens, the others from the texts in place: the frame of
    the array that mixes them, without building it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from filters.signals.general import mixed_word_signals, text_word_signals
    from filters.signals.word_kernel import SEP
    from filters.signals.zh import JiebaWords

    texts = pa.array(_dev_texts()[:400] + ["", None, "数学 题目 x = 3"], pa.large_string())
    rng = np.random.default_rng(3)
    for share in (0.0, 0.3, 1.0):
        mask = rng.random(len(texts)) < share
        rows = np.flatnonzero(mask)
        joined = pa.array(JiebaWords().joined(texts.take(pa.array(rows)).fill_null("").to_pylist(), SEP), pa.large_string())
        mixed = pc.replace_with_mask(texts.fill_null(""), pa.array(mask), joined)
        expected = text_word_signals(mixed, mask)
        assert mixed_word_signals(texts, rows, joined).equals(expected)
        assert mixed_word_signals(texts.slice(0), rows, pa.chunked_array([joined])).equals(expected)


def test_char_flags_hold_nothing_past_plane_3():
    from filters.signals.general import char_flags

    full = char_flags.__wrapped__(0x110000)
    assert not full[0x40000:].any()
    assert np.array_equal(full, char_flags())


TRICKY_LINES = [
    "", "\n", "\n\n\n", "a\n", "...\n....\n.......", "#...…##", "1, 2, 3\n4 5 6\n\n",
    "A" * 130 + "+/" + "b" * 10 + "\n" + "C" * 119, "The THE tHe théthe the_ the1 that, have with be to of and",
    "\u3000 • bullet\n ● two  \n\u2003item…  \n。。。\nend.)", "Cookie ſ and \u212aavascript? JAVASCRIPT; Terms Of Use\nICP备",
    "p1\n\n p2 \n \t\n\u3000\np1\n\n\np2\x00p1\x00\x00", "x\r\ny\r\n\r\n", "\n".join(str(i) for i in range(30)),
    "line\n" * 12 + "// Code generated by x. DO NOT EDIT.", "a\u2028b\u0085c \x0b d", "lorem ipsum {x}",
]


@pytest.mark.parametrize("batch", [1000, 97])
def test_text_line_signals_equal_the_regex_reference_on_the_dev_sets(batch):
    from tests.filters.signals.polars_reference import code_signals
    from filters.signals.general import text_line_signals
    from filters.signals.script_detect import char_stats

    texts = pl.Series("text", _dev_texts() + TRICKY_LINES + [None]).fill_null("")
    cjk = char_stats(texts.to_arrow()).han_share >= 0.5
    for start in range(0, len(texts), batch):
        part, part_cjk = texts.slice(start, batch), cjk[start:start + batch]
        want = pl.DataFrame({"text": part}).with_columns(*text_signals(pl.col("text")), *code_signals(pl.col("text")))
        want = pl.concat([want, line_signals(part, pl.Series(part_cjk)), duplicate_fracs(part, "para")], how="horizontal")
        got = text_line_signals(part, part_cjk)
        for name in got.columns:
            assert got[name].equals(want[name]), name
        with_nulls = pa.array([None if t == "" else t for t in part.to_list()], pa.large_string())
        assert text_line_signals(part, part_cjk, arrow=with_nulls).equals(got)  # the Arrow texts, read in place


def test_line_signal_constants_spell_the_regexes():
    from filters.signals import general as g
    from filters.signals.code import DATA_LINE

    assert g.BOILERPLATE.lower() == "(?i)" + "|".join(g.BOILERPLATE_PHRASES)  # the kernel folds case
    assert g.STOPWORDS_EN == r"(?i-u)\b(?:" + "|".join(g.STOPWORDS) + r")\b"
    assert all(pl.Series([c]).str.contains(g.BULLET_START).item() for c in g.BULLET_CHARS)
    assert all(pl.Series(["x" + c]).str.contains(g.TERMINAL_END).item() for c in g.TERMINAL_CHARS)
    assert pl.Series([g.DATA_CHARS]).str.contains(DATA_LINE).item()


def test_line_hash_tells_apart_lines_that_differ_in_far_apart_bytes():
    """Two line pairs of real crawl text that a multiply-only 8-byte hash step confused
    (a multiply carries differences only upward; a later word's XOR cancelled them)."""
    from filters.signals.general import text_line_signals

    pairs = [("Value *L = const_cast<Value *>(LHS);", "Value *R = const_cast<Value *>(RHS);"),
             ("Read address 0x7fd30106c00f in main(): A", "Read address 0x7fd30106e00f in main(): C")]
    texts = ["\n".join(pair) for pair in pairs] + ["\n".join([*pairs[0], pairs[0][1]])]
    frac = text_line_signals(pl.Series(texts), np.zeros(len(texts), bool))["quality_dup_line_frac"].to_list()
    assert frac[:2] == [0.0, 0.0] and frac[2] == 1 / 3


def test_stop_words_are_counted_as_the_regex_counts_them():
    """The line kernel packs each ASCII word into a 64-bit key and looks it up: case, word
    characters around a stop word (digits, underscore), non-ASCII neighbours, words longer
    than the key holds and line ends all as ``STOPWORDS_EN`` reads them."""
    import numpy as np

    from filters.signals.general import STOPWORDS_EN, text_line_signals

    texts = ["The THE tHe the", "theatre bathe other 9the the9 _the the_", "the\u00e9 \u00e9the caf\u00e9 the",
             "withwithwithwith with-with and/that have,be to.of", "a\nthe\nTo\n\nbe", "xxxxxxxxxxxxxxxxthe the",
             "thethethe", "", "\u4e2d\u6587the\u4e2d", "HAVE\tWITH\u3000and"]
    got = text_line_signals(pl.Series(texts), np.zeros(len(texts), bool))["quality_stopwords_en"].to_list()
    want = pl.Series(texts).str.count_matches(STOPWORDS_EN).to_list()
    assert got == want
    assert got[0] == 4 and got[1] == 0 and got[3] == 8


def test_paragraphs_split_as_the_regex_splits_them():
    """The line kernel finds paragraphs from its lines (a separator ``\\n[ \\t]*\\n\\s*`` starts
    at the newline before a line of spaces and tabs only), and byte by byte in a text with a
    ``\\x00``: both as the reference's regex split, on separators of every shape."""
    import numpy as np

    from tests.filters.signals.polars_reference import duplicate_fracs
    from filters.signals.general import text_line_signals

    texts = ["A\n\nB\n\nA", "A\n \t \nB\n\nA", "A\n\u3000\nB\n\u3000\nA", "A\n\u3000\n\nA\n\u3000", "\n\nA\n\nA",
             "A\n\n\n\n  A  \n\n", "x\x00x\x00y", "A\n\nB\x00A", "  \nA\n\nA", "A\r\n\r\nA\n\nA\r\n\r\nA",
             "\u7532\u4e59\n\n\u7532\u4e59\n\n\u4e19", "", "\n", "\n\n", " \n \n", "A\n\n\u3000\u3000A\n \nA",
             "A\n  \nB\n  \n\n  \nB", "A\n\t\n\tA\n", "A \n \nA", "A\n \nA\n \n", "one\ntwo\n\none\ntwo\n\nthree"]
    got = text_line_signals(pl.Series(texts), np.zeros(len(texts), bool))
    want = duplicate_fracs(pl.Series(texts), "para")
    for column in ("quality_dup_para_frac", "quality_dup_para_char_frac"):
        assert got[column].to_list() == pytest.approx(want[column].to_list()), column
    assert got["quality_dup_para_frac"][0] == pytest.approx(1 / 3) and got["quality_dup_para_frac"][2] == 0.0
