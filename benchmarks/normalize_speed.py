"""Throughput of the normalize stage, in MB/s of input text per core.

Input: the real rows of tests/data/dev (English/Chinese math, code, 10-language
sentences, prose), repeated to ``--mb`` megabytes and cut into batches of
``--batch-rows`` (the runner's default is 1000). Variants: the default stage; with
Traditional -> Simplified; full NFKC outside spans; and a "dirty" input where
``--dirty-pct`` percent of the rows are turned into mojibake (UTF-8 read as cp1252).

Baseline, measured in the same run on the same rows: ``unicodedata.normalize('NFC')``
per row over Python strings (the loop alone, and with the Arrow -> Python -> Arrow
round trip a stage would need). CPython returns already-NFC strings after a quick
check, so the loop-only baseline is close to a memory scan: it is the floor of what
"doing nothing useful" costs, not a comparable normalizer.

One core: Polars and Arrow are limited to one thread before they are imported, and
MB/s is input MB per CPU-second of this process (``time.process_time``), so other jobs
on a shared machine disturb it far less than wall time (also printed). Medians of
``--repeats`` runs. Usage: ``python benchmarks/normalize_speed.py [--mb 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import unicodedata
from pathlib import Path

os.environ["POLARS_MAX_THREADS"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

pa.set_cpu_count(1)
pa.set_io_thread_count(1)

from filters.normalize.chinese_script import simplify  # noqa: E402
from filters.normalize.mojibake import repair_mojibake  # noqa: E402
from filters.normalize.stage import NormalizeStage, cjk_char_counts  # noqa: E402
from filters.normalize.unicode_text import clean_controls, normalize_unicode, normalize_whitespace  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402


def load_texts(dev_dir: Path, mb: float) -> list[str]:
    base = []
    for path in sorted(dev_dir.glob("*.jsonl")):
        base += [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
    size = sum(len(t.encode()) for t in base)
    return base * max(1, round(mb * 1e6 / size))


def make_dirty(texts: list[str], pct: float) -> list[str]:
    import ftfy.bad_codecs  # noqa: F401 - registers sloppy-windows-1252

    step = max(1, round(100 / pct)) if pct > 0 else len(texts) + 1
    return [t.encode().decode("sloppy-windows-1252") if i % step == 0 and not t.isascii() else t
            for i, t in enumerate(texts)]


def batches(texts: list[str], rows: int) -> list[pa.Table]:
    return [make_batch(texts[i:i + rows], ids=[str(j) for j in range(i, i + len(texts[i:i + rows]))], source="bench")
            for i in range(0, len(texts), rows)]


def median_seconds(fn, repeats: int) -> tuple[float, float]:
    """Median CPU seconds (process time: robust to other jobs on a shared machine) and wall seconds."""
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev-dir", type=Path, default=ROOT / "tests" / "data" / "dev")
    ap.add_argument("--mb", type=float, default=4.0, help="input size in MB (default 4)")
    ap.add_argument("--batch-rows", type=int, default=1000)
    ap.add_argument("--dirty-pct", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    texts = load_texts(args.dev_dir, args.mb)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    clean = batches(texts, args.batch_rows)
    dirty = batches(make_dirty(texts, args.dirty_pct), args.batch_rows)
    print(f"input: {len(texts)} rows, {mb:.2f} MB, {len(clean)} batches of {args.batch_rows} rows; 1 thread; "
          f"median of {args.repeats}")

    def baseline_loop():
        for b in clean:
            [unicodedata.normalize("NFC", t) for t in b.column("text").to_pylist()]

    pylists = [b.column("text").to_pylist() for b in clean]

    def baseline_loop_only():
        for lst in pylists:
            [unicodedata.normalize("NFC", t) for t in lst]

    def baseline_roundtrip():
        for b in clean:
            pa.array([unicodedata.normalize("NFC", t) for t in b.column("text").to_pylist()], pa.large_string())

    def stage_run(stage, data):
        return lambda: [stage(b) for b in data]

    rows = [
        ("baseline: unicodedata NFC per row (loop only)", baseline_loop_only),
        ("baseline: NFC per row incl. Arrow -> Python", baseline_loop),
        ("baseline: NFC per row incl. Arrow round trip", baseline_roundtrip),
        ("normalize (defaults)", stage_run(NormalizeStage(), clean)),
        ("normalize to_simplified=true", stage_run(NormalizeStage(to_simplified=True), clean)),
        ("normalize unicode_form=nfkc", stage_run(NormalizeStage(unicode_form="nfkc"), clean)),
        (f"normalize (defaults), {args.dirty_pct:g}% mojibake rows", stage_run(NormalizeStage(), dirty)),
    ]
    arrays = [b.column("text").combine_chunks() for b in clean]
    steps = [
        ("  step: mojibake check+repair", lambda: [repair_mojibake(a) for a in arrays]),
        ("  step: control characters", lambda: [clean_controls(a) for a in arrays]),
        ("  step: unicode (safe)", lambda: [normalize_unicode(a) for a in arrays]),
        ("  step: whitespace", lambda: [normalize_whitespace(a) for a in arrays]),
        ("  step: t2s check+convert", lambda: [simplify(a) for a in arrays]),
        ("  step: CJK count", lambda: [cjk_char_counts(a) for a in arrays]),
    ]
    results = {}
    print(f"{'variant':55s} {'MB/s/core':>10s} {'vs NFC loop':>12s} {'(wall MB/s)':>12s}")
    for name, fn in rows + steps:
        fn()  # warm up (loads ftfy tables and the t2s automaton's dictionaries)
        cpu, wall = median_seconds(fn, args.repeats)
        results[name] = mb / cpu
        base = results[rows[0][0]]
        print(f"{name:55s} {mb / cpu:10.1f} {mb / cpu / base:11.3f}x {mb / wall:12.1f}")


if __name__ == "__main__":
    main()
