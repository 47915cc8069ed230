#!/usr/bin/env python3
"""Rebuild the shipped classifiers: filters/models/{math,code}_classifier.ftz (+ .json cards).

Usage:
    python benchmarks/build_classifier_models.py [--out-dir filters/models] [--only math|code]

Offline and deterministic (one fastText thread, fixed seed, hash-ordered sources):
the training rows are the 70% of tests/data/dev rows whose id hash is not held out,
plus chunks of real text on this machine (see classifier_sources.SOURCES: Python
stdlib, C/C++ headers, OpenJDK sources, Rust std sources, npm's JavaScript, shell
scripts; man pages, GNU info manuals, stdlib docstrings, the Rust book, Chinese
gettext catalogs and man pages). The held-out 30% (by the same hash) and the Go files
(never trained on) are scored for the card; ``classifier_eval.py`` prints the full
breakdown. A machine with other packages installed yields other chunks: the card
records the per-source counts so two builds can be compared.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classifier_sources as cs  # noqa: E402

from filters.classify.train import TrainParams, format_table, train_and_evaluate  # noqa: E402

MODELS = {
    # label: (file name, hyperparameters)
    "math": ("math_classifier.ftz", TrainParams(epoch=8, lr=0.5, wordNgrams=2, dim=32, minCount=2, bucket=200_000,
                                                quantize=True, cutoff=40_000, chunk_chars=cs.CHUNK_CHARS)),
    "code": ("code_classifier.ftz", TrainParams(epoch=8, lr=0.5, wordNgrams=2, dim=32, minCount=2, bucket=200_000,
                                                quantize=True, cutoff=40_000, chunk_chars=cs.CHUNK_CHARS)),
}


def source_cards(train, evaluation) -> list[dict]:
    n_train = Counter(r.group for r in train)
    n_eval = Counter(r.group for r in evaluation)
    return [{"group": s.group, "language": s.lang, "license": s.license, "train_chunks": n_train[s.group],
             "heldout_docs": n_eval[s.group], "eval_only": s.eval_only} for s in cs.SOURCES]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=str(cs.ROOT / "filters" / "models"))
    ap.add_argument("--only", choices=sorted(MODELS))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    train, evaluation = cs.collect()
    print(f"collected {len(train)} training chunks, {len(evaluation)} held-out docs in {time.perf_counter() - t0:.1f}s")
    sources = source_cards(train, evaluation)
    for label, (fname, params) in MODELS.items():
        if args.only and label != args.only:
            continue
        t1 = time.perf_counter()
        card = train_and_evaluate(
            cs.with_positive(train, label), cs.with_positive(evaluation, label), label, Path(args.out_dir) / fname,
            params, threshold=0.5, sources=sources,
            notes=(f"Built by benchmarks/build_classifier_models.py. Positive: sources of kind '{label}'; negative: "
                   f"all others. Held out: dev rows and machine files whose key hash falls in the {cs.HOLDOUT:.0%} "
                   "split (filters.classify.data.is_holdout, salt 'taosha-classify'), and every Go file."))
        m = card["metrics"]["at_threshold"]
        print(f"\n{fname}: {card['size_bytes'] / 1e6:.2f} MB, {card['training_lines']} training lines, "
              f"{time.perf_counter() - t1:.0f}s; held-out P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}")
        print(format_table(card["metrics"]["threshold_table"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
