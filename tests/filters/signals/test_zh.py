"""Chinese word segmentation: the stage's segmenter gives jieba's tokens; HMM stays on jieba."""

import pyarrow as pa
import pytest

from filters.signals.zh import JiebaWords, segmenter


def test_backends_agree_and_hmm_stays_on_jieba():
    texts = ["我们在北京大学学习数学和编程。", "Python 3.11 的 列表推导式：[x*x for x in range(10)]", "  \n", ""]
    reference = JiebaWords(backend="jieba").words(texts)
    assert reference[0] == ["我们", "在", "北京大学", "学习", "数学", "和", "编程", "。"]
    assert JiebaWords().words(texts) == reference  # auto: the compiled kernel
    assert JiebaWords(backend="compiled").words(texts) == reference
    assert reference[2] == [] and reference[3] == []
    hmm = JiebaWords(hmm=True).words(texts)  # HMM: jieba's own
    assert hmm == JiebaWords(hmm=True, backend="jieba").words(texts)
    with pytest.raises(ValueError, match="no HMM"):
        segmenter(hmm=True, backend="compiled")
    with pytest.raises(ValueError, match="unknown jieba backend"):
        segmenter(backend="rjieba")


def test_joined_is_the_same_from_every_backend_and_input_kind():
    texts = ["我们在北京大学学习数学和编程。", None, "Python 3.11 的 列表推导式", "", "a\r\nb 中文"]
    as_text = [t or "" for t in texts]
    want = ["\x00".join(JiebaWords(backend="jieba")._cut(t)) for t in as_text]
    compiled, library = JiebaWords(), JiebaWords(backend="jieba")
    for words in (compiled, library):
        assert words.joined(as_text).to_pylist() == want
        assert words.joined(pa.array(texts, pa.string())).to_pylist() == want
        assert words.joined(pa.chunked_array([pa.array(texts[:2]), pa.array(texts[2:])])).to_pylist() == want
        assert words.joined(pa.array(["pad", *texts], pa.large_string()).slice(1)).to_pylist() == want
        assert words.joined(as_text, "|").to_pylist() == ["|".join(w.split("\x00")) for w in want]
    with pytest.raises(ValueError, match="one ASCII character"):
        compiled.joined(as_text, "、")
