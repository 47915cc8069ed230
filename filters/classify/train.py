"""Train, evaluate and save a binary fastText classifier (``taosha train-classifier``).

The same code builds the shipped math and code models
(``benchmarks/build_classifier_models.py``) and a user's own models from JSONL or
Parquet files::

    taosha train-classifier --pos my_math.jsonl --neg crawl_sample.parquet \\
        --out models/my_math.ftz --label math --quantize

Steps: read the files; hold out a fraction of rows by a hash of their id (or
text); cut long rows into the pieces the ``classify`` stage scores; tokenize them
with :func:`filters.classify.tokens.tokenize_many` (the one function the
stage also uses); repeat the smaller class so the classes are balanced (fastText
has no class weights); train; optionally quantize to ``.ftz``; score the held-out
rows; print precision/recall/F1 at ``--threshold`` and a threshold table; write the
model and ``<model>.json``, its card (data sources, sizes, hyperparameters,
metrics).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from filters.classify.data import LabeledText, chunk_examples, is_holdout, label_line, read_records
from filters.classify.tokens import tokenize_many

NEGATIVE_LABEL = "other"
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class TrainParams:
    """fastText hyperparameters (names as fastText spells them) and data preparation."""

    epoch: int = 10
    lr: float = 0.5
    wordNgrams: int = 2
    dim: int = 32
    minCount: int = 2
    bucket: int = 200_000
    seed: int = 0
    thread: int = 1  # one thread: training is then reproducible bit for bit
    chunk_chars: int = 2000
    max_chunks: int = 16  # pieces kept per training row (long files)
    balance: bool = True  # repeat the smaller class up to the size of the larger
    max_repeat: int = 20
    quantize: bool = False
    cutoff: int = 50_000  # rows of the input matrix kept when quantizing


def prepare_lines(examples: Sequence[LabeledText], label: str, params: TrainParams) -> list[str]:
    """fastText training lines: chunked, tokenized, balanced and shuffled (seeded)."""
    pieces = list(chunk_examples(examples, params.chunk_chars, params.max_chunks))
    tokens = tokenize_many([p.text for p in pieces])
    pos = [label_line(label, t) for p, t in zip(pieces, tokens) if p.positive and not t.isspace() and t]
    neg = [label_line(NEGATIVE_LABEL, t) for p, t in zip(pieces, tokens) if not p.positive and not t.isspace() and t]
    if not pos or not neg:
        raise ValueError(f"need both classes to train: {len(pos)} positive and {len(neg)} negative pieces")
    if params.balance:
        small, large = (pos, neg) if len(pos) < len(neg) else (neg, pos)
        repeat = min(params.max_repeat, max(1, round(len(large) / len(small))))
        small *= repeat
    lines = pos + neg
    random.Random(params.seed).shuffle(lines)
    return lines


_CHILD = "import json, sys; from filters.classify.train import _fit; _fit(*json.loads(sys.argv[1]))"


WEIGHT_LIMIT = 1e4
"""A trained weight this large means corrupt training, not learning: healthy models here stay
below ~12 (the shipped ones: 6.3 and 11.4 at most), while the wheel's corrupt trainings
wrote 1e8 to 1e38 (see :func:`train_model`)."""


class CorruptTraining(RuntimeError):
    """fastText wrote weights that are not finite or beyond :data:`WEIGHT_LIMIT`."""


def check_weights(*matrices) -> None:
    """Raise :class:`CorruptTraining` unless every weight is finite and within the limit."""
    for m in matrices:
        worst = float(np.max(np.abs(m))) if m.size else 0.0
        if not np.isfinite(worst) or worst > WEIGHT_LIMIT:
            raise CorruptTraining(f"corrupt training: a weight of {worst:g} (limit {WEIGHT_LIMIT:g})")


def _fit(train_file: str, out_file: str, options: dict, quantize: dict | None) -> None:
    """Train (and quantize) one model, check its weights and save it; runs in a fresh child process."""
    import fasttext

    model = fasttext.train_supervised(input=train_file, loss="softmax", verbose=0, **options)
    check_weights(model.get_input_matrix(), model.get_output_matrix())
    if quantize is not None:
        model.quantize(input=train_file, qnorm=True, retrain=False, **quantize)
    model.save_model(out_file)


def train_model(examples: Sequence[LabeledText], label: str, params: TrainParams, workdir: str | Path):
    """Train (and quantize, if asked) a binary fastText model; returns it with the line count.

    fastText runs in a fresh child process: with the NumPy-2 fastText wheel, a
    second training in one process sometimes fails with "Encountered NaN" whatever
    the learning rate (the process state, not the data, is at fault), while the same
    training in a fresh process succeeds. A genuine divergence is retried there with
    half the learning rate (the documented remedy), up to three times. The same wheel
    also trains a tiny input matrix (under ~128 KB: e.g. a few hundred words, a bucket
    of a few hundred and no character n-grams) on memory that differs from run to run:
    NaN in about half the runs, and huge weights in others. Every model shipped or
    configured here has a matrix of megabytes (bucket 20,000 or more), where 8 of 8
    fresh runs give the same file. The child checks the weights it trained
    (:func:`check_weights`): corrupt ones are trained again in a fresh process.
    """
    import fasttext

    lines = prepare_lines(examples, label, params)
    train_file = Path(workdir) / "train.txt"
    out_file = Path(workdir) / ("model.ftz" if params.quantize else "model.bin")
    train_file.write_text("".join(lines), encoding="utf-8")
    quantize = {"cutoff": params.cutoff, "dsub": 2} if params.quantize else None
    lr = params.lr
    for attempt in range(4):
        options = {"epoch": params.epoch, "lr": lr, "wordNgrams": params.wordNgrams, "dim": params.dim,
                   "minCount": params.minCount, "bucket": params.bucket, "seed": params.seed, "thread": params.thread}
        job = json.dumps([str(train_file), str(out_file), options, quantize])
        done = subprocess.run([sys.executable, "-c", _CHILD, job], capture_output=True, text=True)
        if done.returncode == 0:
            break
        error = (done.stderr.strip().splitlines() or ["fastText training failed"])[-1]
        corrupt, nan = "CorruptTraining" in error, "NaN" in error
        if not (corrupt or nan):
            raise RuntimeError(error)
        if attempt == 3:
            raise RuntimeError(error + " (this fastText wheel corrupts the training of input matrices under"
                               " ~128 KB without character n-grams: a larger bucket avoids it)")
        if corrupt:  # memory, not the learning rate: the same training in a fresh process
            print("fastText wrote corrupt weights; retrying", file=sys.stderr)
            continue
        lr /= 2
        print(f"fastText diverged (NaN); retrying with lr={lr:g}", file=sys.stderr)
    fasttext.FastText.eprint = lambda *a, **k: None  # silence the load_model warning
    model = fasttext.load_model(str(out_file))
    model.lr_used = lr
    return model, len(lines)


def score_examples(model, examples: Sequence[LabeledText], label: str, chunk_chars: int, max_chunks: int) -> np.ndarray:
    """Document scores as the ``classify`` stage's default ``share`` mode computes them
    (length-weighted mean over pieces), without the prefilter or a calibration."""
    from filters.classify.stage import document_pieces, positive_probability, share_per_document

    pieces, offsets = document_pieces([e.text for e in examples], "share", chunk_chars, max_chunks)
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    return share_per_document(positive_probability(model, tokenize_many(pieces), label).astype(np.float64), lengths,
                              offsets)


def binary_metrics(scores: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    """Precision, recall, F1 and the confusion counts at ``threshold``."""
    pred = np.asarray(scores) >= threshold
    truth = np.asarray(truth, dtype=bool)
    tp, fp = int(np.sum(pred & truth)), int(np.sum(pred & ~truth))
    fn, tn = int(np.sum(~pred & truth)), int(np.sum(~pred & ~truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def threshold_table(scores: np.ndarray, truth: np.ndarray, thresholds: Sequence[float] = THRESHOLDS) -> list[dict]:
    return [binary_metrics(scores, truth, t) for t in thresholds]


def format_table(rows: Sequence[dict]) -> str:
    out = [f"{'thr':>5} {'prec':>7} {'recall':>7} {'f1':>7} {'tp':>6} {'fp':>6} {'fn':>6} {'tn':>6}"]
    for r in rows:
        out.append(f"{r['threshold']:>5.2f} {r['precision']:>7.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} "
                   f"{r['tp']:>6} {r['fp']:>6} {r['fn']:>6} {r['tn']:>6}")
    return "\n".join(out)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train_and_evaluate(train: Sequence[LabeledText], evaluation: Sequence[LabeledText], label: str, out: str | Path,
                       params: TrainParams, threshold: float = 0.5, sources: list[dict] | None = None,
                       notes: str = "") -> dict:
    """Train on ``train``, save to ``out``, score ``evaluation``; returns (and writes) the model card."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="taosha-train-") as tmp:
        model, n_lines = train_model(train, label, params, tmp)
    model.save_model(str(out))
    metrics: dict = {}
    if evaluation:
        scores = score_examples(model, evaluation, label, params.chunk_chars, 8)  # the stage default
        truth = np.array([e.positive for e in evaluation])
        metrics = {"heldout_rows": len(evaluation), "heldout_positive": int(truth.sum()),
                   "at_threshold": binary_metrics(scores, truth, threshold),
                   "threshold_table": threshold_table(scores, truth)}
    card = {
        "model": out.name, "label": label, "negative_label": NEGATIVE_LABEL, "format": "fastText supervised",
        "quantized": params.quantize, "size_bytes": out.stat().st_size, "sha256": sha256_file(out),
        "tokenization": "filters.classify.tokens.tokenize_many (one token per Han character, lowercased Latin tokens)",
        "hyperparameters": asdict(params), "lr_used": getattr(model, "lr_used", params.lr), "training_lines": n_lines,
        "train_rows": {"positive": sum(e.positive for e in train), "negative": sum(not e.positive for e in train)},
        "sources": sources or [], "metrics": metrics, "train_seconds": round(time.perf_counter() - started, 1),
        "notes": notes,
    }
    card_path(out).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card


