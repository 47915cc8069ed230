#!/usr/bin/env python3
"""Markdown tables from the model cards (for filters/models/README-classifiers.md).

Usage:
    python benchmarks/classifier_card_tables.py [--models-dir filters/models]

Prints: the threshold -> recall / false-positive rate / implied precision curve of each
model on its calibration rows, the mining rounds, and the sources with repository,
commit, license and counts per split and label.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def curve(card: dict) -> str:
    rows = [f"**{card['model']}** (recommended threshold {card['recommended_threshold']}; calibration rows: "
            f"{card['calibration_rows']['positive']} positive, {card['calibration_rows']['negative']} negative)", "",
            "| threshold | recall | FPR | FP | precision at 1% | precision at 0.1% |", "|---|---|---|---|---|---|"]
    for r in card["threshold_curve_calib"]:
        rows.append(f"| {r['threshold']} | {r['recall']:.4f} | {r['fpr']:.5f} | {r['fp']} | "
                    f"{r['precision_at_1pct']:.4f} | {r['precision_at_0.1pct']:.4f} |")
    return "\n".join(rows)


def rounds(card: dict) -> str:
    out = ["| round | training rows (mined) | pool: math FP@0.5 / hard neg@0.2 / missed | "
           "pool: code FP@0.5 / hard neg@0.2 / missed | new rows added | where the hard negatives / missed rows came from |",
           "|---|---|---|---|---|---|"]
    for r in card["rounds"]:
        cells = []
        where = []
        for label in ("math", "code"):
            s = r["pool_after_training"][label]
            hard = next(v for k, v in s.items() if k.startswith("hard_negative"))
            cells.append(f"{s['false_positive_at_0.5']} / {hard} / {s['missed_positive_at_0.5']}")
            fp = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in s["fp_sources"].items()) or "none"
            fn = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in s["fn_sources"].items()) or "none"
            where.append(f"{label}: hard negatives {fp}; missed {fn}")
        out.append(f"| {r['round']} | {r['train_rows']} ({r['mined_rows_in_training']}) | {cells[0]} | {cells[1]} | "
                   f"{r['new_mistakes']} | {' / '.join(where)} |")
    return "\n".join(out)


def sources(card: dict) -> str:
    out = ["| source | repository @ commit | license | train (math/code/general) | calib | mined |",
           "|---|---|---|---|---|---|"]
    for s in card["sources"]:
        rows = s["rows"]

        def split(name: str) -> str:
            vals = [rows.get(f"{name}:{lab}", 0) for lab in ("math", "code", "general")]
            return "/".join(str(v) for v in vals) if any(vals) else "-"
        repo = s["repository"] + (f" @ {s['commit'][:10]}" if s.get("commit") else "")
        if s["source"].startswith("dev_"):
            repo = "tests/data/dev (see its PROVENANCE.md)"
        elif repo.startswith("this machine"):
            repo = "this machine"
        out.append(f"| {s['source']} | {repo} | {s['license']} | {split('train')} | {split('calib')} | "
                   f"{split('mined')} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default=str(ROOT / "filters" / "models"))
    args = ap.parse_args(argv)
    cards = {name: json.loads((Path(args.models_dir) / f"{name}_classifier.json").read_text())
             for name in ("math", "code")}
    print("### Threshold curves (calibration rows)\n")
    print(curve(cards["math"]) + "\n\n" + curve(cards["code"]))
    print("\n### Rounds\n")
    print(rounds(cards["math"]))
    print("\n### Sources\n")
    print(sources(cards["math"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
