"""The dedup phases on Ray Data (``ray`` already initialised by the runner).

Every all-to-all step is a hash repartition on its key (``repartition(n, keys=...)``,
a Ray Data hash shuffle: each output block holds whole groups) followed by a
vectorized polars function over each partition -- the same functions the local
engine uses, so both engines decide identically, and no per-group Python call:

* signatures: ``read_parquet`` -> ``map_batches(signature_table)`` -> ``signatures/``;
* exact: partitions by ``exact`` -> survivor per group -> ``exact/`` (signatures kept);
* buckets: exact survivors exploded to ``(band, key, node)``, partitioned by
  (band, key) -> star edges to each bucket's minimum;
* verification: two hash joins attach both endpoints' signatures; edges with
  estimated Jaccard < threshold dropped -> ``edges/``;
* connected components: alternating large-star / small-star rounds (Kiveris et al.),
  each a repartition by node over the edge dataset, until the edge fingerprint stops
  changing (O(log n) rounds): no process ever holds all edges -> ``components/``;
* marks: ``filters.dedup_local.marks_from`` on the driver over per-document rows
  (id, node, exact hash, score, length: ~60 bytes a document; no edges, no
  signatures). At billions of documents this last step should become a join +
  repartition too; it is the one driver-side step left.

Blocks are not split after a shuffle while this runs (``target_max_block_size`` is
lifted) so that a partition is always one batch; size ``num_partitions`` so that a
partition fits a worker's memory. Each phase writes to a temp directory renamed when
complete, and is skipped when its directory exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filters.connected_components import both_ways, by_larger, large_star, small_star, star_fingerprint
from filters.dedup_local import DedupPlan, _write, band_rows, exact_groups, marks_from, run_local, star_edges
from filters.dedup_signatures import SCORE_COLUMNS, band_keys, sig_matrix, signature_table


def _phase(path: Path, build) -> Path:
    if path.exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    build(str(tmp))
    tmp.mkdir(parents=True, exist_ok=True)  # Ray writes no directory for an empty dataset
    tmp.replace(path)
    return path


def _frame_fn(fn):
    """Wrap a polars frame -> frame function as a pyarrow batch function."""
    def run(batch: pa.Table, **kwargs) -> pa.Table:
        return fn(pl.from_arrow(batch), **kwargs).to_arrow()
    return run


def _exact_partition(batch: pa.Table, order: tuple[str, ...]) -> pa.Table:
    docs = pl.from_arrow(batch.drop_columns(["sig"]))
    ex = exact_groups(docs, order)  # same row order as docs
    return batch.append_column("exact_survivor", ex["exact_survivor"].to_arrow()).append_column(
        "exact_survivor_id", ex["exact_survivor_id"].to_arrow().cast(pa.string()))


def _explode_bands(batch: pa.Table, plan: DedupPlan) -> pa.Table:
    keys = band_keys(sig_matrix(batch["sig"], plan.signature.num_perm), plan.bands, plan.rows)
    return band_rows(batch["node"].to_numpy(), keys).to_arrow()


def _jaccard(batch: pa.Table, num_perm: int, threshold: float | None) -> pa.Table:
    sa, sb = sig_matrix(batch["sig_a"], num_perm), sig_matrix(batch["sig_b"], num_perm)
    jac = np.mean(sa == sb, axis=1).astype(np.float32) if len(sa) else np.zeros(0, np.float32)
    out = pa.table({"a": batch["a"], "b": batch["b"], "jaccard": jac})
    return out if threshold is None else out.filter(pc.greater_equal(out["jaccard"], threshold))


def _conform(batch: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give a join's output block the join's schema: Ray emits empty partitions of a hash
    join as blocks holding only the key column, which the next join cannot use."""
    if batch.num_rows == 0:
        return schema.empty_table()
    return batch.select(schema.names).cast(schema)


def _fingerprint(batch: pa.Table) -> pa.Table:
    n, h = star_fingerprint(batch["a"].to_numpy(), batch["b"].to_numpy())
    return pa.table({"n": [n], "h": [h & ((1 << 62) - 1)]})


