import json

import pyarrow as pa
import pytest

from filters.langid.stage import LangIdStage
from pipeline.config import build_stage
from pipeline.schema import drop_rows, make_batch


@pytest.fixture(scope="module")
def stage():
    s = LangIdStage()
    s.setup()
    return s


def _batch(texts):
    return make_batch(texts, ids=[str(i) for i in range(len(texts))], source="t")


def test_dev_accuracy_beats_the_goals(stage, dev_data):
    rows = [json.loads(x) for x in open(dev_data / "langid.jsonl", encoding="utf-8")]
    res, _ = stage.predict(pa.array([r["text"] for r in rows], pa.large_string()))
    got = res.lang.to_pylist()

    def acc(pred):
        sel = [i for i, r in enumerate(rows) if pred(r)]
        return sum(got[i] == rows[i]["label"] for i in sel) / len(sel)

    assert acc(lambda r: r["label"] == "zh" and r["kind"] == "sentence") >= 0.99
    assert acc(lambda r: r["label"] == "zh" and r["script"] == "Hant" and r["kind"] == "sentence") >= 0.99
    assert acc(lambda r: r["label"] == "en" and r["kind"] == "sentence") >= 0.99
    assert acc(lambda r: r["label"] == "zh" and r["kind"] == "word") >= 0.90
    assert acc(lambda r: r["label"] == "ja" and r["kind"] == "sentence") >= 0.97  # kana keeps Japanese Japanese


def test_columns_and_reasons(stage):
    texts = [
        "这是一个关于数据清洗的中文句子，我们用它来测试语言识别。",
        "This is an English sentence about cleaning data for training.",
        "Ceci est une phrase en français sur le nettoyage des données.",
        "",
    ]
    out = stage(_batch(texts))
    assert out["lang"].to_pylist()[:3] == ["zh", "en", "fr"]
    assert out["lang"].to_pylist()[3] is None
    assert out["drop_reason"].to_pylist() == [None, None, "langid:lang_fr", "langid:no_text"]
    assert out["zh_script"].to_pylist()[0] == "Hans" and out["zh_script"].to_pylist()[1] is None
    assert out["zh_frac"].to_pylist()[0] == pytest.approx(1.0) and out["en_frac"].to_pylist()[1] == pytest.approx(1.0)
    assert all(0 < s <= 1 for s in out["lang_score"].to_pylist()[:3])


def test_chinese_math_with_english_formulas_stays_zh(stage):
    text = "已知函数 $f(x) = \\sin x + \\cos x$，求 $f(x)$ 在区间 $[0, \\pi]$ 上的最大值。\n解：$f(x)=\\sqrt{2}\\sin(x+\\frac{\\pi}{4})$，所以最大值为 $\\sqrt{2}$。"
    out = stage(_batch([text]))
    assert out["lang"].to_pylist() == ["zh"] and out["drop_reason"].to_pylist() == [None]
    assert out["doc_kind"].to_pylist() == ["math"]


def test_bilingual_page_is_mixed_and_kept_with_fractions(stage):
    zh = "这是第一段中文内容，讲述了数据清洗流程中的语言识别步骤以及它为何重要。" * 3
    en = "This paragraph is written in English and explains the same data cleaning step in some detail." * 3
    text = "\n".join([zh, en] * 4)
    out = stage(_batch([text]))
    zh_frac, en_frac = out["zh_frac"][0].as_py(), out["en_frac"][0].as_py()
    assert zh_frac > 0.3 and en_frac > 0.3 and zh_frac + en_frac > 0.99
    assert out["lang_mixed"].to_pylist() == [True] and out["drop_reason"].to_pylist() == [None]
    dropped = build_stage("langid", {"mixed_policy": "drop"})(_batch([text]))
    assert dropped["drop_reason"].to_pylist() == ["langid:mixed"]


def test_code_takes_its_own_route(stage, dev_data):
    code = [json.loads(x)["text"] for x in open(dev_data / "code_pos.jsonl", encoding="utf-8")][:20]
    out = stage(_batch(code))
    assert out["drop_reason"].null_count == 20
    dropped = build_stage("langid", {"code_route": "drop"})(_batch(code))
    kinds = dropped["doc_kind"].to_pylist()
    assert [r for r, k in zip(dropped["drop_reason"].to_pylist(), kinds) if k == "code"] == ["langid:code"] * kinds.count("code")


def test_keep_languages_and_min_score_from_config():
    s = build_stage("langid", {"keep_languages": ["fr"], "min_score": 0.5})
    out = s(_batch(["Ceci est une phrase en français sur le nettoyage des données.", "This is English text."]))
    assert out["drop_reason"].to_pylist() == [None, "langid:lang_en"]
    strict = build_stage("langid", {"min_score": 0.999})
    assert strict(_batch(["ok fine"]))["drop_reason"].to_pylist() == ["langid:low_score"]


