#!/usr/bin/env python3
"""Rebuild the shipped classifiers: filters/models/{math,code}_classifier.bin (+ .json cards).

Usage:
    python benchmarks/build_classifier_models.py [--out-dir filters/models] [--rounds 3]

Offline and deterministic given the fetched snapshots (classifier_fetched.REPOS, pinned
commits) and this machine's files: one fastText thread, fixed seeds, hash-ordered
sources and hash splits (classifier_sources). Steps:

1. round 1 trains both models on the ``train`` split (web-like fetched text, dev web
   train rows, clean dev rows, machine text);
2. each round scores the ``mine`` pool (fetched documents never trained on) with the
   stage's own scoring (prefilter, pieces, length-weighted share) and adds its
   mistakes to the next round's training, DeepSeekMath-style: every general page
   scoring >= 0.2 (hard negatives: the near misses teach most) and every math/code
   page scoring < 0.5; the card records each round's counts and where they came from;
3. the last round's models are calibrated (isotonic, equal prior) on the ``calib``
   split (fetched calib files + 15% of the dev web rows) and a threshold is chosen
   for ``--target-precision`` at a 1% base rate; the card stores the knots, the
   threshold and the threshold -> recall/FPR/precision curve.

The dev web ``test`` rows (45%) are touched by none of this; classifier_eval.py
reports on them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classifier_fetched as cf  # noqa: E402
import classifier_sources as cs  # noqa: E402

from filters.classify.calibrate import (apply_calibration, choose_threshold, fit_isotonic,  # noqa: E402
                                        threshold_curve)
from filters.classify.stage import ClassifyStage  # noqa: E402
from filters.classify.train import TrainParams, sha256_file, train_model  # noqa: E402

LABELS = ("math", "code")
FILES = {"math": "math_classifier.bin", "code": "code_classifier.bin"}
# Dense (not quantized) models, small by a small vocabulary (minCount 10, 20k n-gram
# buckets) and dim 16: a quantized model's predict decodes product-quantized rows and looks
# every n-gram up in a pruning table, which made it ~2x slower per token than a dense one
# (measured on the held-out rows); dim and bucket barely change the speed and, on the
# calibration split, not the quality (round 4 in README-classifiers.md).
PARAMS = {
    "math": TrainParams(epoch=6, lr=0.3, wordNgrams=2, dim=16, minCount=10, bucket=20_000, quantize=False,
                        max_chunks=4, max_repeat=8),
    "code": TrainParams(epoch=6, lr=0.3, wordNgrams=2, dim=16, minCount=10, bucket=20_000, quantize=False,
                        max_chunks=4, max_repeat=4),
}
CURVE = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)


def train_pair(train, workdir: Path) -> dict[str, Path]:
    """Train both models on ``train`` into ``workdir``; returns their paths."""
    paths = {}
    for label in LABELS:
        with tempfile.TemporaryDirectory(prefix="taosha-train-") as tmp:
            model, n_lines = train_model(cs.with_positive(train, label), label, PARAMS[label], tmp)
        paths[label] = workdir / FILES[label]
        model.save_model(str(paths[label]))
        print(f"  {label}: {n_lines} training lines", flush=True)
    return paths


def raw_scores(paths: dict[str, Path], rows) -> dict[str, np.ndarray]:
    """Uncalibrated document scores as the stage computes them (no card beside the models)."""
    stage = ClassifyStage(math_model=str(paths["math"]), code_model=str(paths["code"]), math_threshold=0.5,
                          code_threshold=0.5)
    m, c = stage.raw_scores([r.text for r in rows])
    return {"math": m, "code": c}


HARD_NEGATIVE = 0.2  # a pool negative scoring at least this (raw) joins the next round
MISSED_POSITIVE = 0.5  # a pool positive scoring below this joins the next round


def mine_round(scores: dict[str, np.ndarray], pool, already: set[int]) -> tuple[list[int], dict]:
    """Indices of the pool's hard negatives and missed positives not added before, and the round's counts."""
    labels = np.array([cs.label_of(r) for r in pool])
    groups = np.array([r.group for r in pool])
    picked: set[int] = set()
    stats: dict = {}
    for label in LABELS:
        truth = labels == label
        fp = np.flatnonzero((scores[label] >= HARD_NEGATIVE) & ~truth)
        fn = np.flatnonzero((scores[label] < MISSED_POSITIVE) & truth)
        stats[label] = {"pool_positive": int(truth.sum()), "pool_negative": int((~truth).sum()),
                        "false_positive_at_0.5": int(((scores[label] >= 0.5) & ~truth).sum()),
                        f"hard_negative_at_{HARD_NEGATIVE}": len(fp), "missed_positive_at_0.5": len(fn),
                        "fp_sources": dict(Counter(groups[fp]).most_common(6)),
                        "fn_sources": dict(Counter(groups[fn]).most_common(6))}
        picked |= set(fp.tolist()) | set(fn.tolist())
    new = sorted(picked - already)
    return new, stats


def source_table(split_rows: dict) -> list[dict]:
    """Per source group: repository, commit, license and row counts per split (the data card)."""
    repo_of = {g: r for g, r, _, _ in cf.FETCHED}
    lic = {s.group.split(":", 1)[1]: s.license for s in cs.SOURCES}
    counts: dict[str, Counter] = {}
    for split, rows in split_rows.items():
        for r in rows:
            counts.setdefault(r.group.split(":", 1)[1], Counter())[(split, cs.label_of(r))] += 1
    out = []
    for name in sorted(counts):
        c = counts[name]
        if name in repo_of:
            repo = cf.REPOS[repo_of[name]]
            origin = {"repository": repo.name, "commit": repo.commit, "license": repo.license}
        elif name.startswith("web_"):
            origin = {"repository": "the labeled dev web set (per-row source and license)", "license": "per row"}
        else:
            where = "tests/data/dev (see its PROVENANCE.md)" if name.startswith("dev_") else "this machine"
            origin = {"repository": where, "license": lic.get(name, "")}
        out.append({"source": name, **origin,
                    "rows": {f"{s}:{lab}": n for (s, lab), n in sorted(c.items())}})
    return out


def write_cards(out_dir: Path, calib, rounds: list[dict], split_rows: dict | None, target: float) -> None:
    """Calibrate the models in ``out_dir`` on ``calib``, choose thresholds, write the cards.

    ``split_rows`` None keeps the sources of the existing cards (``--calibrate-only``).
    """
    paths = {label: out_dir / FILES[label] for label in LABELS}
    scores = raw_scores(paths, calib)
    for label in LABELS:
        old = json.loads(paths[label].with_suffix(".json").read_text()) if split_rows is None else {}
        truth = np.array([cs.label_of(r) == label for r in calib])
        gated = scores[label] > 0
        knots = dict(zip(("x", "y"), fit_isotonic(scores[label][gated], truth[gated])))
        cal = apply_calibration(scores[label], knots)
        cal[~gated] = 0.0
        thr = choose_threshold(cal, truth, target, 0.01, min_recall=0.9)
        p = PARAMS[label]
        card = {
            "model": paths[label].name, "label": label, "negative_label": "other", "format": "fastText supervised",
            "quantized": p.quantize, "size_bytes": paths[label].stat().st_size, "sha256": sha256_file(paths[label]),
            "tokenization": "filters.classify.tokens.tokenize_many (one token per Han character, lowercased "
                            "letter runs, digit runs, single symbols, TeX words; N/I for line break/indent, "
                            "NUM for 5+ digits)",
            "scoring": "prefilter gate (filters.classify.prefilter), at most 8 pieces of 2000 chars spread over "
                       "the document, length-weighted mean (long_docs: share), isotonic calibration below",
            "hyperparameters": p.__dict__, "rounds": rounds or old.get("rounds", []),
            "calibration": knots, "calibration_rows": {"positive": int(truth.sum()), "negative": int((~truth).sum())},
            "recommended_threshold": thr,
            "threshold_rule": f"lowest calibrated threshold with implied precision >= {target} at a 1% base rate "
                              "on the calib split (FPR floored at half an error), keeping recall >= 0.9",
            "threshold_curve_calib": threshold_curve(cal, truth, CURVE),
            "sources": source_table(split_rows) if split_rows is not None else old.get("sources", []),
            "notes": "Built by benchmarks/build_classifier_models.py; figures on never-trained rows: "
                     "benchmarks/classifier_eval.py.",
        }
        paths[label].with_suffix(".json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")
        print(f"{label}: threshold {thr}; calib curve:")
        for r in card["threshold_curve_calib"]:
            print("  ", r)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=str(cs.ROOT / "filters" / "models"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--target-precision", type=float, default=0.9, help="at a 1%% base rate, on the calib split")
    ap.add_argument("--calibrate-only", action="store_true", help="keep the models in --out-dir; recalibrate")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    splits = cs.collect()
    if args.calibrate_only:
        write_cards(Path(args.out_dir), splits["calib"], [], None, args.target_precision)
        return 0
    train, pool, calib = splits["train"], splits["mine"], splits["calib"]
    print(f"collected in {time.perf_counter() - t0:.0f}s: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    added: list[int] = []
    rounds = []
    work = Path(tempfile.mkdtemp(prefix="taosha-build-"))
    try:
        for rnd in range(1, args.rounds + 1):
            t1 = time.perf_counter()
            print(f"round {rnd}: training on {len(train) + len(added)} rows ({len(added)} mined)", flush=True)
            paths = train_pair(train + [pool[i] for i in added], work)
            new, stats = mine_round(raw_scores(paths, pool), pool, set(added))
            rounds.append({"round": rnd, "train_rows": len(train) + len(added), "mined_rows_in_training": len(added),
                           "pool_after_training": stats, "new_mistakes": len(new),
                           "seconds": round(time.perf_counter() - t1)})
            print(json.dumps(rounds[-1], ensure_ascii=False), flush=True)
            if rnd < args.rounds:
                added += new
        for label in LABELS:
            shutil.copyfile(paths[label], Path(args.out_dir) / FILES[label])
        write_cards(Path(args.out_dir), calib, rounds, {"train": train, "mined": [pool[i] for i in added],
                                                         "calib": calib}, args.target_precision)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"done in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
