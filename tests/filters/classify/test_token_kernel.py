"""The compiled tokenizer against the NumPy one it replaced (``tokens_reference.py``)."""

from __future__ import annotations

import json
import random

import pyarrow as pa

from filters.classify.tokens import _SEPARATOR, _tokenize_joined, tokenize_many
from tests.filters.classify.tokens_reference import tokenize_joined_reference

# every branch of the rules: line-break runs (with and without \n, with indentation after),
# TeX words, digit runs around five, Han, surrogates (paired, lone, out of order), Unicode
# spaces, characters whose lowercase is ASCII (K, KELVIN SIGN) or two units (İ), the separator
ALPHABET = (list("ab Z\n\n\r\t\v\f\\\\x1234567890 {};=$^_.")
            + ["\u3000", "\u00a0", "中", "文", "\u3007", "\U00020000", "\U0001F600", "\ud800", "\udc00", "\ufdd3",
               "K", "\u212a", "\u0130", "ß", "\x85", "\u2028", "\u0661", "²", "\x1c", "Σ"])


def test_random_text_matches_reference():
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 48)))
        assert _tokenize_joined(text) == tokenize_joined_reference(text), repr(text)


def test_dev_sets_match_reference(dev_data):
    texts = [json.loads(line)["text"] for path in sorted(dev_data.glob("*.jsonl"))
             for line in path.open(encoding="utf-8")]
    texts = [t for t in texts if isinstance(t, str)]
    assert len(texts) > 100
    expected = tokenize_joined_reference(_SEPARATOR.join(texts)).split(_SEPARATOR)
    assert tokenize_many(texts) == expected


def test_encoded_lines_are_the_utf8_fasttext_reads(dev_data):
    rng = random.Random(11)
    texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 48))) for _ in range(5000)]
    texts += [json.loads(line)["text"] for line in (dev_data / "math_pos_zh.jsonl").open(encoding="utf-8")]
    texts += ["", ""]
    lines = tokenize_many(texts)
    assert tokenize_many(texts, encoded=True) == [line.encode("utf-8") + b"\n" for line in lines]
    assert tokenize_many([], encoded=True) == []


def test_binary_lines_are_the_encoded_lines(dev_data):
    from filters.classify.tokens import tokenize_many_binary

    texts = [json.loads(line)["text"] for name in ("math_pos_zh", "code_pos", "neg_en")
             for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")]
    texts += ["", "\ufdd3 separator inside", "a\ud800lone surrogate", "x" * 5_000_000]  # the last one: a batch of its own
    got = tokenize_many_binary(texts)
    assert got.type == pa.large_binary() and got.to_pylist() == tokenize_many(texts, encoded=True)
    assert tokenize_many_binary([]).to_pylist() == []


def test_encoded_lines_score_as_str_lines(dev_data):
    from filters.classify.stage import ClassifyStage, positive_probability

    stage = ClassifyStage(predictor="fasttext")
    stage.setup()
    texts = [json.loads(line)["text"] for name in ("math_pos_zh", "neg_zh")
             for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")]
    for model, label in zip(stage._models, ("math", "code")):
        as_str = positive_probability(model, tokenize_many(texts), label)
        as_bytes = positive_probability(model, tokenize_many(texts, encoded=True), label)
        assert as_str.tobytes() == as_bytes.tobytes()
