#!/usr/bin/env python3
"""Throughput of the ``classify`` stage against raw fastText predict on the same texts.

Usage:
    python benchmarks/classify_speed.py [--docs 2000] [--repeats 3] [--batch-size 1000] [--zh-only]
                                        [--texts heldout|crawl] [--long-docs share|chunks|crop|head]
                                        [--no-prefilter]

Documents (``--texts``): ``heldout`` (default), the held-out test documents of
classifier_sources (dev web test rows, clean dev rows, machine text: code files, man
pages, Chinese catalogs...; about half of them math or code); ``crawl``, the pages the
WARC reader extracts from ../shared/data/crawl (real crawl samples: spam, homepages,
redirect pages; what a crawl mostly is). Cycled to ``--docs``. Both shipped models, one
thread, medians of ``--repeats`` runs:

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

import pyarrow as pa
import regex

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classifier_sources as cs  # noqa: E402

from filters.classify.prefilter import gates  # noqa: E402
from filters.classify.tokens import tokenize_many  # noqa: E402
from filters.classify.stage import ClassifyStage, document_pieces  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402


def timed_round_robin(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turns (a b c a b c ...), so that a load
    spike on a shared machine hits every variant alike and the ratios stay meaningful."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--zh-only", action="store_true", help="only documents with Han characters")
    ap.add_argument("--long-docs", choices=["share", "chunks", "crop", "head"], default="share")
    ap.add_argument("--no-prefilter", action="store_true")
    ap.add_argument("--texts", choices=["heldout", "crawl"], default="heldout")
    args = ap.parse_args(argv)

    if args.texts == "crawl":
        from classifier_eval import crawl_pages

        texts = [t for _, _, t in crawl_pages() if t]
    else:
        texts = [r.text for r in cs.collect(with_fetched=False)["test"]]
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

    batches = [make_batch(texts[i:i + args.batch_size], ids=[str(j) for j in range(i, min(i + args.batch_size, len(texts)))],
                          source="bench") for i in range(0, len(texts), args.batch_size)]
    arrow = pa.array(texts, pa.large_string())
    cap = stage.chunk_chars * stage.max_chunks
    t = timed_round_robin({
        "raw": lambda: (math_model.predict(flat, k=1), code_model.predict(flat, k=1)),
        "model_only": lambda: (math_model.predict(toks, k=1), code_model.predict(toks, k=1)),
        "tok": lambda: tokenize_many(pieces),
        "pre": lambda: gates(arrow, max_chars=cap),
        "full": lambda: [stage(b) for b in batches],
    }, args.repeats)
    raw, model_only, tok, pre, full = t["raw"], t["model_only"], t["tok"], t["pre"], t["full"]
    g = gates(arrow, max_chars=cap)

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