def components_ray(edges, num_partitions: int, max_iter: int = 64):
    """(a = node, b = label) star edges of every component, as a materialized Dataset."""
    prev = None
    whole = {"batch_format": "pyarrow", "batch_size": None}
    for _ in range(max_iter):
        edges = (
            edges.map_batches(_frame_fn(both_ways), batch_format="pyarrow")
            .repartition(num_partitions, keys=["k"]).map_batches(_frame_fn(large_star), **whole)
            .map_batches(_frame_fn(by_larger), batch_format="pyarrow")
            .repartition(num_partitions, keys=["k"]).map_batches(_frame_fn(small_star), **whole)
            .materialize()
        )
        rows = edges.map_batches(_fingerprint, batch_format="pyarrow", batch_size=None).take_all()
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
    ctx = rd.DataContext.get_current()
    saved_block_size, ctx.target_max_block_size = ctx.target_max_block_size, None
    try:
        return _run(inputs, work, plan, old, num_partitions, marks_path)
    finally:
        ctx.target_max_block_size = saved_block_size


def _run(inputs, work, plan, old, num_partitions, marks_path) -> Path:
    import ray.data as rd

    whole = {"batch_format": "pyarrow", "batch_size": None}
    names = pq.ParquetFile(inputs[0]).schema_arrow.names
    cols = ["id", "text", "drop_reason"] + [c for c in SCORE_COLUMNS if c in names]
    sig_dir = _phase(work / "signatures", lambda d: rd.read_parquet(inputs).select_columns(cols)
                     .map_batches(signature_table, batch_format="pyarrow", fn_kwargs={"config": plan.signature})
                     .write_parquet(d))

    def build_exact(d: str) -> None:
        docs = rd.read_parquet(str(sig_dir))
        if old is not None and old.num_rows:
            docs = docs.union(rd.from_arrow(old.select(docs.schema().names)))
        docs.repartition(num_partitions, keys=["exact"]).map_batches(
            _exact_partition, fn_kwargs={"order": plan.survivor_order}, **whole).write_parquet(d)

    exact_dir = _phase(work / "exact", build_exact)

    def build_edges(d: str) -> None:
        survivors = rd.read_parquet(str(exact_dir)).filter(expr="node == exact_survivor").select_columns(["node", "sig"])
        cand = survivors.map_batches(_explode_bands, batch_format="pyarrow", fn_kwargs={"plan": plan}) \
            .repartition(num_partitions, keys=["band", "key"]).map_batches(_frame_fn(star_edges), **whole)
        exact_schema = pq.read_schema(sorted(exact_dir.glob("*.parquet"))[0])
        node_type, sig_type = exact_schema.field("node").type, exact_schema.field("sig").type
        with_a = pa.schema([("a", node_type), ("b", node_type), ("sig_a", sig_type)])
        with_ab = with_a.append(pa.field("sig_b", sig_type))
        j = cand.join(survivors.rename_columns({"node": "a", "sig": "sig_a"}), join_type="inner",
                      num_partitions=num_partitions, on=("a",))
        j = j.map_batches(_conform, batch_format="pyarrow", fn_kwargs={"schema": with_a})
        j = j.join(survivors.rename_columns({"node": "b", "sig": "sig_b"}), join_type="inner",
                   num_partitions=num_partitions, on=("b",))
        j = j.map_batches(_conform, batch_format="pyarrow", fn_kwargs={"schema": with_ab})
        j.map_batches(_jaccard, batch_format="pyarrow",
                      fn_kwargs={"num_perm": plan.signature.num_perm, "threshold": plan.threshold if plan.verify else None}
                      ).write_parquet(d)

    labels = pl.DataFrame(schema={"node": pl.Int64, "label": pl.Int64})
    if plan.near:
        edges_dir = _phase(work / "edges", build_edges)
        if any(pq.read_metadata(p).num_rows for p in edges_dir.glob("*.parquet")):
            comp_dir = _phase(work / "components", lambda d: components_ray(
                rd.read_parquet(str(edges_dir)).select_columns(["a", "b"]), num_partitions).write_parquet(d))
            stars = pl.read_parquet(str(comp_dir / "*.parquet")).rename({"a": "node", "b": "label"})
            roots = stars.select(pl.col("label").unique().alias("node")).with_columns(pl.col("node").alias("label"))
            labels = pl.concat([stars, roots]).unique()
    exact_cols = ["node", "id", "exact", "old", "score", "length", "exact_survivor", "exact_survivor_id"]
    ex = pl.read_parquet(str(exact_dir / "*.parquet"), columns=exact_cols)
    docs = ex.select("node", "id", "exact", "old", "score", "length")
    return _write(marks_from(docs, ex.select("node", "exact_survivor", "exact_survivor_id"), labels,
                             plan.survivor_order), marks_path)
