#!/usr/bin/env python3
"""Grow a make_corpus.py corpus to millions of documents of recombined real text.

make_corpus.py (../shared/bench) cuts documents from the real text found offline; with
its default mix the English prose runs out near 54k documents, and its near-duplicate
screen makes 200k documents take ~25 min. This script takes such a corpus as the *seed*
and writes a corpus of any size in the same format (docs/part-NNNNN.jsonl.gz,
docs_meta.jsonl.gz, dups.jsonl, manifest.json), so benchmarks/dedup_scale.py and
DataTrove's datatrove_bench.py read it unchanged:

* Units: every line of the seed's *original* documents (injected copies are left out),
  per category (en_prose, code_py, code_c, en_math, zh_prose, zh_math); lines longer
  than --max-unit bytes are cut at sentence ends (。！？；. ! ?) or spaces, so that no
  unit dominates a document. Every unit is real text; documents are new sequences.
* Originals: a category drawn with the seed's proportions, a length in bytes drawn from
  the seed's originals of that category, and units drawn uniformly at random from that
  category until the length is reached, joined with newlines.
* Injected duplicates, like make_corpus.py: --exact-rate verbatim copies and
  --near-rate copies with 1-5 word edits (replace / insert / delete a word; a character
  in Chinese text) plus, for half of them, 1-3 whitespace edits; originals drawn without
  replacement; everything shuffled before ids are given. dups.jsonl carries the same
  fields as make_corpus.py's (j_w5, j_c5 included), which DataTrove's scorer reads.

Because units are reused (~20x each at 1M documents from a 50k seed), two unrelated
documents share a line now and then; with units of at most --max-unit bytes such a pair
stays far below the 0.5 Jaccard that counts as a duplicate, and dedup_scale.py reports
every removal outside the injected pairs ("other removed"), so any natural duplicate the
recombination makes is counted, not hidden.

Usage:
    benchmarks/scale_corpus.py SEED_CORPUS OUT_DIR --docs 1000000 [--seed 0] [--shards 64]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

PUNCT = re.compile(r"[^\w\s]|_")
DIGITS = re.compile(r"\d+")
SENTENCE_END = re.compile(r"(?<=[。！？；.!?])")
CJK = re.compile(r"[\u3400-\u9fff]")


def split_unit(line: str, max_bytes: int) -> list[str]:
    """A line as one or more units of at most ~max_bytes (sentence ends, then spaces)."""
    if len(line.encode()) <= max_bytes:
        return [line]
    out, cur = [], ""
    for piece in (p for s in SENTENCE_END.split(line) for p in re.split(r"(?<= )", s) if p):
        if cur and len((cur + piece).encode()) > max_bytes:
            out.append(cur)
            cur = ""
        cur += piece
    if cur:
        out.append(cur)
    return [u[: max_bytes // 3] if len(u.encode()) > 2 * max_bytes else u for u in out]  # one huge token


def load_seed(seed_dir: Path, max_unit: int) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """Units and original lengths (bytes) per category, from the seed's originals."""
    meta = {}
    with gzip.open(seed_dir / "docs_meta.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            meta[r["id"]] = r
    units: dict[str, list[str]] = {}
    lengths: dict[str, list[int]] = {}
    for shard in sorted((seed_dir / "docs").glob("*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                m = meta[r["id"]]
                if m["dup_of"] is not None:
                    continue
                lengths.setdefault(m["cat"], []).append(m["bytes"])
                pool = units.setdefault(m["cat"], [])
                for ln in r["text"].split("\n"):
                    if ln.strip():
                        pool.extend(split_unit(ln, max_unit))
    return units, {c: np.array(v) for c, v in lengths.items()}


def word5(text: str) -> set[str]:
    """Word 5-grams after lowercasing, punctuation -> space, digits -> 0 (make_corpus's j_w5)."""
    words = DIGITS.sub("0", PUNCT.sub(" ", text.lower())).split()
    return {" ".join(words[i : i + 5]) for i in range(max(0, len(words) - 4))}


def char5(text: str) -> set[str]:
    """Character 5-grams of the whitespace-free text (make_corpus's j_c5)."""
    t = re.sub(r"\s+", "", text)
    return {t[i : i + 5] for i in range(max(0, len(t) - 4))}


def jaccard(a: set, b: set) -> float:
    return 1.0 if not a and not b else round(len(a & b) / max(1, len(a | b)), 4)


def near_copy(text: str, rng: random.Random, vocab: list[str]) -> tuple[str, int, int, list[str]]:
    """1-5 word (or CJK character) edits and, half the time, 1-3 whitespace edits."""
    ops: list[str] = []
    k = rng.randint(1, 5)
    cjk = len(CJK.findall(text)) > len(text) / 4
    if cjk:
        chars = list(text)
        for _ in range(k):
            op = rng.choice(("replace", "insert", "delete"))
            pos = [i for i in rng.sample(range(len(chars)), min(len(chars), 8)) if CJK.match(chars[i])] or [0]
            i = pos[0]
            if op == "replace":
                chars[i] = rng.choice(vocab)[:1]
            elif op == "insert":
                chars.insert(i, rng.choice(vocab)[:1])
            elif len(chars) > 1:
                del chars[i]
            ops.append(op)
        text = "".join(chars)
    else:
        toks = re.split(r"(\s+)", text)
        words = [i for i, t in enumerate(toks) if t and not t.isspace()] or [0]
        for _ in range(k):
            op = rng.choice(("replace", "insert", "delete"))
            i = rng.choice(words)
            if i >= len(toks):
                i = len(toks) - 1
            if op == "replace":
                toks[i] = rng.choice(vocab)
            elif op == "insert":
                toks[i] = toks[i] + " " + rng.choice(vocab)
            else:
                toks[i] = ""
            ops.append(op)
        text = "".join(toks)
    ws = 0
    if rng.random() < 0.5:
        ws = rng.randint(1, 3)
        for _ in range(ws):
            i = rng.randrange(len(text) + 1)
            text = text[:i] + rng.choice((" ", "  ", "\n")) + text[i:]
            ops.append("ws")
    return text, k, ws, ops


def build_originals(args: tuple) -> list[tuple[str, str]]:
    """(cat, text) for ``n`` originals; runs in a worker process, seeded per chunk."""
    n, seed, cats, probs, max_unit = args
    units, lengths = _SEED
    rng = np.random.default_rng(seed)
    cat_idx = rng.choice(len(cats), size=n, p=probs)
    out = []
    for ci in cat_idx:
        cat = cats[ci]
        pool, unit_bytes = units[cat]
        target = int(lengths[cat][rng.integers(len(lengths[cat]))])
        draw = rng.integers(len(pool), size=max(4, 2 * target // max(1, int(unit_bytes.mean())) + 4))
        total = np.cumsum(unit_bytes[draw] + 1)
        stop = int(np.searchsorted(total, target)) + 1
        out.append((cat, "\n".join(pool[j] for j in draw[:stop])))
    return out


_SEED: tuple = ()


def _init(seed_units: dict, seed_lengths: dict) -> None:
    global _SEED
    _SEED = ({c: (u, np.array([len(x.encode()) for x in u])) for c, u in seed_units.items()}, seed_lengths)


def write_shard(args: tuple) -> dict:
    path, rows = args
    jsonl = text = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as f:
        for doc_id, t in rows:
            line = json.dumps({"id": doc_id, "text": t}, ensure_ascii=False) + "\n"
            f.write(line)
            jsonl += len(line.encode())
            text += len(t.encode())
    return {"file": f"docs/{Path(path).name}", "docs": len(rows), "jsonl_bytes": jsonl, "text_bytes": text}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed_corpus", type=Path, help="a make_corpus.py output")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--docs", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--exact-rate", type=float, default=0.05)
    ap.add_argument("--near-rate", type=float, default=0.10)
    ap.add_argument("--max-unit", type=int, default=160, help="longest unit in bytes")
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    if (args.out_dir / "manifest.json").exists():
        raise SystemExit(f"{args.out_dir} already holds a corpus")
    units, lengths = load_seed(args.seed_corpus, args.max_unit)
    cats = sorted(units)
    counts = np.array([len(lengths[c]) for c in cats], dtype=float)
    print(f"seed: {sum(len(u) for u in units.values())} units from {int(counts.sum())} originals "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    n_exact, n_near = int(args.docs * args.exact_rate), int(args.docs * args.near_rate)
    n_orig = args.docs - n_exact - n_near
    chunk = 20_000
    jobs = [(min(chunk, n_orig - s), args.seed * 1_000_003 + s, cats, counts / counts.sum(), args.max_unit)
            for s in range(0, n_orig, chunk)]
    with Pool(args.procs, initializer=_init, initargs=(units, lengths)) as pool:
        originals = [d for part in pool.map(build_originals, jobs) for d in part]
    print(f"{len(originals)} originals ({time.perf_counter() - t0:.0f} s)", flush=True)

    rng = random.Random(args.seed)
    picked = rng.sample(range(n_orig), n_exact + n_near)
    vocab = {c: [w for u in rng.sample(units[c], min(len(units[c]), 5000)) for w in u.split()[:3]] or ["x"]
             for c in cats}
    docs = [(cat, text, None, None) for cat, text in originals]  # (cat, text, orig index, kind)
    truth = []
    for j, o in enumerate(picked):
        cat, text = originals[o]
        if j < n_exact:
            docs.append((cat, text, o, "exact"))
            truth.append((len(docs) - 1, o, "exact", cat, 0, 0, [], 1.0, 1.0))
        else:
            new, k, ws, ops = near_copy(text, rng, vocab[cat])
            docs.append((cat, new, o, "near"))
            truth.append((len(docs) - 1, o, "near", cat, k, ws, ops, jaccard(word5(text), word5(new)),
                          jaccard(char5(text), char5(new))))
    order = list(range(len(docs)))
    rng.shuffle(order)
    ids = [""] * len(docs)
    for new_pos, old in enumerate(order):
        ids[old] = f"d{new_pos:07d}"
    print(f"{len(docs)} docs with duplicates ({time.perf_counter() - t0:.0f} s)", flush=True)

    out = args.out_dir
    (out / "docs").mkdir(parents=True, exist_ok=True)
    per = -(-len(docs) // args.shards)
    shard_of = {}
    shard_jobs = []
    for s in range(args.shards):
        rows = [(ids[i], docs[i][1]) for i in order[s * per:(s + 1) * per]]
        for i in order[s * per:(s + 1) * per]:
            shard_of[i] = s
        shard_jobs.append((str(out / "docs" / f"part-{s:05d}.jsonl.gz"), rows))
    with Pool(args.procs) as pool:
        shards = pool.map(write_shard, shard_jobs)
    with gzip.open(out / "docs_meta.jsonl.gz", "wt", encoding="utf-8", compresslevel=3) as f:
        for i in order:
            cat, text, o, kind = docs[i]
            f.write(json.dumps({"id": ids[i], "cat": cat, "src": "recombined", "bytes": len(text.encode()),
                                "shard": shard_of[i], "dup_of": ids[o] if o is not None else None,
                                "dup_kind": kind}) + "\n")
    with open(out / "dups.jsonl", "w", encoding="utf-8") as f:
        for d, o, kind, cat, k, ws, ops, jw5, jc5 in truth:
            f.write(json.dumps({"dup_id": ids[d], "orig_id": ids[o], "kind": kind, "cat": cat,
                                "word_edits": k, "ws_edits": ws, "ops": ops, "j_w5": jw5, "j_c5": jc5}) + "\n")
    manifest = {"docs": len(docs), "originals": n_orig, "exact_dups": n_exact, "near_dups": n_near,
                "seed": args.seed, "seed_corpus": str(args.seed_corpus), "max_unit": args.max_unit,
                "builder": "benchmarks/scale_corpus.py", "shards": shards,
                "jsonl_bytes": sum(s["jsonl_bytes"] for s in shards), "text_bytes": sum(s["text_bytes"] for s in shards),
                "build_seconds": round(time.perf_counter() - t0, 1)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(json.dumps({k: v for k, v in manifest.items() if k != "shards"}))


if __name__ == "__main__":
    main()