def card_path(model_path: str | Path) -> Path:
    """Where the card of ``model_path`` lives: the same name with ``.json``."""
    return Path(model_path).with_suffix(".json")


# ------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``taosha train-classifier``."""
    d = TrainParams()
    parser.add_argument("--pos", nargs="+", required=True, metavar="FILE", help="JSONL(.gz/.zst)/Parquet of positives")
    parser.add_argument("--neg", nargs="+", required=True, metavar="FILE", help="JSONL(.gz/.zst)/Parquet of negatives")
    parser.add_argument("--out", required=True, metavar="MODEL", help="model path (.ftz when --quantize, else .bin)")
    parser.add_argument("--label", default="math", help="positive label name (default: math)")
    parser.add_argument("--quantize", action="store_true", help="quantize to a small .ftz model")
    parser.add_argument("--text-field", default="text", help="field holding the text (default: text)")
    parser.add_argument("--id-field", default="id", help="field used for the held-out hash (text if absent)")
    parser.add_argument("--holdout", type=float, default=0.2, help="fraction of rows held out (default: 0.2)")
    parser.add_argument("--threshold", type=float, default=0.5, help="score threshold for reported metrics")
    parser.add_argument("--epoch", type=int, default=d.epoch)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--wordNgrams", type=int, default=d.wordNgrams)
    parser.add_argument("--dim", type=int, default=d.dim)
    parser.add_argument("--minCount", type=int, default=d.minCount)
    parser.add_argument("--cutoff", type=int, default=d.cutoff, help="input rows kept by --quantize")
    parser.add_argument("--chunk-chars", type=int, default=d.chunk_chars, help="piece size; match the stage's")
    parser.add_argument("--no-balance", action="store_true", help="do not repeat the smaller class")
    parser.add_argument("--seed", type=int, default=d.seed)


