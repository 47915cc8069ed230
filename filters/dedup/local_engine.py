"""The dedup phases on one machine (polars), each a Parquet file under the work dir.

signatures/sig-NNNNN.parquet -> exact.parquet -> buckets.parquet -> edges.parquet ->
components.parquet -> marks/part=<i>/ (see ``filters.dedup.marks``). The work dir is a
:class:`~filters.dedup.storage.Store` (local disk or object storage). A phase is skipped
when its output exists: every file is written to a temp name and moved, so an existing
file is complete, and ``marks/`` counts only with its ``_SUCCESS`` marker.
``plan.json`` records the inputs and parameters, and a different plan clears the
old outputs first. The rules shared with the Ray engine (exact groups, buckets here;
survivor order and marks in ``filters.dedup.marks``) are the same functions on both
engines, so both decide identically.

Survivor rule (within an exact group and within a near-duplicate component): documents
of an earlier run's index first (they are never dropped by a later run), then the
``survivor_order`` keys (default: highest score, then longest), then the smallest id,
then the smallest row key (documents may share an id). Graph nodes are row keys
(``signatures.row_keys``), so every document is its own node whatever its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from filters.dedup.components import components_polars
from filters.dedup.marks import best_first, empty_marks, marks_from, write_marks
from filters.dedup.sketch.minhash import jaccard_estimate
from filters.dedup.signatures import (ROW_KEY_COLUMNS, ROW_KEY_VERSION, SCORE_COLUMNS, SignatureConfig, band_keys,
                                      sig_matrix, signature_table)
from filters.dedup.storage import Store
from pipeline.io import fsutil


@dataclass(frozen=True)
class DedupPlan:
    """Everything the phases need; ``meta()`` is what makes two runs comparable."""

    signature: SignatureConfig = field(default_factory=SignatureConfig)
    bands: int = 25
    rows: int = 5
    threshold: float = 0.5
    verify: bool = True
    near: bool = True
    survivor_order: tuple[str, ...] = ("quality", "length")

    def meta(self) -> dict:
        return self.signature.meta(self.bands, self.rows)


def prepare_work_dir(work: Store, inputs: list[str], plan: DedupPlan, index_dirs: list[str]) -> None:
    """Keep earlier phase outputs only if they were made from the same plan."""
    record = {"inputs": list(map(str, inputs)), "meta": plan.meta(), "threshold": plan.threshold,
              "verify": plan.verify, "near": plan.near, "survivor_order": list(plan.survivor_order),
              "score_column": plan.signature.score_column, "index_dirs": list(map(str, index_dirs)),
              "row_key": ROW_KEY_VERSION}
    if work.exists("plan.json") and work.read_json("plan.json") == record:
        return
    work.clear()
    work.write_json(record, "plan.json")


def input_columns(names: list[str]) -> list[str]:
    """The columns of an intermediate that the signature phase reads (row key, text,
    drop_reason, scores), among ``names``."""
    wanted = [*ROW_KEY_COLUMNS, "drop_reason", *SCORE_COLUMNS]
    return [c for c in dict.fromkeys(wanted) if c in names]


def read_active(uri: str, batch_rows: int = 8192):
    """Batches of the columns dedup needs from one intermediate Parquet file (a URI)."""
    fs, path = fsutil.filesystem_for(uri)
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        cols = input_columns(pf.schema_arrow.names)
        yield from (pa.Table.from_batches([b]) for b in pf.iter_batches(batch_size=batch_rows, columns=cols))


def phase_signatures(inputs: list[str], work: Store, config: SignatureConfig) -> list[str]:
    """``signatures/sig-NNNNN.parquet`` per input (each skipped when it exists); their inner paths."""
    paths = []
    for i, uri in enumerate(inputs):
        name = f"sig-{i:05d}.parquet"
        if not work.exists("signatures", name):
            parts = [signature_table(b, config, part=i) for b in read_active(uri)]
            table = pa.concat_tables(parts) if parts else signature_table(_empty_input(), config, part=i)
            work.write_table(table, "signatures", name, hashes=True)
        paths.append(work.path("signatures", name))
    return paths


def _empty_input() -> pa.Table:
    return pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.large_string()),
                     "source": pa.array([], pa.string()), "drop_reason": pa.array([], pa.string())})


def exact_groups(docs: pl.DataFrame, order: tuple[str, ...]) -> pl.DataFrame:
    """Per document: ``exact_survivor`` (node of the best document with the same
    normalized text) and ``exact_size`` (documents with that text)."""
    ranked = best_first(docs.select("node", "id", "exact", "old", "score", "length"), order)
    firsts = ranked.group_by("exact", maintain_order=True).agg(
        pl.first("node").alias("exact_survivor"), pl.len().cast(pl.Int64).alias("exact_size"))
    return docs.select("node", "exact").join(firsts, on="exact", how="left", maintain_order="left").select(
        "node", "exact_survivor", "exact_size"
    )


def band_rows(nodes: np.ndarray, keys: np.ndarray) -> pl.DataFrame:
    """(band, key, node): one row per document and band."""
    bands = keys.shape[1]
    return pl.DataFrame({
        "band": np.repeat(np.arange(bands, dtype=np.int16)[None, :], len(nodes), axis=0).ravel(),
        "key": keys.ravel(),
        "node": np.repeat(nodes, bands),
    })


def bucket_edges(nodes: np.ndarray, keys: np.ndarray) -> pl.DataFrame:
    """Star edges (node -> bucket minimum) of every bucket with more than one node, one
    band at a time: the group-by holds one row per document instead of one per document
    and band (25x less memory at the default plan), and the edges are the same."""
    edges = [star_edges(band_rows(nodes, keys[:, b : b + 1]).with_columns(pl.lit(b, pl.Int16).alias("band")))
             for b in range(keys.shape[1])]
    return pl.concat(edges).unique() if edges else star_edges(band_rows(nodes, keys))


def star_edges(df: pl.DataFrame) -> pl.DataFrame:
    """Star edges of the buckets of ``df`` (band, key, node); whole buckets only."""
    anchors = df.group_by("band", "key").agg(pl.min("node").alias("anchor"), pl.len().alias("n")).filter(pl.col("n") > 1)
    return (
        df.join(anchors, on=["band", "key"])
        .filter(pl.col("node") != pl.col("anchor"))
        .select(pl.col("node").alias("a"), pl.col("anchor").alias("b"))
        .unique()
    )


def verify_edges(edges: pl.DataFrame, nodes: np.ndarray, signatures_of: Callable[[np.ndarray], np.ndarray],
                 threshold: float | None) -> pl.DataFrame:
    """Edges with their estimated Jaccard; those below ``threshold`` dropped.
    ``signatures_of(rows)``: the signature matrix of the documents ``nodes[rows]`` (``rows``
    ascending): only the documents on a candidate edge are read."""
    index = pl.DataFrame({"node": nodes, "row": np.arange(len(nodes), dtype=np.int64)})
    e = edges.join(index, left_on="a", right_on="node").rename({"row": "ra"})
    e = e.join(index, left_on="b", right_on="node").rename({"row": "rb"})
    ra, rb = e["ra"].to_numpy(), e["rb"].to_numpy()
    needed = np.unique(np.concatenate([ra, rb]))
    sig = signatures_of(needed)
    ra, rb = np.searchsorted(needed, ra), np.searchsorted(needed, rb)
    jac = np.zeros(len(ra), dtype=np.float32)
    for s in range(0, len(ra), 65536):
        jac[s : s + 65536] = jaccard_estimate(sig[ra[s : s + 65536]], sig[rb[s : s + 65536]])
    e = e.select("a", "b").with_columns(pl.Series("jaccard", jac))
    return e if threshold is None else e.filter(pl.col("jaccard") >= threshold)


def survivor_band_keys(work: Store, sig_paths: list[str], old: pa.Table | None, keep: np.ndarray,
                       plan: DedupPlan) -> np.ndarray:
    """LSH band keys of the rows where ``keep`` (in the order of ``sig_paths`` then ``old``),
    one file at a time: memory is the keys (bands x 8 bytes a document) plus one file's
    signatures, not every signature at once (num_perm x 4 bytes a document)."""
    parts = [band_keys(m, plan.bands, plan.rows) for m in _kept_signatures(work, sig_paths, old, keep,
                                                                           plan.signature.num_perm)]
    return np.concatenate(parts) if parts else np.zeros((0, plan.bands), np.uint64)


def survivor_signatures(work: Store, sig_paths: list[str], old: pa.Table | None, keep: np.ndarray,
                        num_perm: int) -> np.ndarray:
    """Signature matrix of the rows where ``keep`` (in the order of ``sig_paths`` then
    ``old``), filled one file at a time: memory is the result plus one file's matrix."""
    out = np.empty((int(keep.sum()), num_perm), np.uint32)
    pos = 0
    for matrix in _kept_signatures(work, sig_paths, old, keep, num_perm):
        out[pos : pos + len(matrix)] = matrix
        pos += len(matrix)
    return out


