"""The persisted dedup index of kept documents, for incremental runs.

``OUT/index/dedup/kept-NNNNN.parquet`` (one per signature file) hold, per document
this run kept: ``id``, ``exact`` (normalized-text hash), ``length``, ``score``, ``sig``
(MinHash values, see ``signatures.sig_array``; an index holding them as a list of uint32,
as written before, reads the same) and ``bands`` (the LSH bucket keys, one per band); ``meta.json`` holds the scheme, seed, num_perm,
shingle config and bands x rows. ``OUT`` is a URI (local disk or object storage); the
directory is complete when its ``_SUCCESS`` marker exists (``filters.dedup.storage``).
A later run passes earlier output dirs as ``previous_outputs``: their kept documents join
the graph as ``old`` documents, which always survive, so new documents that duplicate
them are dropped and old ones never are. A meta mismatch (other shingles, seed or bands)
or an index without its marker is an error, not a silent miss.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from filters.dedup.marks import read_part_marks
from filters.dedup.signatures import band_keys, combine_keys, node_ids, sig_array, sig_matrix
from filters.dedup.storage import Store

INDEX_SUBDIR = "index/dedup"


def kept_rows(sig: pa.Table, marks: Store, meta: dict) -> pa.Table:
    """Index rows of the signature rows ``sig`` this run kept: the rows minus those its
    marks drop (read for the parts ``sig`` holds only; matched by row key, ``node``, as
    ids may repeat), with their band keys."""
    parts = pc.unique(sig["part"]).to_pylist()
    dropped = [read_part_marks(marks, p).filter(pl.col("dup_of").is_not_null())["node"].to_numpy() for p in parts]
    if dropped:
        gone = pa.array(np.concatenate(dropped).astype(np.int64))
        sig = sig.filter(pc.invert(pc.is_in(sig["node"].cast(pa.int64()), value_set=gone)))
    keys = band_keys(sig_matrix(sig["sig"], meta["num_perm"]), meta["bands"], meta["rows"])
    bands = pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel(), pa.uint64()), meta["bands"])
    return sig.select(["id", "exact", "length", "score", "sig"]).append_column("bands", bands)


def _write_kept(work: Store, signature_path: str, marks: Store, meta: dict, index: Store, name: str) -> None:
    index.write_table(kept_rows(work.read_table(signature_path), marks, meta), name, hashes=True)


def write_index(output_dir: str, work: Store, signature_paths: list[str], marks: Store, meta: dict,
                engine: str = "local") -> Store:
    """Persist the kept documents of this run under ``output_dir`` (a URI), one
    ``kept-NNNNN.parquet`` per signature file (inner paths of ``work``), each written from
    that file and its parts' marks (memory: one file's worth); on Ray one task per file,
    so the driver reads none of them. ``meta.json`` and then the marker come last."""
    index = Store.at(output_dir).sub(INDEX_SUBDIR)
    index.begin_dir()
    jobs = [(work, p, marks, meta, index, f"kept-{k:05d}.parquet") for k, p in enumerate(signature_paths)]
    if engine == "ray" and jobs:
        import ray

        task = ray.remote(_write_kept)
        ray.get([task.remote(*job) for job in jobs])
    else:
        for job in jobs:
            _write_kept(*job)
    index.write_json(meta, "meta.json")
    index.mark_done()
    return index


def index_files(index: Store) -> list[str]:
    """Inner paths of an index's ``kept*.parquet`` files."""
    return [p for p in index.files() if p.rsplit("/", 1)[-1].startswith("kept")]


def index_nodes(ids: list[str], k: int) -> np.ndarray:
    """Graph nodes of the ``k``-th earlier run's documents: the id's hash on top (as a
    new document's key, ``signatures.row_keys``), the position below, so that an index
    holding two documents with one id has two nodes."""
    return combine_keys(node_ids(ids, f"index{k}:"), node_ids([str(i) for i in range(len(ids))], f"index{k}:"))


def load_index(previous_outputs: list[str], meta: dict) -> pa.Table | None:
    """Earlier runs' kept documents (output dirs as URIs) as signature rows with ``old = true``."""
    tables = []
    for k, d in enumerate(previous_outputs):
        idx = Store.at(d).sub(INDEX_SUBDIR)
        files = index_files(idx)
        if not files:
            continue
        if not idx.is_done():
            raise ValueError(f"dedup index {idx.uri} has no _SUCCESS marker: the run that wrote it did not finish")
        theirs = idx.read_json("meta.json")
        if theirs != meta:
            raise ValueError(f"dedup index {idx.uri} was built with {theirs}, this run uses {meta}")
        t = pa.concat_tables([idx.read_table(f) for f in files])
        n = t.num_rows
        tables.append(pa.table({
            "id": t["id"], "node": pa.array(index_nodes(t["id"].to_pylist(), k)), "exact": t["exact"],
            "length": t["length"], "score": t["score"].cast(pa.float64()),
            "old": pa.array(np.ones(n, dtype=bool)),
            "part": pa.array(np.full(n, -1, dtype=np.int32)),
            "sig": sig_array(sig_matrix(t["sig"], meta["num_perm"])),  # one type, whichever form the index holds
        }))
    return pa.concat_tables(tables) if tables else None
