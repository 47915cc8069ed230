"""The ``classify`` stage with the shipped models, on real held-out rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from filters.classify.data import is_holdout
from filters.classify.stage import (DEFAULT_CODE_MODEL, DEFAULT_MATH_MODEL, ClassifyStage, assign_domain,
                                    document_pieces, max_per_document, sampled_crop, share_per_document)
from pipeline.config import ConfigError, build_stage
from pipeline.schema import drop_rows, make_batch

HOLDOUT = 0.3  # the split benchmarks/build_classifier_models.py held out: never trained on


def _heldout(dev_data, name, n):
    rows = [json.loads(line) for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")]
    return [r for r in rows if is_holdout(r["id"], HOLDOUT)][:n]


@pytest.fixture(scope="module")
def stage():
    s = ClassifyStage()
    s.setup()
    return s


@pytest.fixture(scope="module")
def rows(dev_data):
    out = {}
    for name, n in (("math_pos_en", 40), ("math_pos_zh", 30), ("code_pos", 20), ("neg_en", 30), ("neg_zh", 30)):
        out[name] = _heldout(dev_data, name, n)
    return out


def _batch(rows_by_name):
    texts, ids, kinds = [], [], []
    for name, rs in rows_by_name.items():
        texts += [r["text"] for r in rs]
        ids += [r["id"] for r in rs]
        kinds += [name] * len(rs)
    return make_batch(texts, ids=ids, source="tests/data/dev"), np.array(kinds)


def test_shipped_models_exist_with_cards():
    for path in (DEFAULT_MATH_MODEL, DEFAULT_CODE_MODEL):
        card = json.loads(Path(path).with_suffix(".json").read_text(encoding="utf-8"))
        assert card["size_bytes"] == Path(path).stat().st_size < 5_000_000
        knots = card["calibration"]
        assert knots["x"][0] == 0.0 and knots["x"][-1] == 1.0 and np.all(np.diff(knots["y"]) >= 0)
        assert 0.0 < card["recommended_threshold"] < 1.0 and len(card["rounds"]) >= 2
        assert all(s["license"] for s in card["sources"])
    stage = ClassifyStage()
    assert stage.math_threshold == json.loads(Path(DEFAULT_MATH_MODEL).with_suffix(".json").read_text())[
        "recommended_threshold"]


def test_math_code_and_prose_rows_get_their_domain(stage, rows):
    batch, kinds = _batch(rows)
    out = stage(batch)
    assert out.num_rows == batch.num_rows and out["id"].to_pylist() == batch["id"].to_pylist()
    assert out.schema.field("math_score").type == pa.float32()
    domain = np.array(out["domain"].to_pylist())
    reason = np.array(out["drop_reason"].to_pylist(), dtype=object)
    for name, want in (("math_pos_en", "math"), ("math_pos_zh", "math"), ("code_pos", "code"),
                       ("neg_en", "general"), ("neg_zh", "general")):
        share = np.mean(domain[kinds == name] == want)
        assert share >= 0.9, (name, share)
    math_s = np.array(out["math_score"].to_pylist())
    assert ((0 <= math_s) & (math_s <= 1)).all()
    # prose is dropped as classify:general by default; math and code rows are kept
    assert set(reason[domain == "general"]) == {"classify:general"}
    assert all(r is None for r in reason[domain != "general"])


def test_keep_general_keeps_prose_but_still_scores(rows):
    stage = ClassifyStage(keep_domains=["math", "code", "general"])
    batch, _ = _batch({"neg_en": rows["neg_en"][:10]})
    out = stage(batch)  # setup() is called lazily
    assert out["drop_reason"].null_count == 10
    assert out["math_score"].null_count == 0 and set(out["domain"].to_pylist()) <= {"general", "math", "code"}


def test_only_active_rows_are_scored(stage, rows):
    batch, _ = _batch({"math_pos_en": rows["math_pos_en"][:6]})
    batch = drop_rows(batch, np.array([True, False, True, False, False, False]), "langid:ja")
    out = stage(batch)
    assert out["drop_reason"].to_pylist()[:3] == ["langid:ja", None, "langid:ja"]
    assert out["math_score"].to_pylist()[0] is None and out["domain"].to_pylist()[2] is None
    assert out["domain"].to_pylist()[1] == "math"


def test_long_documents_chunks_find_code_that_the_head_misses_and_share_weighs_it(rows, dev_data):
    """``chunks`` (max over pieces) finds a listing after ~9 KB of prose, ``head`` cannot, and ``share``
    (the default) weighs it: a page that is 85% prose stays general, one that is two thirds code is code.
    (The cut lies near half: at the card's threshold a page needs a raw share of about 0.5.)"""
    prose = "\n".join(r["text"] for r in rows["neg_en"])  # ~9 KB of web prose, then code
    code = max((r["text"] for r in _heldout(dev_data, "code_pos", 100)), key=len)
    listing = "\n".join(code.split("\n")[:60])  # ~1.6 KB
    assert len(prose) > 2000 and len(code) > 8000 and 1000 < len(listing) < 2000
    keep_all = ["math", "code", "general"]

    def domains(doc):
        batch = make_batch([doc], ids=["mixed"], source="t")
        return {mode: ClassifyStage(long_docs=mode, keep_domains=keep_all)(batch)["domain"][0].as_py()
                for mode in ("chunks", "head", "share")}
    assert domains(prose + "\n" + listing) == {"chunks": "code", "head": "general", "share": "general"}
    cut = prose.index("\n", 4000)  # ~4 KB of prose, then ~8 KB of code
    assert domains(prose[:cut] + "\n" + code)["share"] == "code"


def test_share_mode_one_formula_does_not_make_a_long_page_math(rows):
    """Decided by how much of the document is math: a worked problem inside ~9 KB of prose is not a math page,
    the same problem alone is."""
    prose = "\n".join(r["text"] for r in rows["neg_en"])
    problem = rows["math_pos_en"][0]["text"]
    stage = ClassifyStage(keep_domains=["math", "code", "general"])
    out = stage(make_batch([prose[:4000] + "\n" + problem + "\n" + prose[4000:], problem], ids=["page", "alone"],
                           source="t"))
    assert out["domain"].to_pylist() == ["general", "math"]


def test_sampled_crop_spans_the_document():
    text = "".join(f"{i:05d}\n" for i in range(2000))  # 12,000 chars
    crop = sampled_crop(text, 600)
    assert len(crop) == 600 + 2 and crop.startswith("00000") and crop.endswith("01999\n")
    assert "01000" in crop or "00999" in crop  # the middle window
    assert sampled_crop("short", 600) == "short"


def test_empty_batch_and_all_dropped(stage):
    empty = make_batch([], ids=[], source="t")
    out = stage(empty)
    assert out.num_rows == 0 and "math_score" in out.column_names
    dropped = drop_rows(make_batch(["x = 1"], ids=["a"], source="t"), np.array([True]), "normalize:empty")
    assert stage(dropped)["code_score"].null_count == 1


def test_domain_rule_and_piece_reduction():
    d = assign_domain(np.array([0.9, 0.2, 0.7, 0.1, 0.6]), np.array([0.1, 0.8, 0.95, 0.2, 0.55]), 0.5, 0.5)
    assert d.tolist() == ["math", "code", "code", "general", "math"]
    pieces, offsets = document_pieces(["a" * 10, "b\n" * 30, ""], "chunks", 20, 2)
    assert offsets.tolist() == [0, 1, 3, 4] and pieces[-1] == ""
    assert max_per_document(np.array([0.1, 0.2, 0.9, 0.3], dtype=np.float32), offsets).tolist() == \
        pytest.approx([0.1, 0.9, 0.3])
    share = share_per_document(np.array([0.1, 0.2, 0.9, 0.3]), np.array([10, 30, 10, 0]), offsets)
    assert share.tolist() == pytest.approx([0.1, (0.2 * 30 + 0.9 * 10) / 40, 0.3])


def test_config_is_validated():
    with pytest.raises(ConfigError, match="keep_domains"):
        build_stage("classify", {"keep_domains": ["math", "poetry"]})
    with pytest.raises(ConfigError, match="file not found"):
        build_stage("classify", {"math_model": "no/such/model.ftz"})
    stage = build_stage("classify", {"math_threshold": 0.7, "long_docs": "crop", "prefilter": False})
    assert stage.math_threshold == 0.7 and stage.math_model == DEFAULT_MATH_MODEL and not stage.prefilter


def test_compiled_predictor_scores_as_the_fasttext_library(rows, dev_data):
    """The default predictor (the compiled kernel) and the library give the same scores to
    the bit, so the same domains and drop reasons; ``prefilter`` off so every piece is read."""
    texts = [r["text"] for rs in rows.values() for r in rs]
    texts += [json.loads(line)["text"] for name in ("code_pos", "math_pos_zh")
              for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")][:300]
    batch = make_batch(texts, ids=[str(i) for i in range(len(texts))], source="t")
    for params in ({"prefilter": False}, {"long_docs": "chunks"}, {}):
        compiled, library = ClassifyStage(**params), ClassifyStage(predictor="fasttext", **params)
        assert compiled.predictor == "compiled"
        a, b = compiled(batch), library(batch)
        assert compiled._compiled is not None and compiled._models is None and library._compiled is None
        for col in ("math_score", "code_score", "domain", "drop_reason"):
            assert a[col].to_pylist() == b[col].to_pylist(), (params, col)
        assert 0 < sum(d == "math" for d in a["domain"].to_pylist()) < len(texts)


def test_a_model_the_kernel_refuses_falls_back_to_the_library(tmp_path, caplog, rows):
    """A one-vs-all model (loss ova) is not read by filters.fasttext_infer: the stage says so
    and predicts with fastText, scoring as the library stage does."""
    from tests.filters.fasttext_infer.test_predictor import _fit

    train = tmp_path / "ova.txt"
    train.write_text("".join(f"__label__{'math' if name.startswith('math') else 'other'} {' '.join(r['text'].split())[:300]}\n"
                             for name, rs in rows.items() for r in rs), encoding="utf-8")
    _fit(train, tmp_path / "ova.bin", {"epoch": 2, "dim": 16, "loss": "ova", "wordNgrams": 2, "bucket": 2000}, None)
    batch, _ = _batch(rows)
    with caplog.at_level("WARNING", logger="filters.classify.stage"):
        fallback = ClassifyStage(math_model=str(tmp_path / "ova.bin"), prefilter=False)
        fallback.setup()
    assert fallback._compiled is None and fallback._models is not None and "loss 'ova'" in caplog.text
    library = ClassifyStage(math_model=str(tmp_path / "ova.bin"), prefilter=False, predictor="fasttext")
    assert fallback(batch)["math_score"].to_pylist() == library(batch)["math_score"].to_pylist()


@pytest.mark.cluster
def test_same_scores_locally_and_on_ray(ray_local, rows):
    import ray.data

    batch, _ = _batch(rows)
    local = ClassifyStage()(batch)

    class StageActor:  # defined here so Ray pickles it by value
        def __init__(self, params):
            self.stage = ClassifyStage(**params)
            self.stage.setup()

        def __call__(self, table):
            return self.stage(table)

    ds = ray.data.from_arrow(batch).map_batches(
        StageActor, fn_constructor_kwargs={"params": {}}, batch_format="pyarrow", batch_size=32,
        compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1)
    remote = pa.concat_tables(ray.get(ref) for ref in ds.to_arrow_refs()).sort_by("id")
    local = local.sort_by("id")
    assert remote["id"].to_pylist() == local["id"].to_pylist()
    for col in ("math_score", "code_score", "domain", "drop_reason"):
        assert remote[col].to_pylist() == local[col].to_pylist(), col
