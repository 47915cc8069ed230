"""The persisted dedup index of kept documents, for incremental runs.

``OUT/index/dedup/kept-NNNNN.parquet`` (one per signature file) hold, per document
this run kept: ``id``, ``exact`` (normalized-text hash), ``length``, ``score``, ``sig``
(MinHash values) and ``bands`` (the LSH bucket keys, one per band); ``meta.json`` holds the scheme, seed, num_perm,
shingle config and bands x rows. A later run passes earlier output dirs as
``previous_outputs``: their kept documents join the graph as ``old`` documents, which
always survive, so new documents that duplicate them are dropped and old ones never are.
A meta mismatch (other shingles, seed or bands) is an error, not a silent miss.

:func:`query_index` answers "which indexed documents is this text a duplicate of"
without a run (for the synthetic loop's check against the corpus).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filters.dedup.marks import read_part_marks
from filters.dedup.signatures import SignatureConfig, band_keys, combine_keys, node_ids, sig_matrix, signature_table

INDEX_SUBDIR = Path("index") / "dedup"


def kept_rows(sig: pa.Table, marks_dir: Path, meta: dict) -> pa.Table:
    """Index rows of the signature rows ``sig`` this run kept: the rows minus those its
    marks drop (read for the parts ``sig`` holds only; matched by row key, ``node``, as
    ids may repeat), with their band keys."""
    parts = pc.unique(sig["part"]).to_pylist()
    dropped = [read_part_marks(marks_dir, p).filter(pl.col("dup_of").is_not_null())["node"].to_numpy() for p in parts]
    if dropped:
        gone = pa.array(np.concatenate(dropped).astype(np.int64))
        sig = sig.filter(pc.invert(pc.is_in(sig["node"].cast(pa.int64()), value_set=gone)))
    keys = band_keys(sig_matrix(sig["sig"], meta["num_perm"]), meta["bands"], meta["rows"])
    bands = pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel(), pa.uint64()), meta["bands"])
    return sig.select(["id", "exact", "length", "score", "sig"]).append_column("bands", bands)


def _write_kept(signature_path: Path, marks_dir: Path, meta: dict, out: Path) -> None:
    pq.write_table(kept_rows(pq.read_table(signature_path), marks_dir, meta), out)


def write_index(output_dir: Path, signature_paths: list[Path], marks_dir: Path, meta: dict,
                engine: str = "local") -> Path:
    """Persist the kept documents of this run, one ``kept-NNNNN.parquet`` per signature
    file, each written from that file and its parts' marks (memory: one file's worth);
    on Ray one task per file, so the driver reads none of them."""
    out = Path(output_dir) / INDEX_SUBDIR
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    jobs = [(Path(p), Path(marks_dir), meta, tmp / f"kept-{k:05d}.parquet") for k, p in enumerate(signature_paths)]
    if engine == "ray" and jobs:
        import ray

        task = ray.remote(_write_kept)
        ray.get([task.remote(*job) for job in jobs])
    else:
        for job in jobs:
            _write_kept(*job)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def index_files(index_dir: Path) -> list[Path]:
    return sorted(Path(index_dir).glob("kept*.parquet"))


def index_nodes(ids: list[str], k: int) -> np.ndarray:
    """Graph nodes of the ``k``-th earlier run's documents: the id's hash on top (as a
    new document's key, ``signatures.row_keys``), the position below, so that an index
    holding two documents with one id has two nodes."""
    return combine_keys(node_ids(ids, f"index{k}:"), node_ids([str(i) for i in range(len(ids))], f"index{k}:"))


def load_index(previous_outputs: list[Path], meta: dict) -> pa.Table | None:
    """Earlier runs' kept documents as signature rows with ``old = true``."""
    tables = []
    for k, d in enumerate(previous_outputs):
        idx = Path(d) / INDEX_SUBDIR
        if not index_files(idx):
            continue
        theirs = json.loads((idx / "meta.json").read_text())
        if theirs != meta:
            raise ValueError(f"dedup index {idx} was built with {theirs}, this run uses {meta}")
        t = pa.concat_tables([pq.read_table(f) for f in index_files(idx)])
        n = t.num_rows
        tables.append(pa.table({
            "id": t["id"], "node": pa.array(index_nodes(t["id"].to_pylist(), k)), "exact": t["exact"],
            "length": t["length"], "score": t["score"].cast(pa.float64()),
            "old": pa.array(np.ones(n, dtype=bool)),
            "part": pa.array(np.full(n, -1, dtype=np.int32)), "sig": t["sig"],
        }))
    return pa.concat_tables(tables) if tables else None


def query_index(texts: list[str], previous_outputs: list[Path], config: SignatureConfig, meta: dict,
                threshold: float) -> list[str | None]:
    """For each text: the id of an indexed document it duplicates (exact or estimated
    Jaccard >= threshold among LSH candidates), or None."""
    from pipeline.schema import make_batch

    old = load_index(previous_outputs, meta)
    if old is None or not texts:
        return [None] * len(texts)
    batch = make_batch(texts, ids=[f"q{i}" for i in range(len(texts))], source="query")
    q = signature_table(batch, config)
    qs, os_ = sig_matrix(q["sig"], meta["num_perm"]), sig_matrix(old["sig"], meta["num_perm"])
    qk, ok = band_keys(qs, meta["bands"], meta["rows"]), band_keys(os_, meta["bands"], meta["rows"])
    bands = meta["bands"]
    qdf = pl.DataFrame({"q": np.repeat(np.arange(len(texts)), bands), "band": np.tile(np.arange(bands), len(texts)), "key": qk.ravel()})
    odf = pl.DataFrame({"o": np.repeat(np.arange(old.num_rows), bands), "band": np.tile(np.arange(bands), old.num_rows), "key": ok.ravel()})
    cand = qdf.join(odf, on=["band", "key"]).select("q", "o").unique()
    qi, oi = cand["q"].to_numpy(), cand["o"].to_numpy()
    jac = np.mean(qs[qi] == os_[oi], axis=1) if len(qi) else np.zeros(0)
    hits = pl.DataFrame({"q": qi, "o": oi, "j": jac}).filter(pl.col("j") >= threshold)
    exact = pl.DataFrame({"q": np.arange(len(texts)), "exact": q["exact"].to_pylist()}).join(
        pl.DataFrame({"o": np.arange(old.num_rows), "exact": old["exact"].to_pylist()}), on="exact"
    ).with_columns(pl.lit(1.0).alias("j")).select("q", "o", "j")
    best = pl.concat([exact, hits.with_columns(pl.col("j").cast(pl.Float64))]).sort("j", descending=True).group_by("q").first()
    ids = old["id"].to_pylist()
    found = dict(zip(best["q"].to_list(), best["o"].to_list()))
    return [ids[found[i]] if i in found else None for i in range(len(texts))]
