#!/usr/bin/env python3
"""Pair precision / recall / F1 of the dedup stage on the labelled near-duplicate set.

Runs the real stage end to end (run_global on the local engine, then __call__) over
every text of neardup_clusters.jsonl, then scores each pair of neardup_pairs.jsonl:
predicted duplicate = both documents in the same ``dup_cluster``. Prints figures per
family (cmath distractor variants, gsd Traditional vs Simplified, gsm8k standard vs
socratic) and overall, and what the LSH parameters imply for unrelated pairs.

Usage: benchmarks/dedup_eval.py [--data DIR] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filters.dedup.stage import DedupStage  # noqa: E402
from filters.dedup.sketch.lsh_params import candidate_probability, edge_probability  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402
from pipeline.stage import GlobalContext  # noqa: E402


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = json.loads(v) if v[:1] in "0123456789[{tfn-" else v
    return out


def clusters_of(texts: list[str], ids: list[str], stage: DedupStage) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.parquet"
        pq.write_table(make_batch(texts, ids=ids, source="neardup"), path)
        stage.run_global([str(path)], GlobalContext(engine="local", work_dir=str(Path(tmp) / "work")))
        out = stage(pq.read_table(path))
    return {i: (c or i) for i, c in zip(out["id"].to_pylist(), out["dup_cluster"].to_pylist())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/dev")
    ap.add_argument("--set", nargs="*", default=[], help="stage field overrides, e.g. threshold=0.6")
    args = ap.parse_args()
    data = Path(args.data)
    rows = [json.loads(line) for line in (data / "neardup_clusters.jsonl").open()]
    pairs = [json.loads(line) for line in (data / "neardup_pairs.jsonl").open()]
    stage = DedupStage(**parse_set(args.set))
    plan = stage.plan()
    cluster = clusters_of([r["text"] for r in rows], [r["id"] for r in rows], stage)
    print(f"dedup defaults: {stage.threshold=} {stage.num_perm=} bands x rows = {plan.bands} x {plan.rows} "
          f"verify={stage.verify} shingles={plan.signature.shingles.key()}")
    print(f"{'family':8} {'pairs':>5} {'pos':>4} {'precision':>9} {'recall':>7} {'F1':>6}")
    for fam in ("cmath", "gsd", "gsm8k", None):
        sel = [p for p in pairs if fam is None or p["family"] == fam]
        tp = sum(1 for p in sel if p["label"] and cluster[p["id_a"]] == cluster[p["id_b"]])
        fp = sum(1 for p in sel if not p["label"] and cluster[p["id_a"]] == cluster[p["id_b"]])
        fn = sum(1 for p in sel if p["label"] and cluster[p["id_a"]] != cluster[p["id_b"]])
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        print(f"{fam or 'overall':8} {len(sel):5d} {tp + fn:4d} {prec:9.3f} {rec:7.3f} {f1:6.3f}")
    thr = stage.threshold if stage.verify else None
    print("\nP(pair becomes an LSH candidate) / P(duplicate edge after verification) by true Jaccard s:")
    for s in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        print(f"  s={s:.2f}  candidate {candidate_probability(s, plan.bands, plan.rows):.2e}"
              f"  edge {edge_probability(s, plan.bands, plan.rows, stage.num_perm, thr):.2e}")


if __name__ == "__main__":
    main()
