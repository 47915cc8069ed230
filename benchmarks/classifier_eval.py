#!/usr/bin/env python3
"""Precision/recall/F1 of the shipped math and code classifiers on held-out rows.

Usage:
    python benchmarks/classifier_eval.py [--math-model M] [--code-model M] [--threshold 0.5]

Held out = never trained on (see classifier_sources.py): the 30% of tests/data/dev
rows (copies of ../shared/data/dev) whose id hash falls in the held-out split, the
30% of machine files by path hash, and every Go file (Go is not in training at all).
Documents are scored exactly as the ``classify`` stage scores them (tokenized by the
shared function, max over up to 8 pieces of 2000 characters).

Printed: math vs non-math and code vs non-code, for the dev rows alone and for dev +
machine text, zh and en separately; code recall per programming language; false
positives per negative source; model sizes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import regex

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import classifier_sources as cs  # noqa: E402

from filters.classify.stage import DEFAULT_CODE_MODEL, DEFAULT_MATH_MODEL, ClassifyStage  # noqa: E402
from filters.classify.train import binary_metrics  # noqa: E402

HAN = regex.compile(r"\p{Han}")


def row(name: str, scores: np.ndarray, truth: np.ndarray, thr: float) -> str:
    m = binary_metrics(scores, truth, thr)
    return (f"{name:44s} {m['precision']:7.4f} {m['recall']:7.4f} {m['f1']:7.4f} {int(truth.sum()):6d} "
            f"{int((~truth).sum()):6d} {m['fp']:5d} {m['fn']:5d}")


HEADER = f"{'':44s} {'prec':>7s} {'recall':>7s} {'f1':>7s} {'pos':>6s} {'neg':>6s} {'fp':>5s} {'fn':>5s}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--math-model", default=DEFAULT_MATH_MODEL)
    ap.add_argument("--code-model", default=DEFAULT_CODE_MODEL)
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args(argv)
    thr = args.threshold

    _, rows = cs.collect()
    stage = ClassifyStage(math_model=args.math_model, code_model=args.code_model)
    math_s, code_s = stage.score([r.text for r in rows])
    group = np.array([r.group for r in rows])
    kind = np.array([g.split(":")[0] for g in group])
    lang = np.array([r.lang for r in rows])
    is_dev = np.char.startswith(group.astype(str), "math:dev") | np.char.startswith(group.astype(str), "code:dev") | \
        np.char.startswith(group.astype(str), "prose:dev")
    has_han = np.array([bool(HAN.search(r.text)) for r in rows])
    is_math, is_code = kind == "math", kind == "code"

    print(f"held-out documents: {len(rows)} ({int(is_dev.sum())} dev rows); threshold {thr}")
    for title, scope in (("dev rows only (tests/data/dev held-out split)", is_dev),
                         ("dev + machine text held out", np.ones(len(rows), bool))):
        print(f"\n== {title}\n{HEADER}")
        sel = scope & (is_math & (lang == "en") | (~is_math & (lang == "en")) | is_code)
        print(row("math vs non-math, en (neg: en prose + code)", math_s[sel], is_math[sel], thr))
        sel = scope & (lang == "zh")
        print(row("math vs non-math, zh (neg: zh prose)", math_s[sel], is_math[sel], thr))
        print(row("math vs non-math, all (every language)", math_s[scope], is_math[scope], thr))
        sel = scope & ((is_code & ~has_han) | (~is_code & (lang == "en")))
        print(row("code vs non-code, en (code w/o Han chars)", code_s[sel], is_code[sel], thr))
        sel = scope & ((is_code & has_han) | (~is_code & (lang == "zh")))
        print(row("code vs non-code, zh (code with Han chars)", code_s[sel], is_code[sel], thr))
        print(row("code vs non-code, all", code_s[scope], is_code[scope], thr))

    print("\n== code recall per programming language (precision is the shared figure above)")
    for g in sorted(set(group[is_code])):
        sel = group == g
        hit = code_s[sel] >= thr
        note = " (never trained on)" if g == "code:go" else ""
        print(f"{g:28s} n={int(sel.sum()):5d}  recall {hit.mean():.4f}  missed {int((~hit).sum()):3d}{note}")

    print("\n== false-positive rate per negative source (math model | code model)")
    for g in sorted(set(group)):
        sel = group == g
        mfp = f"{np.mean(math_s[sel] >= thr):.4f}" if not is_math[sel][0] else "   pos"
        cfp = f"{np.mean(code_s[sel] >= thr):.4f}" if not is_code[sel][0] else "   pos"
        print(f"{g:28s} n={int(sel.sum()):5d}  math {mfp}  code {cfp}")

    print("\n== models")
    for p in (args.math_model, args.code_model):
        print(f"{Path(p).name:28s} {Path(p).stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