def load_examples(paths: Sequence[str], positive: bool, text_field: str, id_field: str) -> tuple[list[LabeledText], list[dict]]:
    examples, sources = [], []
    for path in paths:
        rows = read_records(path, text_field)
        for i, r in enumerate(rows):
            key = str(r.get(id_field) or r[text_field])
            examples.append(LabeledText(r[text_field], positive, f"{'pos' if positive else 'neg'}:{Path(path).name}",
                                        str(r.get("lang") or ""), key))
        licenses = sorted({str(r["license"]) for r in rows if r.get("license")})
        sources.append({"path": str(path), "rows": len(rows), "positive": positive, "licenses": licenses})
    return examples, sources


def run(args: argparse.Namespace) -> int:
    """Entry point of ``taosha train-classifier``; returns the exit status."""
    pos, pos_sources = load_examples(args.pos, True, args.text_field, args.id_field)
    neg, neg_sources = load_examples(args.neg, False, args.text_field, args.id_field)
    if not pos or not neg:
        print(f"error: {len(pos)} positive and {len(neg)} negative rows with a {args.text_field!r} field", file=sys.stderr)
        return 2
    rows = pos + neg
    held = [e for e in rows if is_holdout(e.key, args.holdout)]
    train = [e for e in rows if not is_holdout(e.key, args.holdout)]
    params = TrainParams(epoch=args.epoch, lr=args.lr, wordNgrams=args.wordNgrams, dim=args.dim, minCount=args.minCount,
                         seed=args.seed, chunk_chars=args.chunk_chars, balance=not args.no_balance,
                         quantize=args.quantize, cutoff=args.cutoff)
    print(f"train: {sum(e.positive for e in train)} positive, {sum(not e.positive for e in train)} negative rows; "
          f"held out ({args.holdout:.0%} by hash of {args.id_field!r}): {sum(e.positive for e in held)} positive, "
          f"{sum(not e.positive for e in held)} negative", flush=True)
    try:
        card = train_and_evaluate(train, held, args.label, args.out, params, args.threshold,
                                  sources=pos_sources + neg_sources, notes="trained by taosha train-classifier")
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = card["metrics"]
    if m:
        a = m["at_threshold"]
        print(f"held-out at threshold {args.threshold:.2f}: precision {a['precision']:.4f} recall {a['recall']:.4f} "
              f"F1 {a['f1']:.4f}")
        print(format_table(m["threshold_table"]))
    else:
        print("no held-out rows (raise --holdout to measure)")
    print(f"wrote {args.out} ({card['size_bytes']} bytes) and {card_path(args.out)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taosha train-classifier", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
