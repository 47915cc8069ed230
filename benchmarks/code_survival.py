"""How much code survives cleaning (normalize -> langid -> heuristics), with prose/math as a guard.

Usage:
    python benchmarks/code_survival.py CORPUS_DIR [--config configs/demo.yaml] [--json OUT.json]
    python benchmarks/code_survival.py --labeled tests/data/dev/*.jsonl /work/shared/data/dev/web/*.jsonl

CORPUS_DIR is a ``make_corpus.py`` corpus (``docs/*.jsonl.gz`` plus ``docs_meta.jsonl.gz``,
whose ``cat`` says what each document is: code_py, code_c, en_prose, en_math, zh_prose,
zh_math). ``--labeled`` reads JSONL rows with a ``text`` and a ``label`` instead (the group
is ``<file stem>:<label>``, so a dev set's general/prose rows show beside its code rows).

Why this benchmark: a code corpus loses files that the prose rules misjudge (a Python
file routed as prose and called Japanese; a C header of ``#define`` lines failing a
line-length rule). Survival of code must rise without prose and math starting to slip
through on the code route, so every group is printed: documents in, survived, the
``doc_kind`` the first cleaning stages routed them to, and drops by reason. The stages are
those of ``--config`` (the demo's by default) up to and including heuristics.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow as pa

from pipeline.config import load_config
from pipeline.schema import make_batch

CLEANING = ("normalize", "langid", "heuristics")


def load_corpus(corpus: Path, limit: int | None) -> pl.DataFrame:
    """``id``, ``text`` and ``group`` (the corpus category) of every document."""
    parts = [pl.read_ndjson(gzip.decompress(p.read_bytes())) for p in sorted((corpus / "docs").glob("*.jsonl.gz"))]
    docs = pl.concat(parts).select("id", "text")
    meta = pl.read_ndjson(gzip.decompress((corpus / "docs_meta.jsonl.gz").read_bytes())).select("id", pl.col("cat").alias("group"))
    df = docs.join(meta, on="id", how="left").with_columns(pl.col("group").fill_null("unknown"))
    return df.head(limit) if limit else df


def load_labeled(paths: list[Path], limit: int | None, max_labels: int = 20) -> pl.DataFrame:
    """Rows of labeled JSONL files; the group is ``<file stem>:<label>`` (``<stem>:all``
    where a file has more than ``max_labels`` labels, e.g. near-duplicate cluster ids)."""
    frames = []
    for path in paths:
        df = pl.read_ndjson(path.read_bytes(), infer_schema_length=None)
        few_labels = "label" in df.columns and df["label"].n_unique() <= max_labels
        label = pl.col("label").cast(pl.String) if few_labels else pl.lit("all")
        frames.append(
            df.with_row_index("_i").select(
                (pl.lit(f"{path.stem}:") + pl.col("_i").cast(pl.String)).alias("id"),
                pl.col("text"),
                (pl.lit(f"{path.stem}:") + label).alias("group"),
            )
        )
    df = pl.concat(frames)
    return df.head(limit) if limit else df


def clean(df: pl.DataFrame, config_path: str, batch_size: int) -> pl.DataFrame:
    """Run the config's cleaning stages over ``df``; adds ``doc_kind`` and ``drop_reason``."""
    config = load_config(config_path)
    stages = [s for s in config.build_stages() if getattr(s, "name", "") in CLEANING]
    for s in stages:
        s.setup()
    out = []
    for start in range(0, df.height, batch_size):
        chunk = df.slice(start, batch_size)
        batch = make_batch(chunk["text"].to_list(), ids=chunk["id"].to_list(), source="code_survival")
        for s in stages:
            batch = s(batch)
        kinds = batch["doc_kind"] if "doc_kind" in batch.column_names else pa.nulls(batch.num_rows, pa.string())
        out.append(pl.from_arrow(pa.table({"drop_reason": batch["drop_reason"], "doc_kind": kinds})))
    return pl.concat([df, pl.concat(out)], how="horizontal")


def summarize(df: pl.DataFrame) -> dict[str, dict]:
    """Per group: in, survived, survival rate, doc_kind counts and drops by reason."""
    report: dict[str, dict] = {}
    for (group,), g in df.sort("group").group_by("group", maintain_order=True):
        kept = int(g["drop_reason"].is_null().sum())
        report[str(group)] = {
            "in": g.height,
            "survived": kept,
            "rate": kept / max(g.height, 1),
            "doc_kind": dict(Counter(g["doc_kind"].fill_null("-").to_list()).most_common()),
            "dropped": dict(Counter(g["drop_reason"].drop_nulls().to_list()).most_common()),
        }
    return report


def print_report(report: dict[str, dict]) -> None:
    print(f"{'group':<28} {'in':>7} {'survived':>9} {'rate':>7}  doc_kind / dropped by reason")
    for group, r in report.items():
        kinds = " ".join(f"{k}={v}" for k, v in r["doc_kind"].items())
        print(f"{group:<28} {r['in']:>7} {r['survived']:>9} {r['rate']:>7.1%}  [{kinds}]")
        for reason, n in r["dropped"].items():
            print(f"{'':<28} {'':>7} {'':>9} {'':>7}    {n:>6}  {reason}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", help="make_corpus.py output folder")
    ap.add_argument("--labeled", nargs="*", default=[], help="labeled JSONL files instead of a corpus")
    ap.add_argument("--config", default="configs/demo.yaml", help="stages normalize/langid/heuristics are taken from it")
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--limit", type=int, default=None, help="only the first N documents (a quick look)")
    ap.add_argument("--json", help="write the report (and, with --drops, the dropped code documents) here")
    ap.add_argument("--drops", type=int, default=0, help="with --json: keep this many dropped documents per group and reason")
    args = ap.parse_args()
    if not args.corpus and not args.labeled:
        ap.error("give a corpus folder or --labeled files")
    df = load_labeled([Path(p) for p in args.labeled], args.limit) if args.labeled else load_corpus(Path(args.corpus), args.limit)
    t0 = time.perf_counter()
    res = clean(df, args.config, args.batch_size)
    secs = time.perf_counter() - t0
    report = summarize(res)
    print(f"{res.height} documents through {', '.join(CLEANING)} in {secs:.1f} s ({res.height / max(secs, 1e-9):.0f} docs/s)")
    print_report(report)
    if args.json:
        payload: dict = {"report": report}
        if args.drops:
            sample = (
                res.filter(pl.col("drop_reason").is_not_null())
                .group_by(["group", "drop_reason"], maintain_order=True)
                .head(args.drops)
            )
            payload["drops"] = sample.select("group", "drop_reason", "doc_kind", "id", pl.col("text").str.slice(0, 1500)).to_dicts()
        Path(args.json).write_text(json.dumps(payload, indent=1, ensure_ascii=False))
        print(f"report written to {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
