"""Throughput of the langid stage against raw fastText predict on the same texts.

Usage: python benchmarks/langid_speed.py [--data-dir /work/shared/data/dev] [--docs 3000] [--repeats 5]

Documents of ~2 KB are assembled from the labeled dev rows (math zh/en, prose zh/en,
code files; consecutive rows of one file joined with newlines), the size of a typical
extracted web page. Both sides get the same list; raw means
``model.predict([t.replace("\\n", " ") for t in texts])``, the least any caller must do
(fastText reads one line). Polars is pinned to one thread so both sides use one core.
Repeats alternate raw and stage; prints medians of wall-clock and of process CPU time
(CPU time is the steadier figure on a shared machine) and the stage/raw ratios.
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # one core for both sides

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from filters.langid.stage import LangIdStage  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402

FILES = ["math_pos_en", "math_pos_zh", "neg_en", "neg_zh", "code_pos"]


def build_docs(data_dir: Path, n_docs: int, target_bytes: int = 2000) -> list[str]:
    pieces: list[str] = []
    for name in FILES:
        buf: list[str] = []
        size = 0
        for line in open(data_dir / f"{name}.jsonl", encoding="utf-8"):
            text = json.loads(line)["text"]
            buf.append(text)
            size += len(text.encode())
            if size >= target_bytes:
                pieces.append("\n".join(buf))
                buf, size = [], 0
    docs = []
    while len(docs) < n_docs:
        docs.extend(pieces)
    return docs[:n_docs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default="/work/shared/data/dev")
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--segment-chars", type=int, default=None, help="override LangIdStage.segment_chars (e.g. 1000000: read every character)")
    args = ap.parse_args()
    docs = build_docs(Path(args.data_dir), args.docs)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    stage = LangIdStage() if args.segment_chars is None else LangIdStage(segment_chars=args.segment_chars)
    stage.setup()
    batch = make_batch(docs, ids=[str(i) for i in range(len(docs))], source="bench")
    stage(batch.slice(0, 10))  # warm caches (tables, regexes)
    wall: dict[str, list[float]] = {"raw": [], "stage": []}
    cpu: dict[str, list[float]] = {"raw": [], "stage": []}

    def timed(kind: str, fn) -> None:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall[kind].append(time.perf_counter() - w0)
        cpu[kind].append(time.process_time() - c0)

    for _ in range(args.repeats):  # interleaved, so both sides see the same machine load
        timed("raw", lambda: stage._model.predict([d.replace("\n", " ") for d in docs], k=1))
        timed("stage", lambda: stage(batch))
    print(f"segment_chars={stage.segment_chars}; {len(docs)} docs, {mb:.2f} MB, {args.repeats} interleaved repeats (medians), 1 process; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for label, t in (("wall", wall), ("cpu", cpu)):
        raw, ours = statistics.median(t["raw"]), statistics.median(t["stage"])
        pair = statistics.median(r / o for r, o in zip(t["raw"], t["stage"]))
        print(f"[{label} time] raw lid.176 predict: {len(docs) / raw:7.0f} docs/s {mb / raw:6.2f} MB/s | "
              f"langid stage: {len(docs) / ours:7.0f} docs/s {mb / ours:6.2f} MB/s | stage/raw {raw / ours:.2f} "
              f"(median of per-repeat ratios {pair:.2f})")


if __name__ == "__main__":
    main()
