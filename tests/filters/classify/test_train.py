"""Training a classifier from real rows, and the ``train-classifier`` CLI."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.classify.data import LabeledText, is_holdout, read_records, text_chunks
from filters.classify.train import (TrainParams, add_arguments, binary_metrics, run, score_examples,
                                      threshold_table, train_model)


def _rows(dev_data, name):
    return [json.loads(line) for line in (dev_data / f"{name}.jsonl").open(encoding="utf-8")]


def _examples(dev_data, names, positive):
    return [LabeledText(r["text"], positive, n, key=r["id"]) for n in names for r in _rows(dev_data, n)]


def test_model_separates_held_back_rows(dev_data, tmp_path):
    pos = _examples(dev_data, ["math_pos_en", "math_pos_zh"], True)
    neg = _examples(dev_data, ["neg_en", "neg_zh", "code_pos"], False)
    rows = pos + neg
    train = [e for e in rows if not is_holdout(e.key, 0.25)]
    held = [e for e in rows if is_holdout(e.key, 0.25)]
    assert {e.key for e in train}.isdisjoint(e.key for e in held)
    model, n_lines = train_model(train, "math", TrainParams(epoch=10, dim=16), tmp_path)
    assert n_lines >= len(train)
    scores = score_examples(model, held, "math", 2000, 8)
    truth = np.array([e.positive for e in held])
    m = binary_metrics(scores, truth, 0.5)
    assert m["precision"] >= 0.9 and m["recall"] >= 0.9, m
    # the Chinese held-back rows are separated too, not only the English ones
    zh = np.array([e.group in ("math_pos_zh", "neg_zh") for e in held])
    assert binary_metrics(scores[zh], truth[zh], 0.5)["f1"] >= 0.9


def test_weights_are_checked_finite_and_bounded():
    from filters.classify.train import CorruptTraining, check_weights

    check_weights(np.zeros((0, 16), np.float32), np.full((3, 16), -11.5, np.float32))
    for bad in (np.float32("nan"), np.float32("inf"), np.float32(2.4e15)):
        m = np.zeros((4, 16), np.float32)
        m[2, 5] = bad
        with pytest.raises(CorruptTraining):
            check_weights(np.zeros((2, 2), np.float32), m)


def test_corrupt_weights_are_trained_again_in_a_fresh_process(dev_data, tmp_path, monkeypatch, capsys):
    """The child's CorruptTraining (here: the first child of the run) is retried at the same
    learning rate; a NaN halves it."""
    import filters.classify.train as train

    marker = tmp_path / "first"
    monkeypatch.setattr(train, "_CHILD", (
        "import json, pathlib, sys\n"
        "from filters.classify.train import CorruptTraining, _fit\n"
        f"m = pathlib.Path({str(marker)!r})\n"
        "if not m.exists():\n"
        "    m.write_text('x')\n"
        "    raise CorruptTraining('corrupt training: a weight of 1e+20 (limit 10000)')\n"
        "_fit(*json.loads(sys.argv[1]))\n"))
    rows = _examples(dev_data, ["math_pos_en"], True)[:40] + _examples(dev_data, ["neg_en"], False)[:40]
    model, _ = train_model(rows, "math", TrainParams(epoch=2, dim=16), tmp_path)
    assert marker.exists() and model.lr_used == TrainParams().lr
    assert "corrupt weights; retrying" in capsys.readouterr().err


def test_one_class_is_an_error(dev_data, tmp_path):
    with pytest.raises(ValueError, match="both classes"):
        train_model(_examples(dev_data, ["neg_en"], False), "math", TrainParams(), tmp_path)


def test_metrics_and_threshold_table():
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.1])
    truth = np.array([True, True, True, False, False])
    m = binary_metrics(scores, truth, 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-4) and m["recall"] == pytest.approx(2 / 3, abs=1e-4)
    table = threshold_table(scores, truth, (0.2, 0.95))
    assert table[0]["recall"] == 1.0 and table[1]["tp"] == 0 and table[1]["precision"] == 0.0


def test_text_chunks_cut_at_lines_and_sample_long_docs():
    text = "".join(f"line {i:04d} of a long file\n" for i in range(1000))
    pieces = text_chunks(text, 500)
    assert "".join(pieces) == text and all(p.endswith("\n") for p in pieces)
    sampled = text_chunks(text, 500, max_chunks=4)
    assert len(sampled) == 4 and sampled[0] == pieces[0] and sampled[-1] == pieces[-1]
    assert text_chunks("short", 500) == ["short"]


def test_holdout_is_stable_and_near_its_fraction():
    keys = [f"row-{i}" for i in range(4000)]
    held = [is_holdout(k, 0.3) for k in keys]
    assert held == [is_holdout(k, 0.3) for k in keys]
    assert 0.27 < sum(held) / len(keys) < 0.33


def _parser():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


def test_cli_trains_from_jsonl_gz_and_parquet_and_writes_a_card(dev_data, tmp_path, capsys):
    pos_gz = tmp_path / "pos.jsonl.gz"
    with gzip.open(pos_gz, "wt", encoding="utf-8") as fh:
        for n in ("math_pos_en", "math_pos_zh"):
            fh.write((dev_data / f"{n}.jsonl").read_text(encoding="utf-8"))
    neg_pq = tmp_path / "neg.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": r["id"], "text": r["text"], "license": r["license"]}
                                         for n in ("neg_en", "neg_zh") for r in _rows(dev_data, n)]), neg_pq)
    shutil.copy(dev_data / "code_pos.jsonl", tmp_path / "code.jsonl")
    out = tmp_path / "models" / "math.ftz"
    args = _parser().parse_args(["--pos", str(pos_gz), "--neg", str(neg_pq), str(tmp_path / "code.jsonl"),
                                 "--out", str(out), "--quantize", "--label", "math", "--holdout", "0.25",
                                 "--epoch", "10", "--dim", "16", "--cutoff", "20000"])
    assert run(args) == 0
    printed = capsys.readouterr().out
    assert "held-out at threshold 0.50" in printed and "thr    prec  recall" in printed
    card = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert out.stat().st_size == card["size_bytes"] and card["quantized"] is True
    assert card["label"] == "math" and card["hyperparameters"]["dim"] == 16
    assert [s["rows"] for s in card["sources"]] == [864 + 306, 237 + 254, 174]
    assert "CC-BY-SA-4.0" in card["sources"][1]["licenses"]
    at = card["metrics"]["at_threshold"]
    assert at["precision"] >= 0.9 and at["recall"] >= 0.9
    assert len(card["metrics"]["threshold_table"]) == 9
    assert len(read_records(pos_gz)) == 864 + 306


def test_cli_reports_a_missing_class(dev_data, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "  "}\n', encoding="utf-8")
    args = _parser().parse_args(["--pos", str(empty), "--neg", str(dev_data / "neg_en.jsonl"),
                                 "--out", str(tmp_path / "m.bin")])
    assert run(args) == 2
    assert "0 positive" in capsys.readouterr().err
