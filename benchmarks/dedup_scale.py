#!/usr/bin/env python3
"""Dedup at scale on Ray: docs/s, peak RSS, recall of injected duplicates.

Builds (or reuses) a real-text corpus with /work/shared/bench/make_corpus.py (5% exact
and 10% near duplicates injected, ground truth in dups.jsonl), converts its shards to
Parquet batches in the core schema (what the runner spills before a global stage; timed
apart), runs ``DedupStage.run_global`` on the chosen engine, applies the marks and
scores them like /work/shared/bench/datatrove_bench.py: an injected pair is caught when
either document is removed; "other removed" are documents outside any injected pair.

The marks are then applied as the runner applies them (``bind_input`` per input, then
``__call__`` on its batches), and the removed documents are taken from that output.

Usage:
    benchmarks/dedup_scale.py [--docs 50000] [--engine ray|local] [--cpus 2] [--work DIR]
    benchmarks/dedup_scale.py --corpus DIR     # any corpus in make_corpus.py's format, e.g. one
                                               # grown to 1M+ docs by benchmarks/scale_corpus.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from filters.dedup.stage import DedupStage  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402
from pipeline.stage import GlobalContext  # noqa: E402


def _proc_tree_rss(root: int) -> tuple[int, int, dict[int, float]]:
    """(RSS of ``root``, RSS of root + all descendants) in bytes, and CPU seconds per
    process of the tree, from /proc."""
    parent, rss, cpu = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return rss.get(root, 0), sum(rss.get(p, 0) for p in tree), {p: cpu.get(p, 0.0) for p in tree}


class PeakRSS:
    """Samples the RSS of this process and all its descendants (Ray's raylet, workers;
    shared object-store pages count once per process that maps them)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval, self.peak_tree, self.peak_self = interval, 0, 0
        self.cpu: dict[int, float] = {}  # last CPU seconds seen per process
        self.cpu_start = sum(_proc_tree_rss(os.getpid())[2].values())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            own, total, cpu = _proc_tree_rss(os.getpid())
            self.cpu.update(cpu)
            self.peak_tree = max(self.peak_tree, total)
            self.peak_self = max(self.peak_self, own)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu.update(_proc_tree_rss(os.getpid())[2])

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds of the process tree while sampling (exited processes count
        up to their last sample)."""
        return sum(self.cpu.values()) - self.cpu_start


def ensure_corpus(corpus: Path, docs: int, make_corpus: str, dev: str, mix: str | None) -> None:
    if (corpus / "manifest.json").exists():
        return
    cmd = [sys.executable, make_corpus, str(corpus), "--docs", str(docs), "--seed", "0", "--dev-data", dev]
    subprocess.run(cmd + (["--mix", mix] if mix else []), check=True)


def to_parquet(corpus: Path, out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard in sorted((corpus / "docs").glob("*.jsonl.gz")):
        path = out / (shard.name.split(".")[0] + ".parquet")
        if not path.exists():
            rows = [json.loads(line) for line in gzip.open(shard, "rt", encoding="utf-8")]
            pq.write_table(make_batch([r["text"] for r in rows], ids=[r["id"] for r in rows], source=shard.name),
                           str(path) + ".tmp")
            os.replace(str(path) + ".tmp", path)
        paths.append(str(path))
    return paths


def score(corpus: Path, ids_in: set[str], removed: set[str]) -> dict:
    dups = [json.loads(line) for line in (corpus / "dups.jsonl").open()]
    by_kind: dict[str, list[int]] = {}
    expected = set()
    for d in dups:
        o, c = d["orig_id"], d["dup_id"]
        expected.update((o, c))
        caught = int(o in removed or c in removed)
        for key in (d["kind"], f"{d['kind']}/{d.get('cat', '?')}"):
            k = by_kind.setdefault(key, [0, 0])
            k[0] += 1
            k[1] += caught
    return {"recall": {k: (n, c, c / n) for k, (n, c) in by_kind.items()},
            "other_removed": len(removed - expected), "removed": len(removed), "docs": len(ids_in)}


def run_pipeline(corpus: Path, work: Path, engine: str, cpus: int, overrides: list[str]) -> None:
    """JSONL.gz -> dedup -> Parquet shards with the runner; removed = the run's rejects."""
    import shutil

    import polars as pl

    from pipeline.config import load_config, parse_overrides
    from pipeline.run.local import run_local
    from pipeline.run.ray.runner import run_ray

    out = work / f"pipeline-{corpus.name}-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    config = load_config(data={
        "input": {"paths": [str(corpus / "docs")]},
        "output": {"dir": str(out), "rejects_text": False},
        "run": {"engine": engine, "num_workers": cpus},
        "stages": [{"dedup": parse_overrides(overrides)}],
    })
    manifest = json.loads((corpus / "manifest.json").read_text())
    with PeakRSS() as rss:
        t1 = time.perf_counter()
        if engine == "ray":
            result = run_ray(config, progress=None, ray_options={"num_cpus": cpus})
        else:
            result = run_local(config, progress=None)
        wall = time.perf_counter() - t1
    rejects = pl.read_parquet(out / "rejects" / "*.parquet", columns=["id", "drop_reason"])
    removed = set(rejects.filter(pl.col("drop_reason").str.starts_with("dedup:"))["id"].to_list())
    kept_ids = pl.read_parquet(out / "data" / "*.parquet", columns=["id"])["id"].to_list()
    res = score(corpus, set(kept_ids) | set(rejects["id"].to_list()), removed)
    n_docs, mb = manifest["docs"], manifest["text_bytes"] / 1e6
    print(f"pipeline engine={engine} cpus={cpus}: read JSONL.gz -> dedup -> Parquet, {n_docs} docs, {mb:.0f} MB text")
    print(f"wall {wall:.1f} s -> {n_docs / wall:.0f} docs/s, {mb / wall:.2f} MB/s; CPU {rss.cpu_seconds:.1f} s; "
          f"kept {result.stats.kept}, rejected {result.stats.rejected}, errored {result.stats.errored}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"peak RSS: driver {rss.peak_self / 2**20:.0f} MiB, driver + Ray processes {rss.peak_tree / 2**20:.0f} MiB")
    for kind, (n, c, r) in sorted(res["recall"].items()):
        print(f"recall {kind:16s}: {c}/{n} = {r:.4f}")
    print(f"removed {res['removed']} of {res['docs']}; removed outside injected pairs: {res['other_removed']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--engine", choices=("ray", "local"), default="ray")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--work", default="/tmp/taosha_dedup_scale")
    ap.add_argument("--corpus", default=None, help="an existing make_corpus.py output (default WORK/corpus-N)")
    ap.add_argument("--make-corpus", default="/work/shared/bench/make_corpus.py")
    ap.add_argument("--dev-data", default="/work/shared/data/dev")
    ap.add_argument("--set", nargs="*", default=[], help="stage overrides key=value")
    ap.add_argument("--mix", default=None, help="make_corpus --mix; the default mix runs out of English prose at "
                    "~54k docs here, e.g. en_prose=0.08,code_py=0.05,code_c=0.05,en_math=0.32,zh_prose=0.25,zh_math=0.25")
    ap.add_argument("--pipeline", action="store_true",
                    help="end to end instead: the runner reads the corpus's JSONL.gz, runs only dedup and writes "
                         "Parquet shards (what DataTrove's dedup_only variant times)")
    args = ap.parse_args()
    work = Path(args.work)
    corpus = Path(args.corpus) if args.corpus else work / f"corpus-{args.docs}"
    t0 = time.perf_counter()
    ensure_corpus(corpus, args.docs, args.make_corpus, args.dev_data, args.mix)
    if args.pipeline:
        return run_pipeline(corpus, work, args.engine, args.cpus, args.set)
    inputs = to_parquet(corpus, work / f"parquet-{corpus.name}")
    n_docs = sum(pq.read_metadata(p).num_rows for p in inputs)
    mb = sum(pq.read_table(p, columns=["text"])["text"].combine_chunks().nbytes for p in inputs) / 1e6
    print(f"corpus {corpus} ready: {n_docs} docs, {mb:.0f} MB text ({time.perf_counter() - t0:.0f} s incl. build)")
    overrides = {k: json.loads(v) if v[:1] in "0123456789tfn[" else v for k, _, v in (s.partition("=") for s in args.set)}
    stage = DedupStage(**overrides)
    run_dir = work / f"run-{corpus.name}-{args.engine}"
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    if args.engine == "ray":
        import ray

        ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    cpu0 = time.process_time()
    with PeakRSS() as rss:
        t1 = time.perf_counter()
        stage.run_global(inputs, GlobalContext(engine=args.engine, work_dir=str(run_dir / "work"),
                                               num_workers=args.cpus, output_dir=str(run_dir / "out")))
        wall = time.perf_counter() - t1
    phases = {p.name: time.ctime(p.stat().st_mtime)[11:19] for p in sorted((run_dir / "work").iterdir(), key=lambda p: p.stat().st_mtime)}
    # apply the marks the way the runner does: bind one input, stream its batches
    t2, removed, held = time.perf_counter(), set(), 0
    for path in inputs:
        stage.bind_input(path)
        held = max(held, stage.bound_marks_rows)
        columns = ["id", "text", "source", "drop_reason"]  # source: part of the row key the marks are keyed by
        for rb in pq.ParquetFile(path).iter_batches(batch_size=8192, columns=columns):
            out = stage(pa.Table.from_batches([rb]))
            removed.update(out.filter(pc.is_valid(out["dup_of"]))["id"].to_pylist())
    apply_s = time.perf_counter() - t2
    ids_in = set().union(*(pq.read_table(p, columns=["id"])["id"].to_pylist() for p in inputs))
    res = score(corpus, ids_in, removed)
    cpu1 = time.process_time()
    print(f"engine={args.engine} cpus={args.cpus} threshold={stage.threshold} bands x rows={stage.plan().bands}x{stage.plan().rows}")
    print(f"run_global wall {wall:.1f} s -> {n_docs / wall:.0f} docs/s, {mb / wall:.2f} MB/s wall; "
          f"CPU {rss.cpu_seconds:.1f} s (driver {cpu1 - cpu0:.1f} s) -> {n_docs / rss.cpu_seconds:.0f} docs per CPU-second; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"peak RSS: driver {rss.peak_self / 2**20:.0f} MiB, driver + Ray processes {rss.peak_tree / 2**20:.0f} MiB")
    print(f"phase finish times: {phases}")
    print(f"apply (bind_input + __call__ per input, one process): {apply_s:.1f} s -> {n_docs / apply_s:.0f} docs/s; "
          f"most marks held at once: {held} rows (one input's), of {len(removed)} documents removed")
    for kind, (n, c, r) in sorted(res["recall"].items()):
        print(f"recall {kind:16s}: {c}/{n} = {r:.4f}")
    print(f"removed {res['removed']} of {res['docs']}; removed outside injected pairs: {res['other_removed']}")
    if args.engine == "ray":
        ray.shutdown()


if __name__ == "__main__":
    main()
