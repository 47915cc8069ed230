#!/usr/bin/env python3
"""MinHash throughput per core INCLUDING normalization and shingling, same documents.

Documents: ~2 KB slices of real text (the dev sets: English math and prose, Chinese
math and prose, source code), built deterministically. Paths measured:

* taosha: ``filters.dedup.signatures.signature_table`` -- what the dedup stage runs:
  polars T2S + lowercase, compiled normalization/shingling/MinHash, exact hash, ids;
* taosha-numpy: the pure numpy/polars reference path (no numba) of the same values;
* datasketch: Python shingling (the same shingle strings) + ``MinHash.bulk``
  (default sha1 hash, affine32);
* rensa: the same Python shingle strings + ``RMinHash.update`` (Rust), if installed.

CPU seconds are process time (one core); medians over --repeats. Usage:
    benchmarks/minhash_speed.py [--docs 2000] [--num-perm 128] [--repeats 3] [--files math_pos_en,neg_en]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402

from filters.dedup.signatures import SignatureConfig, signature_table  # noqa: E402
from filters.dedup.sketch.minhash import signatures_numpy  # noqa: E402
from tests.filters.dedup.shingle_reference import shingle_hashes  # noqa: E402
from filters.dedup.sketch.shingles import ShingleConfig, shingle_normal_form, shingle_strings  # noqa: E402
from pipeline.schema import make_batch  # noqa: E402

FILES = ("math_pos_en", "neg_en", "code_pos", "math_pos_zh", "neg_zh")


def make_docs(data: Path, n: int, size: int = 2048, seed: int = 0, files: tuple[str, ...] = FILES) -> list[str]:
    rng = random.Random(seed)
    pools = {f: " ".join(json.loads(line)["text"] for line in (data / f"{f}.jsonl").open()) for f in files}
    weights = {"math_pos_en": 3, "neg_en": 3, "code_pos": 2, "math_pos_zh": 1, "neg_zh": 1}
    names = [f for f in files for _ in range(weights[f])]
    docs = []
    for _ in range(n):
        pool = pools[rng.choice(names)]
        chars = size // 3 if pool is pools.get("math_pos_zh") or pool is pools.get("neg_zh") else size
        start = rng.randrange(max(1, len(pool) - chars))
        docs.append(pool[start : start + chars])
    return docs


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "tests" / "data" / "dev"))
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--files", default=",".join(FILES), help="dev files to cut documents from (english: math_pos_en,neg_en)")
    args = ap.parse_args()
    docs = make_docs(Path(args.data), args.docs, files=tuple(args.files.split(",")))
    mb = sum(len(d.encode()) for d in docs) / 1e6
    cfg = SignatureConfig(num_perm=args.num_perm)
    batch = make_batch(docs, ids=[str(i) for i in range(len(docs))], source="bench")
    signature_table(batch.slice(0, 4), cfg)  # compile / load tables outside the timing
    sh = ShingleConfig()

    def python_shingles() -> list[list[bytes]]:
        return [[s.encode() for s in shingle_strings(t, sh)] for t in shingle_normal_form(docs, sh).to_list()]

    def ours_numpy() -> None:
        norm = shingle_normal_form(pl.Series(docs), sh)
        signatures_numpy(*shingle_hashes(norm, sh), num_perm=args.num_perm, seed=1)

    results = {
        "taosha (stage path, compiled)": timed(lambda: signature_table(batch, cfg), args.repeats),
        "taosha numpy/polars reference": timed(ours_numpy, args.repeats),
        "python shingling alone": timed(python_shingles, args.repeats),
    }
    from datasketch import MinHash

    results["datasketch MinHash.bulk + python shingling"] = timed(
        lambda: MinHash.bulk(python_shingles(), num_perm=args.num_perm, seed=1), 1)
    try:
        from rensa import RMinHash

        def rensa_run() -> None:
            for shingles in python_shingles():
                m = RMinHash(num_perm=args.num_perm, seed=1)
                m.update([s.decode() for s in shingles])
                m.digest()

        results["rensa RMinHash + python shingling"] = timed(rensa_run, args.repeats)
    except ImportError:
        print("rensa not installed: skipped")
    base = results["datasketch MinHash.bulk + python shingling"]
    print(f"{len(docs)} docs, {mb:.2f} MB (mean {mb * 1e6 / len(docs):.0f} B), num_perm={args.num_perm}; "
          f"CPU seconds per run (median of {args.repeats}; datasketch 1 run)")
    print(f"{'path':48} {'cpu s':>7} {'MB/s/core':>10} {'docs/s':>8} {'x datasketch':>12}")
    for name, sec in results.items():
        print(f"{name:48} {sec:7.2f} {mb / sec:10.1f} {len(docs) / sec:8.0f} {base / sec:12.1f}")


if __name__ == "__main__":
    main()
