"""Throughput of the heuristics stage in MB/s per core, overall and per language mix.

Usage: python benchmarks/heuristics_speed.py [--data-dir /work/shared/data/dev] [--docs 2000] [--repeats 3]

Documents of ~2 KB are assembled from the labeled dev rows (as in langid_speed.py).
English/code-heavy and Chinese-heavy sets are timed separately because Chinese runs
jieba's segmentation (compiled: ``filters/signals/jieba_kernel.py``) and alphabetic text does not. Polars
is pinned to one thread (POLARS_MAX_THREADS=1, set before import) so the figure is per
core. Prints the medians of ``--repeats`` runs in wall-clock and in process CPU time (the
steadier figure on a shared machine), and the jieba share of the Chinese CPU time.
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from langid_speed import build_docs  # noqa: E402

from filters.signals.doc_kind import doc_kind  # noqa: E402
from filters.heuristics.stage import HeuristicsStage  # noqa: E402
from filters.signals.script_detect import char_stats  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default="/work/shared/data/dev")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import pyarrow as pa

    docs = build_docs(Path(args.data_dir), args.docs)
    arr = pa.array(docs)
    zh = (char_stats(arr).han_share >= 0.5) & (doc_kind(arr).to_numpy(zero_copy_only=False) != "code")
    sets = {  # Chinese prose/math is what jieba segments; code is never segmented
        "all": docs,
        "zh": [d for d, z in zip(docs, zh) if z],
        "en+code": [d for d, z in zip(docs, zh) if not z],
    }
    stage = HeuristicsStage()
    stage.setup()
    stage(make_batch(docs[:10], ids=[str(i) for i in range(10)], source="warm"))
    print(f"polars threads: {os.environ['POLARS_MAX_THREADS']}; {args.repeats} repeats (medians); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, texts in sets.items():
        batch = make_batch(texts, ids=[str(i) for i in range(len(texts))], source="bench")
        mb = sum(len(t.encode()) for t in texts) / 1e6
        wall, cpu = [], []
        for _ in range(args.repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            stage(batch)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        w, c = statistics.median(wall), statistics.median(cpu)
        print(f"{name:<8} {len(texts):5d} docs {mb:6.2f} MB | wall {mb / w:6.2f} MB/s {len(texts) / w:6.0f} docs/s"
              f" | cpu {mb / c:6.2f} MB/s per core {len(texts) / c:6.0f} docs/s")
        if name == "zh":
            jt = []
            for _ in range(args.repeats):
                c0 = time.process_time()
                stage._jieba.joined(pa.array(texts, pa.large_string()))  # what the stage segments
                jt.append(time.process_time() - c0)
            print(f"         of which jieba segmentation: {statistics.median(jt) / c:.0%} of the CPU time")


if __name__ == "__main__":
    main()
