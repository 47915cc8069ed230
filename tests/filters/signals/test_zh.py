"""rjieba (jieba-rs) is used for word segmentation only where its tokens equal jieba's."""

import json
from pathlib import Path

import pytest

from filters.signals.zh import JiebaWords, _tokenizer, segmenter

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


def test_rjieba_tokens_equal_jieba_on_the_dev_sets():
    pytest.importorskip("rjieba")
    texts = _dev_texts()
    assert sum(any("\u4e00" <= c <= "\u9fff" for c in t) for t in texts) > 500  # real Chinese in there
    fast = segmenter(hmm=False, backend="rjieba")
    tok = _tokenizer()
    diffs = [t[:80] for t in texts if fast(t) != tok.lcut(t, HMM=False)]
    assert not diffs, f"{len(diffs)} texts segment differently, e.g. {diffs[:3]}"


def test_backends_agree_and_hmm_stays_on_jieba():
    texts = ["我们在北京大学学习数学和编程。", "Python 3.11 的 列表推导式：[x*x for x in range(10)]", "  \n", ""]
    reference = JiebaWords(backend="jieba").words(texts)
    assert reference[0] == ["我们", "在", "北京大学", "学习", "数学", "和", "编程", "。"]
    assert JiebaWords().words(texts) == reference  # auto: rjieba when installed
    assert reference[2] == [] and reference[3] == []
    hmm = JiebaWords(hmm=True).words(texts)  # HMM: jieba's own (jieba-rs splits unknown words differently)
    assert hmm == JiebaWords(hmm=True, backend="jieba").words(texts)
    with pytest.raises(ValueError):
        segmenter(hmm=True, backend="rjieba")
