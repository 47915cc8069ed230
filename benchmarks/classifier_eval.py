#!/usr/bin/env python3
"""How the shipped math and code classifiers hold on rows they never saw.

Usage:
    python benchmarks/classifier_eval.py [--math-model M] [--code-model M]
                                         [--math-threshold T] [--code-threshold T] [--no-speed]

Scored exactly as the ``classify`` stage scores (``ClassifyStage.score``: prefilter,
pieces, share, calibration) at the stage's thresholds (the cards' recommended ones
unless given). Printed:

1. dev web ``test`` rows (45% of ../shared/data/dev/web by id hash; never trained on,
   never used for thresholds or calibration), per language and per ``kind``: recall
   of math and code rows, the share of general rows labeled math / code, and the
   implied precision at 1% and 0.1% base rates (from that language's recall and
   general false-positive rate; half an error when there is none, so 0 FP on n rows
   never claims more than n rows can show);
2. the clean sets (tests/data/dev held-out 30%): precision and recall as they are
   (math zh, math en, code), plus machine text (source files, manuals) per source;
3. the real crawl WARCs in ../shared/data/crawl: pages labeled math / code;
4. the prefilter gates' pass rates;
5. the stage's docs/s against raw fastText ``predict`` on the same texts
   (``classify_speed.py`` has the breakdown).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classifier_sources as cs  # noqa: E402

from filters.classify.calibrate import implied_precision  # noqa: E402
from filters.classify.prefilter import gates  # noqa: E402
from filters.classify.stage import DEFAULT_CODE_MODEL, DEFAULT_MATH_MODEL, ClassifyStage  # noqa: E402

CRAWL = cs.ROOT.parent / "shared" / "data" / "crawl"


def crawl_pages() -> list[tuple[str, str, str]]:
    """(file, url, text) of every page the pipeline's WARC reader extracts from the crawl samples."""
    from pipeline.config import InputConfig
    from pipeline.io.readers.dispatch import read_file

    out = []
    for path in sorted(CRAWL.glob("*/*.warc.gz")):
        if path.name.endswith((".wet.gz", ".wat.gz")):
            continue
        for chunk in read_file(str(path), InputConfig(format="warc")):
            recs = chunk.records
            urls = recs["url"].to_pylist() if "url" in recs.column_names else [""] * recs.num_rows
            for url, text in zip(urls, recs["text"].to_pylist()):
                out.append((f"{path.parent.name}/{path.name}", url or "", text or ""))
    return out


def web_table(rows, math_s, code_s, stage) -> None:
    labels = np.array([cs.label_of(r) for r in rows])
    langs = np.array([r.lang for r in rows])
    kinds = np.array([r.meta["kind"] for r in rows])
    is_m, is_c = math_s >= stage.math_threshold, code_s >= stage.code_threshold
    print(f"\n== dev web test rows (never trained on, never used to choose): {len(rows)}; thresholds "
          f"math {stage.math_threshold:.3f}, code {stage.code_threshold:.3f}")
    print(f"{'lang':4s} {'label':8s} {'kind':16s} {'n':>4s} {'->math':>7s} {'->code':>7s}")
    for key in sorted(set(zip(langs, labels, kinds))):
        sel = (langs == key[0]) & (labels == key[1]) & (kinds == key[2])
        print(f"{key[0]:4s} {key[1]:8s} {key[2]:16s} {int(sel.sum()):4d} {is_m[sel].mean():7.3f} {is_c[sel].mean():7.3f}")
    print(f"\n{'lang':4s} {'model':5s} {'recall':>7s} {'general->':>10s} {'gen n':>6s} {'fp':>3s} "
          f"{'P@1%':>6s} {'P@0.1%':>7s}  {'target':s}")
    for lang in ("zh", "en"):
        gen = (langs == lang) & (labels == "general")
        for label, hit in (("math", is_m), ("code", is_c)):
            pos = (langs == lang) & (labels == label)
            rec = hit[pos].mean() if pos.any() else float("nan")
            fp = int(hit[gen].sum())
            fpr = fp / max(gen.sum(), 1)
            fpr_est = max(fpr, 0.5 / max(gen.sum(), 1))
            ok = rec >= 0.9 and fpr <= 0.005
            print(f"{lang:4s} {label:5s} {rec:7.3f} {fpr:10.4f} {int(gen.sum()):6d} {fp:3d} "
                  f"{implied_precision(rec, fpr_est, 0.01):6.3f} {implied_precision(rec, fpr_est, 0.001):7.3f}  "
                  f"{'met' if ok else 'NOT met'} (recall >= 0.90, general -> {label} <= 0.5%)")


