"""The compiled segmenter against jieba itself (0.42, precise mode, no HMM)."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from filters.signals import jieba_kernel as jk
from filters.signals.zh import JiebaWords, _tokenizer

ROOT = Path(__file__).resolve().parents[3]
DEV_DIRS = [ROOT / "tests" / "data" / "dev", ROOT.parent / "shared" / "data" / "dev" / "web",
            Path("/work/shared/data/dev/web")]


def _dev_texts() -> list[str]:
    texts, seen = [], set()
    for d in DEV_DIRS:
        if not d.is_dir() or d.resolve() in seen:
            continue
        seen.add(d.resolve())
        for path in sorted(d.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines: U+2028 is text
                if not line.strip():
                    continue
                row = json.loads(line)
                for key in ("text", "a", "b"):
                    if isinstance(row.get(key), str):
                        texts.append(row[key])
    return texts


def _jieba_joined(tok, texts: list[str]) -> list[str]:
    return ["\x00".join(tok.lcut(t, HMM=False)) for t in texts]


def test_tokens_equal_jiebas_on_the_dev_sets():
    texts = _dev_texts()
    assert sum(any("\u4e00" <= c <= "\u9fff" for c in t) for t in texts) > 500  # real Chinese in there
    got = JiebaWords().joined(texts).to_pylist()
    want = _jieba_joined(_tokenizer(), texts)
    diffs = [t[:80] for t, a, b in zip(texts, got, want) if a != b]
    assert not diffs, f"{len(diffs)} texts segment differently, e.g. {diffs[:3]}"


def test_tokens_equal_jiebas_on_generated_text():
    """Every boundary the cut has: the block class's edges (U+4DFF/U+4E00, U+9FD5/U+9FD6,
    ``+#&._%-``), ``\\r\\n`` against lone ``\\r``/``\\n``, runs of single ASCII letters
    joining, non-BMP characters, dictionary words broken up and glued together."""
    tok = _tokenizer()
    rng = random.Random(7)
    words = [w for w, f in tok.FREQ.items() if f > 0 and len(w) > 1]
    mixed = [w for w in words if any(not "\u4e00" <= c <= "\u9fd5" for c in w)]  # AT&T, C++, T恤, ...
    pieces = [*rng.sample(words, 3000), *mixed, *"的了是在我有和人这中大为上个国他们不到说年时就要出生",
              "\u4dff", "\u4e00", "\u9fd5", "\u9fd6", "\u9fff", "𠀀", "𡈽", "a", "Z", "7", "x", "+", "#", "&", ".", "_",
              "%", "-", " ", "\t", "\r", "\n", "\r\n", "\r\r\n", "\u3000", "\u00a0", "，", "。", "：", "é", "\u0301",
              "ab", "C++", "3.14", "2024年", "iPhone", "Python3"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    got = JiebaWords().joined(texts).to_pylist()
    want = _jieba_joined(tok, texts)
    diffs = [t for t, a, b in zip(texts, got, want) if a != b]
    assert not diffs, f"{len(diffs)} texts segment differently, e.g. {diffs[:3]!r}"
    assert JiebaWords().words(texts[:300]) == [[w for w in tok.lcut(t, HMM=False) if not w.isspace()] for t in texts[:300]]


def test_dictionary_equals_jiebas_prefix_dictionary():
    tok = _tokenizer()
    d = jk.load_dictionary()
    assert len(d.node_freq) == len(tok.FREQ) + 1  # + the root
    assert sorted(d.node_freq[1:].tolist()) == sorted(tok.FREQ.values())
    assert d.neg_log_total == 0.0 - np.log(float(tok.total))


def test_ties_go_to_the_longer_word_as_in_jieba(tmp_path):
    """甲乙|丙 and 甲|乙丙 have exactly the same log-probability here: jieba's ``max`` over
    (logprob, end) tuples takes the longer first word."""
    import jieba

    path = tmp_path / "dict.txt"
    path.write_text("甲 1 n\n乙 1 n\n丙 1 n\n甲乙 1 n\n乙丙 1 n\n丁 3 n\n丁 2 n\ne-mail 9 n\n5%_x.y 9 n\n", encoding="utf-8")
    tok = jieba.Tokenizer(dictionary=str(path))
    tok.tmp_dir = str(tmp_path)
    d = jk.load_dictionary(str(path))
    texts = ["甲乙丙", "丙甲乙丙乙", "丁甲", "甲乙丙丁戊", "e-mail甲", "ae-mail", "5%_x.y丙", "5%_x.z"]
    data = np.frombuffer("".join(texts).encode(), np.uint8)
    offsets = np.cumsum([0] + [len(t.encode()) for t in texts])
    out, out_offsets = d.joined(data, offsets, ord("|"))
    got = [bytes(out[a:b]).decode() for a, b in zip(out_offsets[:-1], out_offsets[1:])]
    assert got == ["|".join(tok.lcut(t, HMM=False)) for t in texts]
    assert got[0] == "甲乙|丙"
    assert d.node_freq[d.root_children[ord("丁")]] == 2  # a repeated word takes the later frequency...
    assert d.neg_log_total == 0.0 - np.log(28.0)  # ...and both count in the total, as gen_pfdict does
    assert got[4] == "e-mail|甲" and got[6] == "5%_x.y|丙"  # "-", "%", "_", "." join words inside a block


def test_a_malformed_dictionary_line_is_named(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("甲 1 n\n乙\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at line 2"):
        jk.load_dictionary(str(path))
    path.write_text("甲 1 n\n乙 x n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at line 2"):
        jk.load_dictionary(str(path))
