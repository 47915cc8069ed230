"""Segments settled by their script get the same label and score whatever fastText says."""

import numpy as np
import pyarrow as pa

from filters.langid.vote import label_segments, settled_by_script
from filters.signals.script_detect import char_stats


def test_settled_segments_do_not_depend_on_fasttext():
    samples = pa.array(["中文句子，没有别的字母。", "中文 and English", "日本語のテキスト", "한국어", "纯汉字",
                        "x", "", "中文 123 。", "漢字だけ"])
    stats = char_stats(samples)
    settled = settled_by_script(stats)
    assert settled.tolist() == [True, False, False, False, True, False, False, True, False]
    rng = np.random.default_rng(0)
    answers = ["__label__en", "__label__zh", "__label__ja", "__label__yue", "__label__und"]
    for _ in range(20):
        labels = list(rng.choice(answers, len(samples)))
        probs = rng.uniform(0, 1.0001, len(samples))
        got = label_segments(labels, probs, stats, {"yue": "zh"})
        assert (got.lang[settled] == "zh").all() and (got.score[settled] == 1.0).all()


def test_factorize_is_numpy_unique():
    import numpy as np

    from filters.langid.vote import _factorize

    rng = np.random.default_rng(7)
    for names in (["en"], ["zh", "en", "ja", "und", "yue", "de", "a", "zz", "é"], [f"l{i}" for i in range(300)]):
        values = np.array(rng.choice(names, 5000), dtype=object)
        got_names, got_codes = _factorize(values)
        want_names, want_codes = np.unique(values.astype(str), return_inverse=True)
        assert got_names.tolist() == want_names.tolist()
        assert (got_codes == want_codes).all()
