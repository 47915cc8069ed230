"""The dedup phases on Ray Data (``ray`` already initialised by the runner).

* signatures: ``read_parquet`` -> ``map_batches(signature_table)`` (the same function
  as the local engine) -> ``signatures/``;
* exact: ``groupby("exact")`` -> survivor per group -> ``exact/`` (with signatures);
* buckets: exact survivors exploded to ``(band, key, node)`` ->
  ``groupby(["band", "key"], num_partitions)`` -> star edges to the bucket minimum;
* verification: two hash joins attach both endpoints' signatures, edges with estimated
  Jaccard < threshold dropped -> ``edges/``;
* connected components: alternating large-star / small-star rounds, each a
  ``groupby(node)`` over the edge dataset, until the edge fingerprint stops changing
  (O(log n) rounds): no process ever holds all edges -> ``components/``;
* marks: ``filters.dedup_local.marks_from`` on the driver over per-document rows
  (id, node, exact hash, score, length: ~60 bytes a document, no edges or signatures),
  so both engines pick survivors by the same code. At billions of documents this last
  step would be a join + groupby too; it is the one driver-side step left.

Each phase writes to a temp directory renamed when complete, and is skipped when its
directory exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from filters.connected_components import large_star, small_star, star_fingerprint
from filters.dedup_local import DedupPlan, _write, best_first, marks_from, run_local
from filters.dedup_signatures import SCORE_COLUMNS, band_keys, sig_matrix, signature_table


def _phase(path: Path, build) -> Path:
    if path.exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    build(str(tmp))
    tmp.replace(path)
    return path


def _exact_group(group: pa.Table, order: tuple[str, ...]) -> pa.Table:
    df = pl.from_arrow(group)
    best = best_first(df.drop("sig"), order).row(0, named=True)
    return group.append_column("exact_survivor", pa.array(np.full(group.num_rows, best["node"], dtype=np.int64))).append_column(
        "exact_survivor_id", pa.array([best["id"]] * group.num_rows, pa.string()))


def _explode_bands(batch: pa.Table, plan: DedupPlan) -> pa.Table:
    keys = band_keys(sig_matrix(batch["sig"], plan.signature.num_perm), plan.bands, plan.rows)
    nodes = batch["node"].to_numpy()
    return pa.table({
        "band": np.repeat(np.arange(plan.bands, dtype=np.int16)[None, :], len(nodes), axis=0).ravel(),
        "key": keys.ravel(),
        "node": np.repeat(nodes, plan.bands),
    })


def _bucket_star(group: pa.Table) -> pa.Table:
    nodes = np.unique(group["node"].to_numpy())
    return pa.table({"a": nodes[1:], "b": np.full(len(nodes) - 1, nodes[0] if len(nodes) else 0, dtype=np.int64)})


def _jaccard(batch: pa.Table, num_perm: int, threshold: float | None) -> pa.Table:
    sa, sb = sig_matrix(batch["sig_a"], num_perm), sig_matrix(batch["sig_b"], num_perm)
    jac = np.mean(sa == sb, axis=1).astype(np.float32) if len(sa) else np.zeros(0, np.float32)
    out = pa.table({"a": batch["a"], "b": batch["b"], "jaccard": jac})
    return out if threshold is None else out.filter(pa.compute.greater_equal(out["jaccard"], threshold))


def _large(group: pa.Table) -> pa.Table:
    node = int(group["k"][0].as_py())
    a, b = large_star(node, group["v"].to_numpy())
    return pa.table({"a": a.astype(np.int64), "b": b})


def _small(group: pa.Table) -> pa.Table:
    node = int(group["k"][0].as_py())
    a, b = small_star(node, group["v"].to_numpy())
    return pa.table({"a": a.astype(np.int64), "b": b})


def _both_ways(batch: pa.Table) -> pa.Table:
    a, b = batch["a"].to_numpy(), batch["b"].to_numpy()
    return pa.table({"k": np.concatenate([a, b]), "v": np.concatenate([b, a])})


def _by_larger(batch: pa.Table) -> pa.Table:
    a, b = batch["a"].to_numpy(), batch["b"].to_numpy()
    return pa.table({"k": np.maximum(a, b), "v": np.minimum(a, b)})


def _fingerprint(batch: pa.Table) -> pa.Table:
    n, h = star_fingerprint(batch["a"].to_numpy(), batch["b"].to_numpy())
    return pa.table({"n": [n], "h": [h & ((1 << 62) - 1)]})


def components_ray(edges, num_partitions: int, max_iter: int = 64):
    """(a=node, b=label) star edges of every component, as a materialized Dataset."""
    prev = None
    for _ in range(max_iter):
        edges = edges.map_batches(_both_ways, batch_format="pyarrow").groupby("k", num_partitions=num_partitions) \
            .map_groups(_large, batch_format="pyarrow")
        edges = edges.map_batches(_by_larger, batch_format="pyarrow").groupby("k", num_partitions=num_partitions) \
            .map_groups(_small, batch_format="pyarrow").materialize()
        rows = edges.map_batches(_fingerprint, batch_format="pyarrow").take_all()
        fp = (sum(r["n"] for r in rows), sum(r["h"] for r in rows) & ((1 << 62) - 1))
        if fp == prev:
            return edges
        prev = fp
    raise RuntimeError(f"connected components did not converge in {max_iter} rounds")


def run_ray(inputs: list[str], work: Path, plan: DedupPlan, old: pa.Table | None, num_partitions: int = 16) -> Path:
    import ray.data as rd

    marks_path = work / "marks.parquet"
    if marks_path.exists():
        return marks_path
    if not inputs:  # nothing new to deduplicate: the local engine handles the trivial case
        return run_local(inputs, work, plan, None)
    names = pq.ParquetFile(inputs[0]).schema_arrow.names if inputs else []
    cols = ["id", "text", "drop_reason"] + [c for c in SCORE_COLUMNS if c in names]
    sig_dir = _phase(work / "signatures", lambda d: rd.read_parquet(inputs).select_columns(cols)
                     .map_batches(signature_table, batch_format="pyarrow", fn_kwargs={"config": plan.signature})
                     .write_parquet(d))
    order = plan.survivor_order

    def build_exact(d: str) -> None:
        docs = rd.read_parquet(str(sig_dir))
        if old is not None and old.num_rows:
            docs = docs.union(rd.from_arrow(old.select(docs.schema().names)))
        docs.groupby("exact", num_partitions=num_partitions).map_groups(
            _exact_group, batch_format="pyarrow", fn_kwargs={"order": order}).write_parquet(d)

    exact_dir = _phase(work / "exact", build_exact)
    survivors = rd.read_parquet(str(exact_dir)).filter(expr="node == exact_survivor") if plan.near else None

    def build_edges(d: str) -> None:
        cand = survivors.map_batches(_explode_bands, batch_format="pyarrow", fn_kwargs={"plan": plan}) \
            .groupby(["band", "key"], num_partitions=num_partitions).map_groups(_bucket_star, batch_format="pyarrow")
        sigs = survivors.select_columns(["node", "sig"])
        j = cand.join(sigs.rename_columns({"node": "a", "sig": "sig_a"}), join_type="inner", num_partitions=num_partitions, on=("a",))
        j = j.join(sigs.rename_columns({"node": "b", "sig": "sig_b"}), join_type="inner", num_partitions=num_partitions, on=("b",))
        j.map_batches(_jaccard, batch_format="pyarrow",
                      fn_kwargs={"num_perm": plan.signature.num_perm, "threshold": plan.threshold if plan.verify else None}
                      ).write_parquet(d)

    def build_components(d: str) -> None:
        edges = rd.read_parquet(str(edges_dir)).select_columns(["a", "b"])
        # star-edge candidates may repeat across bands; dedup is implied by the star steps
        components_ray(edges, num_partitions).write_parquet(d)

    labels = pl.DataFrame({"node": [], "label": []}, schema={"node": pl.Int64, "label": pl.Int64})
    if plan.near:
        edges_dir = _phase(work / "edges", build_edges)
        if any(pq.read_metadata(p).num_rows for p in edges_dir.glob("*.parquet")):
            comp_dir = _phase(work / "components", build_components)
            stars = pl.read_parquet(str(comp_dir / "*.parquet")).rename({"a": "node", "b": "label"})
            roots = stars.select(pl.col("label").unique().alias("node"), pl.col("label").unique())
            labels = pl.concat([stars, roots]).unique()
    exact_cols = ["node", "id", "exact", "old", "score", "length", "exact_survivor", "exact_survivor_id"]
    ex = pl.read_parquet(str(exact_dir / "*.parquet"), columns=exact_cols)
    docs = ex.select("node", "id", "exact", "old", "score", "length")
    return _write(marks_from(docs, ex.select("node", "exact_survivor", "exact_survivor_id"), labels, order), marks_path)
