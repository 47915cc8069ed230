#!/usr/bin/env python3
"""Throughput of the ``classify`` stage against raw fastText predict on the same texts.

Usage:
    python benchmarks/classify_speed.py [--docs 2000] [--repeats 3] [--batch-size 1000] [--zh-only]
                                        [--long-docs share|chunks|crop|head] [--no-prefilter]

Documents: the held-out test documents of classifier_sources (dev web test rows, clean
dev rows, machine text: code files, man pages, Chinese catalogs...), cycled to
``--docs``. Both shipped models, one thread, medians of ``--repeats`` runs:

  raw predict      model.predict(list) on every document's pieces (the stage's
                   ``long_docs`` cut: up to 8 pieces of 2000 chars), newlines replaced
                   by spaces, no tokenization, no prefilter: what fastText alone costs
  predict on toks  model.predict(list) on all pre-tokenized pieces (model cost only)
  tokenize         classifier_tokens on all pieces (regex only)
  prefilter        the vectorized gates (Arrow regex counts) on the documents
  stage            ClassifyStage()(table), Arrow in and out, batches of --batch-size
                   (prefilter, tokenization of gated documents only, predict, share,
                   calibration)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classifier_sources as cs  # noqa: E402

from filters.classify.prefilter import gates  # noqa: E402
from filters.classify.tokens import tokenize_many  # noqa: E402
from filters.classify.stage import ClassifyStage, document_pieces  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--zh-only", action="store_true", help="only documents with Han characters (jieba-bound)")
    ap.add_argument("--long-docs", choices=["share", "chunks", "crop", "head"], default="share")
    ap.add_argument("--no-prefilter", action="store_true")
    args = ap.parse_args(argv)

    rows = cs.collect(with_fetched=False)["test"]
    texts = [r.text for r in rows]
    if args.zh_only:
        texts = [t for t in texts if regex.search(r"\p{Han}", t)]
    texts = (texts * (args.docs // len(texts) + 1))[: args.docs]
    stage = ClassifyStage(long_docs=args.long_docs, prefilter=not args.no_prefilter)
    stage.setup()
    math_model, code_model = stage._models
    pieces, _ = document_pieces(texts, stage.long_docs, stage.chunk_chars, stage.max_chunks)
    flat = [p.replace("\n", " ") for p in pieces]
    toks = tokenize_many(pieces)
    n_chars = sum(len(p) for p in pieces)
    print(f"{len(texts)} docs, {len(pieces)} pieces, {n_chars / 1e6:.1f} M chars scored, {args.repeats} repeats")

    raw = timed(lambda: (math_model.predict(flat, k=1), code_model.predict(flat, k=1)), args.repeats)
    model_only = timed(lambda: (math_model.predict(toks, k=1), code_model.predict(toks, k=1)), args.repeats)
    tok = timed(lambda: tokenize_many(pieces), args.repeats)
    pre = timed(lambda: gates(texts), args.repeats)
    g = gates(texts)
    batches = [make_batch(texts[i:i + args.batch_size], ids=[str(j) for j in range(i, min(i + args.batch_size, len(texts)))],
                          source="bench") for i in range(0, len(texts), args.batch_size)]
    full = timed(lambda: [stage(b) for b in batches], args.repeats)

    def line(name: str, seconds: float) -> str:
        return f"{name:18s} {seconds:8.3f} s {len(texts) / seconds:10.0f} docs/s {n_chars / seconds / 1e6:7.2f} M chars/s"

    print(line("raw predict", raw))
    print(line("predict on toks", model_only))
    print(line("tokenize", tok))
    print(line("prefilter", pre) + f"   (gates open: math {g.math.mean():.0%}, code {g.code.mean():.0%}, "
          f"either {g.any.mean():.0%})")
    print(line("stage", full))
    print(f"stage / raw predict docs/s ratio: {raw / full:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