def _kept_signatures(work: Store, sig_paths: list[str], old: pa.Table | None, keep: np.ndarray,
                     num_perm: int):
    """Per signature file (then ``old``), the signature matrix of its rows where ``keep``."""
    row = 0
    for column in _sig_columns(work, sig_paths, old):
        matrix = sig_matrix(column, num_perm)
        yield matrix[keep[row : row + len(matrix)]]
        row += len(matrix)


def _sig_columns(work: Store, sig_paths: list[str], old: pa.Table | None):
    yield from (work.read_table(p, columns=["sig"])["sig"] for p in sig_paths)
    if old is not None and old.num_rows:
        yield old["sig"]


def run_phases_local(inputs: list[str], work: Store, plan: DedupPlan, old: pa.Table | None) -> Store:
    """Run (or resume) every phase; returns the marks' store. Signatures are read
    only for the LSH phase, band by band (see ``bucket_edges``)."""
    sig_paths = phase_signatures(inputs, work, plan.signature)
    if work.is_done("marks"):
        return work.sub("marks")
    old = old if old is not None and old.num_rows else None
    columns = [c for c in work.read_schema(sig_paths[0]).names if c != "sig"] if sig_paths else []
    tables = [work.read_table(p, columns=columns) for p in sig_paths] + ([old.drop(["sig"])] if old is not None else [])
    if not tables:
        return write_marks(empty_marks(), work)
    docs = pl.from_arrow(pa.concat_tables([t.select(tables[0].column_names) for t in tables]))
    if not work.exists("exact.parquet"):
        work.write_table(exact_groups(docs, plan.survivor_order), "exact.parquet")
    exact = work.read_frame("exact.parquet")
    if not work.exists("components.parquet"):
        keep = (exact["node"] == exact["exact_survivor"]).to_numpy()
        if plan.near and not work.exists("edges.parquet"):
            nodes = docs["node"].to_numpy()[keep]
            if not work.exists("buckets.parquet"):
                keys = survivor_band_keys(work, sig_paths, old, keep, plan)
                work.write_table(bucket_edges(nodes, keys), "buckets.parquet")
                del keys
            cand = work.read_frame("buckets.parquet")
            survivors = np.flatnonzero(keep)  # each survivor's row among all signature rows

            def signatures_of(rows: np.ndarray) -> np.ndarray:
                wanted = np.zeros(len(keep), dtype=bool)
                wanted[survivors[rows]] = True
                return survivor_signatures(work, sig_paths, old, wanted, plan.signature.num_perm)

            work.write_table(verify_edges(cand, nodes, signatures_of, plan.threshold if plan.verify else None),
                             "edges.parquet")
        edges = work.read_frame("edges.parquet") if plan.near else pl.DataFrame(
            {"a": [], "b": []}, schema={"a": pl.Int64, "b": pl.Int64})
        work.write_table(components_polars(edges.select("a", "b")), "components.parquet")
    labels = work.read_frame("components.parquet")
    return write_marks(marks_from(docs, exact, labels, plan.survivor_order), work)