def test_already_dropped_rows_are_skipped_and_keep_their_reason(stage):
    batch = _batch(["Ceci est une phrase en français.", "这是中文。"])
    batch = drop_rows(batch, [True, False], "normalize:empty")
    out = stage(batch)
    assert out["drop_reason"].to_pylist() == ["normalize:empty", None]
    assert out["lang"].to_pylist() == [None, "zh"]


def test_formula_only_math_is_not_judged_by_language(stage):
    text = "Compute: $1-2+3-4+5- \\dots +99-100$.\n\n$(1-2)+(3-4)+ \\dots +(97-98)+(99-100) = 50(-1) = \\boxed{-50}.$"
    out = stage(_batch([text, "Ceci est une phrase en français sur le calcul de 2 + 2 = 4 et combien font 3 fois 5."]))
    assert out["doc_kind"].to_pylist()[0] == "math"
    assert out["drop_reason"].to_pylist() == [None, "langid:lang_fr"]  # prose math in French is still French


@pytest.mark.parametrize("name", ["math_pos_en", "math_pos_zh", "code_pos", "neg_zh"])
def test_dev_math_code_and_chinese_rows_pass_langid(stage, dev_data, name):
    texts = [json.loads(x)["text"] for x in open(dev_data / f"{name}.jsonl", encoding="utf-8")]
    out = stage(_batch(texts))
    assert out["drop_reason"].null_count / len(texts) >= 0.98


@pytest.fixture(scope="module")
def library_stage():
    s = LangIdStage(predictor="fasttext")
    s.setup()
    return s


def test_sample_lines_are_what_fasttexts_predict_reads(library_stage, dev_data):
    """The bytes handed to fastText's batch predict are each sample's UTF-8 and a newline
    (what its ``predict`` makes of a ``str``), and its answers equal ``predict``'s."""
    from filters.langid.prose_view import prose_view, segment
    from filters.langid.stage import sample_lines

    rows = [json.loads(line) for name in ("langid.jsonl", "code_pos.jsonl", "math_pos_zh.jsonl")
            for line in (dev_data / name).read_text(encoding="utf-8").splitlines()[:100]]
    texts = pa.array([row["text"] for row in rows], pa.large_string())
    stage = library_stage
    sample = segment(prose_view(texts), stage.long_doc_bytes, stage.chunk_bytes).sample(stage.segment_chars)
    strings = sample.to_pylist()
    lines = sample_lines(sample)
    assert len(lines) > len(rows)  # long documents are cut into several segments
    assert lines == [(s + "\n").encode() for s in strings] and not any("\n" in s for s in strings)
    labels, probs = stage._model.f.multilinePredict(lines, 1, 0.0, "strict")
    want_labels, want_probs = stage._model.predict(strings, k=1)
    assert [list(x) for x in labels] == [list(x) for x in want_labels]
    assert [list(p) for p in probs] == [list(p) for p in want_probs]


def test_compiled_and_library_predictors_give_the_same_columns(stage, library_stage, dev_data):
    """The default compiled predictor and fastText itself decide every document alike, on
    the dev sets (scores to the bit: the kernel computes fastText's sums in fastText's order)."""
    texts = []
    for name in ("langid.jsonl", "code_pos.jsonl", "math_pos_zh.jsonl", "math_pos_en.jsonl", "neg_en.jsonl", "neg_zh.jsonl"):
        path = dev_data / name
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()[:300]]
    assert stage.predictor == "compiled" and stage._compiled is not None and len(texts) > 500
    got = stage(_batch(texts))
    want = library_stage(_batch(texts))
    for col in ("lang", "lang_score", "zh_frac", "en_frac", "zh_script", "lang_mixed", "doc_kind", "drop_reason"):
        assert got.column(col).to_pylist() == want.column(col).to_pylist(), col


def test_a_model_the_kernel_cannot_read_falls_back_to_the_library(tmp_path, caplog):
    """A quantized output matrix (quantize -qout) is not read by filters.fasttext_infer: the
    stage says so and predicts with fastText, answering as the library stage does."""
    from tests.filters.fasttext_infer.test_predictor import train_quantized_output_model

    model = train_quantized_output_model(tmp_path)
    texts = ["word3 shared", "这是中文句子", "word17 w2 shared and more words"]
    with caplog.at_level("WARNING", logger="filters.langid.stage"):
        fallback = LangIdStage(model_path=str(model), keep_languages=[])
        fallback.setup()
    assert fallback._compiled is None and "quantized output" in caplog.text
    library = LangIdStage(model_path=str(model), keep_languages=[], predictor="fasttext")
    assert fallback(_batch(texts)).column("lang").to_pylist() == library(_batch(texts)).column("lang").to_pylist()
