"""The one tokenization shared by classifier training and inference."""

from __future__ import annotations

import inspect
import json

import filters.classify.stage as classify
import filters.classify.train as train_classifier
from filters.classify.tokens import INDENT, LONG_NUMBER, NEWLINE, classifier_tokens, tokenize_many


def _rows(dev_data, name):
    return [json.loads(line) for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")]


def test_chinese_is_one_token_per_character(dev_data):
    text = _rows(dev_data, "math_pos_zh")[0]["text"]  # 芳芳买了一本书有99页，看了90页，...
    tokens = classifier_tokens(text).split(" ")
    assert tokens[:4] == ["芳", "芳", "买", "了"] and "99" in tokens and "，" in tokens
    assert "".join(tokens) == text  # only spaces are inserted
    assert classifier_tokens("第12345678页") == f"第 {LONG_NUMBER} 页"


def test_latin_is_lowercased_and_symbols_are_tokens():
    out = classifier_tokens("Solve $X^2 = \\frac{A}{B}$ now.\n    return a->b;  id 1234567")
    assert out.split() == ["solve", "$", "x", "^", "2", "=", "\\frac", "{", "a", "}", "{", "b", "}", "$", "now",
                              ".", NEWLINE, INDENT, "return", "a", "-", ">", "b", ";", "id", LONG_NUMBER]


def test_mixed_script_words_split_at_han_boundary():
    assert classifier_tokens("abc中文def") == "abc 中 文 def"


def test_output_is_one_fasttext_line():
    out = classifier_tokens("line one\r\n\n\nline two\t\x0bend")
    assert "\n" not in out and "\r" not in out and "\x0b" not in out
    assert out.split().count(NEWLINE) == 1


def test_words_digits_and_markers():
    # letters and digits are separate runs; a TeX word keeps its letters; A-Z never survive
    # lowercasing, so the line markers cannot collide with a word
    assert classifier_tokens("x2 2x \\eta_t 3.14 N I").split() == ["x", "2", "2", "x", "\\eta_t", "3", ".", "14",
                                                                     "n", "i"]
    assert classifier_tokens("a\n\tb\n\n  c").split() == ["a", NEWLINE, INDENT, "b", NEWLINE, INDENT, "c"]
    # unicode spaces become spaces (fastText splits on ASCII whitespace only); emoji stay whole
    assert classifier_tokens("价格\u3000100元 \U0001F600ok").split() == ["价", "格", "100", "元", "\U0001F600", "ok"]
    assert classifier_tokens("") == ""


def test_batch_equals_one_by_one():
    texts = ["第一行\n    缩进 x=1;", "", "abc\ufdd3def", "12345 and 1234", "$\\sum_{i=1}^n i$"] * 3
    assert tokenize_many(texts) == [classifier_tokens(t) for t in texts]
    assert classifier_tokens("abc\ufdd3def") == "abcdef"


def test_train_and_inference_call_the_same_function(dev_data):
    """Training lines and the stage's predict input come from the same tokenizer object."""
    assert train_classifier.tokenize_many is tokenize_many
    assert classify.tokenize_many is tokenize_many
    texts = [r["text"] for r in _rows(dev_data, "math_pos_zh")[:20] + _rows(dev_data, "neg_zh")[:20]]
    lines = train_classifier.prepare_lines(
        [train_classifier.LabeledText(t, i < 20, "g") for i, t in enumerate(texts)], "math",
        train_classifier.TrainParams(balance=False))
    trained_on = sorted(line.split(" ", 1)[1].rstrip("\n") for line in lines)
    assert trained_on == sorted(classify_input(texts))
    assert "tokenize_many" in inspect.getsource(classify.ClassifyStage.raw_scores)


def classify_input(texts):
    pieces, _ = classify.document_pieces(texts, "chunks", 2000, 8)
    return tokenize_many(pieces)
