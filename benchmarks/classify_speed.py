#!/usr/bin/env python3
"""Throughput of the ``classify`` stage against raw fastText predict on the same texts.

Usage:
    python benchmarks/classify_speed.py [--docs 2000] [--repeats 3] [--batch-size 1000] [--zh-only]
                                        [--texts heldout|crawl] [--long-docs share|chunks|crop|head]
                                        [--max-chunks N] [--no-prefilter]

Documents (``--texts``): ``heldout`` (default), the held-out test documents of
classifier_sources (dev web test rows, clean dev rows, machine text: code files, man
pages, Chinese catalogs...; about half of them math or code); ``crawl``, the pages the
WARC reader extracts from ../shared/data/crawl (real crawl samples: spam, homepages,
redirect pages; what a crawl mostly is). Cycled to ``--docs``. Both shipped models, one
thread, medians of ``--repeats`` runs:

  raw predict      model.predict(list) on every document cut into up to 8 pieces of
                   2000 chars (16,000 chars of text at most: the stage's default cut),
                   newlines replaced by spaces, no tokenization, no prefilter: what
                   fastText alone costs on the documents
  raw on pieces    the same on the stage's own pieces (``--long-docs``/``--max-chunks``)
  predict on toks  fastText's batch predict on the stage's pieces, tokenized as the stage sends
                   them (UTF-8 bytes lines; model cost only)
  compiled on toks the same lines through taosha's compiled predictor (filters.fasttext_infer,
                   the stage's default): same answers, its cost
  tokenize         tokenize_many(..., encoded=True) on the stage's pieces (the stage's call)
  prefilter        the vectorized gates (Arrow regex matches) on the documents
  stage            ClassifyStage()(table), Arrow in and out, batches of --batch-size
                   (prefilter, tokenization of gated documents only, predict, share,
                   calibration), with the compiled predictor (the default)
  stage, fasttext  the same with predictor=fasttext (the library)

Two ratios are printed: the stage against raw predict on the documents (the issue's
figure: what fastText alone costs on the same texts), and against raw predict on the
stage's own pieces (how much the stage adds to fastText on exactly what it scores).
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
from filters.classify.tokens import tokenize_many, tokenize_many_binary  # noqa: E402
from filters.classify.stage import PREFILTER_CHARS, ClassifyStage, document_pieces  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402

RAW_CHUNKS = 8  # raw predict reads each document as up to 8 pieces of chunk_chars


def timed_round_robin(fns: dict, repeats: int, clock=time.perf_counter) -> dict[str, float]:
    """Median seconds of each function, run in turns (a b c a b c ...), so that a load
    spike on a shared machine hits every variant alike and the ratios stay meaningful.
    ``clock=time.process_time`` counts this process's CPU time instead of wall time
    (``--clock cpu``: on a machine shared with other jobs, waiting for a core is not
    counted, so the ratios vary less between runs)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = clock()
            fn()
            times[name].append(clock() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--zh-only", action="store_true", help="only documents with Han characters")
    ap.add_argument("--long-docs", choices=["share", "chunks", "crop", "head"], default="share")
    ap.add_argument("--no-prefilter", action="store_true")
    ap.add_argument("--max-chunks", type=int, default=None, help="pieces per document (default: the stage's)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall time, or this process's CPU time (steadier on a shared machine)")
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
    stage = ClassifyStage(long_docs=args.long_docs, prefilter=not args.no_prefilter,
                          **({} if args.max_chunks is None else {"max_chunks": args.max_chunks}))
    stage.setup()
    library_stage = ClassifyStage(long_docs=args.long_docs, prefilter=not args.no_prefilter, predictor="fasttext",
                                  **({} if args.max_chunks is None else {"max_chunks": args.max_chunks}))
    library_stage.setup()
    math_model, code_model = library_stage._models
    math_kernel, code_kernel = stage._compiled or (None, None)
    doc_pieces, _ = document_pieces(texts, "share", stage.chunk_chars, RAW_CHUNKS)
    raw_flat = [p.replace("\n", " ") for p in doc_pieces]
    pieces, _ = document_pieces(texts, stage.long_docs, stage.chunk_chars, stage.max_chunks)
    flat = [p.replace("\n", " ") for p in pieces]
    toks = tokenize_many(pieces, encoded=True)
    toks_arrow = tokenize_many_binary(pieces)
    n_chars = sum(len(p) for p in pieces)
    n_doc_chars = sum(len(p) for p in doc_pieces)
    print(f"{len(texts)} docs; raw predict reads {len(doc_pieces)} pieces, {n_doc_chars / 1e6:.1f} M chars; the stage "
          f"({stage.long_docs}, at most {stage.max_chunks} pieces) {len(pieces)} pieces, {n_chars / 1e6:.1f} M chars; "
          f"{args.repeats} repeats, {args.clock} clock")

    batches = [make_batch(texts[i:i + args.batch_size], ids=[str(j) for j in range(i, min(i + args.batch_size, len(texts)))],
                          source="bench") for i in range(0, len(texts), args.batch_size)]
    arrow = pa.array(texts, pa.large_string())
    cap = max(PREFILTER_CHARS, stage.chunk_chars * stage.max_chunks)
    t = timed_round_robin({
        "raw": lambda: (math_model.predict(raw_flat, k=1), code_model.predict(raw_flat, k=1)),
        "raw_pieces": lambda: (math_model.predict(flat, k=1), code_model.predict(flat, k=1)),
        "model_only": lambda: (math_model.f.multilinePredict(toks, 1, 0.0, "strict"),
                               code_model.f.multilinePredict(toks, 1, 0.0, "strict")),
        **({"kernel_only": lambda: (math_kernel.top(toks_arrow), code_kernel.top(toks_arrow))} if math_kernel else {}),
        "tok": lambda: tokenize_many(pieces, encoded=True),
        "pre": lambda: gates(arrow, max_chars=cap),
        "full": lambda: [stage(b) for b in batches],
        "full_library": lambda: [library_stage(b) for b in batches],
    }, args.repeats, clock=time.process_time if args.clock == "cpu" else time.perf_counter)
    raw, raw_pieces, model_only, tok, pre, full = (t["raw"], t["raw_pieces"], t["model_only"], t["tok"], t["pre"],
                                                   t["full"])
    g = gates(arrow, max_chars=cap)

    def line(name: str, seconds: float, chars: int = n_chars) -> str:
        return f"{name:18s} {seconds:8.3f} s {len(texts) / seconds:10.0f} docs/s {chars / seconds / 1e6:7.2f} M chars/s"

    print(line("raw predict", raw, n_doc_chars))
    print(line("raw on pieces", raw_pieces))
    print(line("predict on toks", model_only))
    if "kernel_only" in t:
        print(line("compiled on toks", t["kernel_only"]) + f"   ({model_only / t['kernel_only']:.2f}x fastText's speed)")
    print(line("tokenize", tok))
    print(line("prefilter", pre) + f"   (gates open: math {g.math.mean():.0%}, code {g.code.mean():.0%}, "
          f"either {g.any.mean():.0%})")
    print(line("stage", full))
    print(line("stage, fasttext", t["full_library"]))
    print(f"stage / raw predict docs/s ratio: {raw / full:.2f} (on the stage's own pieces: {raw_pieces / full:.2f}); "
          f"with predictor=fasttext: {raw / t['full_library']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
