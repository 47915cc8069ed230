#!/usr/bin/env python3
"""Scaling of the end-to-end run: the same config on a corpus and on one k times larger.

    python benchmarks/e2e_scale.py SMALL LARGE [--reps 2] [--work /tmp/taosha_e2e_scale]

SMALL and LARGE are two corpora of ``benchmarks/scale_corpus.py`` from the same seed
corpus (e.g. ``--docs 50000`` and ``--docs 200000``), so that only the size differs. Each
goes through ``benchmarks/e2e.py``'s ``taosha`` run (``configs/cc_math_code.yaml`` without
classify, local engine, one whole process measured with ``wait4``), the two alternating,
``--reps`` times. Prints the medians of CPU seconds, wall seconds and peak RSS for each and
their ratios (#12's target: CPU at most 4.4x for 4x the documents, peak RSS within 1.2x).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.e2e import run_taosha  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("small", type=Path)
    ap.add_argument("large", type=Path)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/taosha_e2e_scale"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    corpora = {"small": args.small, "large": args.large}
    docs = {k: json.loads((c / "manifest.json").read_text())["docs"] for k, c in corpora.items()}
    runs: dict[str, list[dict]] = {k: [] for k in corpora}
    for rep in range(args.reps):
        for name, corpus in corpora.items():
            r = run_taosha(name, [str(corpus / "docs")], args.work, classify=False, rep=rep)
            runs[name].append(r)
            print(f"[scale] rep {rep + 1}/{args.reps} {name} ({docs[name]} docs): CPU {r['cpu_s']:.1f} s, "
                  f"wall {r['wall_s']:.1f} s, peak RSS {r['max_rss_mb']:.0f} MB, kept {r['kept']}", flush=True)
    print(f"\n== e2e scaling: {docs['large']} against {docs['small']} documents "
          f"({docs['large'] / docs['small']:.2f}x), medians of {args.reps} alternating run(s)")
    for key, label in (("cpu_s", "CPU s"), ("wall_s", "wall s"), ("max_rss_mb", "peak RSS MB")):
        small = statistics.median(r[key] for r in runs["small"])
        large = statistics.median(r[key] for r in runs["large"])
        print(f"  {label:12s} small {small:8.1f}  large {large:8.1f}  ratio {large / small:.2f}x")


if __name__ == "__main__":
    main()