def clean_table(rows, math_s, code_s, stage) -> None:
    labels = np.array([cs.label_of(r) for r in rows])
    groups = np.array([r.group for r in rows])
    langs = np.array([r.lang for r in rows])
    is_m, is_c = math_s >= stage.math_threshold, code_s >= stage.code_threshold
    clean = np.array([r.meta["set"] == "clean" for r in rows])
    print("\n== clean sets (tests/data/dev held out) : precision / recall as they are")
    for name, pred, truth, scope, need in (
            ("math zh (neg: zh sentences)", is_m, labels == "math", clean & (langs == "zh"), 0.95),
            ("math en (neg: en sentences, code)", is_m, labels == "math", clean & ((langs == "en") | (langs == "code")),
             0.95),
            ("code (neg: all clean text)", is_c, labels == "code", clean, 0.97)):
        p, t = pred[scope], truth[scope]
        tp = int((p & t).sum())
        prec, rec = tp / max(int(p.sum()), 1), tp / max(int(t.sum()), 1)
        ok = prec >= need and rec >= need
        print(f"{name:36s} P {prec:.4f} R {rec:.4f}  pos {int(t.sum()):4d} neg {int((~t).sum()):4d}  "
              f"{'met' if ok else 'NOT met'} (>= {need})")
    print("\n== machine text held out (per source: share labeled math | code)")
    for g in sorted(set(groups[~clean])):
        sel = groups == g
        print(f"{g:28s} n={int(sel.sum()):4d}  math {is_m[sel].mean():.4f}  code {is_c[sel].mean():.4f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--math-model", default=DEFAULT_MATH_MODEL)
    ap.add_argument("--code-model", default=DEFAULT_CODE_MODEL)
    ap.add_argument("--math-threshold", type=float)
    ap.add_argument("--code-threshold", type=float)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)
    stage = ClassifyStage(math_model=args.math_model, code_model=args.code_model, math_threshold=args.math_threshold,
                          code_threshold=args.code_threshold)
    rows = cs.collect(with_fetched=False)["test"]
    math_s, code_s = stage.score([r.text for r in rows])
    web = np.array([r.meta["set"] == "web" for r in rows])
    web_table([r for r, w in zip(rows, web) if w], math_s[web], code_s[web], stage)
    clean_table([r for r, w in zip(rows, web) if not w], math_s[~web], code_s[~web], stage)

    pages = crawl_pages()
    pm, pc_ = stage.score([t for _, _, t in pages])
    print(f"\n== crawl WARCs (the shared Common Crawl sample, data/crawl): {len(pages)} pages")
    per_file: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (f, _, _), m, c in zip(pages, pm, pc_):
        per_file[f][0] += 1
        per_file[f][1] += int(m >= stage.math_threshold)
        per_file[f][2] += int(c >= stage.code_threshold)
    for f, (n, m, c) in sorted(per_file.items()):
        print(f"{f:56s} pages {n:3d}  math {m:3d}  code {c:3d}")
    n_math = int((pm >= stage.math_threshold).sum())
    print(f"pages labeled math: {n_math} ({'met' if n_math == 0 else 'NOT met'}: none of these pages is a math page)")
    for (f, url, _), m in zip(pages, pm):
        if m >= stage.math_threshold:
            print(f"   math {m:.3f} {url}")

    texts = [r.text for r in rows]
    g = gates(texts)
    labels = np.array([cs.label_of(r) for r in rows])
    print("\n== prefilter gates (all held-out rows)")
    for name, gate, pos in (("math", g.math, labels == "math"), ("code", g.code, labels == "code")):
        print(f"{name}: recall on {name} rows {gate[pos].mean():.4f} ({int((~gate & pos).sum())} closed); "
              f"open on general rows {gate[labels == 'general'].mean():.4f}")

    if not args.no_speed:
        import classify_speed

        classify_speed.main(["--docs", "2000", "--repeats", "3"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
