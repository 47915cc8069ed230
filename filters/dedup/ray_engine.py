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
* survivors (``filters.dedup.marks``): exact survivors left-joined to their component
  label, partitioned by label -> best document and size per component; every
  document inner-joined to its component on ``exact_survivor`` -> marks, written
  partitioned by input (``marks/part=<i>/``). The driver only plans: no step gathers
  documents, edges or marks in one process.

Blocks are not split after a shuffle while this runs (``target_max_block_size`` is
lifted) so that a partition is always one batch; size ``num_partitions`` so that a
partition fits a worker's memory.

Files go through the work dir's pyarrow filesystem (``filesystem=`` and inner paths for
Ray Data; workers read object-store credentials from their environment). Each phase's
directory is cleared, written by Ray, then given its ``_SUCCESS`` marker
(``filters.dedup.storage``); a phase whose marker exists is skipped.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from filters.dedup.components import both_ways, by_larger, large_star, small_star, star_fingerprint
from filters.dedup.local_engine import DedupPlan, band_rows, exact_groups, input_columns, run_phases_local, star_edges
from filters.dedup.marks import component_best, component_rows, empty_marks, mark_rows
from filters.dedup.signatures import band_keys, sig_matrix, signature_table
from filters.dedup.sketch.minhash import jaccard_estimate
from filters.dedup.storage import HASH_PARQUET, Store
from pipeline.io import fsutil


def _phase(work: Store, name: str, build: Callable[[str], None]) -> Store:
    """Run ``build(inner dir)`` (a Ray write into the directory) unless ``name`` is done;
    its marker is written after Ray's files. Returns the phase's store."""
    if not work.is_done(name):
        build(work.begin_dir(name))
        work.mark_done(name)
    return work.sub(name)


def _read(store: Store):
    """A phase's Parquet files as a Dataset (the marker is not a Parquet file: skipped)."""
    import ray.data as rd

    return rd.read_parquet(store.root, filesystem=store.fs)


def _frame_fn(fn):
    """Wrap a polars frame -> frame function as a pyarrow batch function."""
    def run(batch: pa.Table, **kwargs) -> pa.Table:
        return fn(pl.from_arrow(batch), **kwargs).to_arrow()
    return run


def _exact_partition(batch: pa.Table, order: tuple[str, ...]) -> pa.Table:
    docs = pl.from_arrow(batch.drop_columns(["sig"]))
    ex = exact_groups(docs, order)  # same row order as docs
    return batch.append_column("exact_survivor", ex["exact_survivor"].to_arrow()).append_column(
        "exact_size", ex["exact_size"].to_arrow().cast(pa.int64()))


def _explode_bands(batch: pa.Table, plan: DedupPlan) -> pa.Table:
    keys = band_keys(sig_matrix(batch["sig"], plan.signature.num_perm), plan.bands, plan.rows)
    return band_rows(batch["node"].to_numpy(), keys).to_arrow()


def _jaccard(batch: pa.Table, num_perm: int, threshold: float | None) -> pa.Table:
    sa, sb = sig_matrix(batch["sig_a"], num_perm), sig_matrix(batch["sig_b"], num_perm)
    jac = jaccard_estimate(sa, sb).astype(np.float32) if len(sa) else np.zeros(0, np.float32)
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


def run_phases_ray(inputs: list[str], work: Store, plan: DedupPlan, old: pa.Table | None,
                   num_partitions: int = 16) -> Store:
    """Run (or resume) every phase on Ray; returns the marks' store."""
    import ray.data as rd

    if work.is_done("marks"):
        return work.sub("marks")
    if not inputs:  # nothing new to deduplicate: the local engine handles the trivial case
        return run_phases_local(inputs, work, plan, None)
    ctx = rd.DataContext.get_current()
    saved_block_size, ctx.target_max_block_size = ctx.target_max_block_size, None
    try:
        return _run(inputs, work, plan, old, num_partitions)
    finally:
        ctx.target_max_block_size = saved_block_size


def _path_key(path: str) -> str:
    """Ray's ``include_paths`` drops a URI scheme (s3://b/k -> b/k); compare without it."""
    return str(path).split("://", 1)[-1]


def _signatures(batch: pa.Table, config, part_of: dict[str, int]) -> pa.Table:
    """Signature rows of a batch read with ``include_paths``; ``part`` = the input's index
    (a read task may hold several files, so it is taken per row)."""
    paths = batch["path"]
    batch = batch.drop_columns(["path"])
    tables = [signature_table(batch.filter(pc.equal(paths, value)), config, part=part_of[_path_key(value)])
              for value in pc.unique(paths).to_pylist()]
    return pa.concat_tables(tables) if tables else signature_table(batch, config)


def _labels(batch: pa.Table) -> pa.Table:
    """Star edges (a = node, b = component minimum) -> (node, label) rows, roots included
    as (b, b); duplicates are removed after the shuffle by node."""
    return pa.table({"node": pa.concat_arrays([batch["a"].combine_chunks(), batch["b"].combine_chunks()]),
                     "label": pa.concat_arrays([batch["b"].combine_chunks(), batch["b"].combine_chunks()])})


def _unique(batch: pa.Table, schema: pa.Schema) -> pa.Table:
    return pl.from_arrow(batch).unique().to_arrow().cast(schema) if batch.num_rows else schema.empty_table()


def _no_label(batch: pa.Table, schema: pa.Schema) -> pa.Table:
    return batch.append_column("label", pa.nulls(batch.num_rows, schema.field("label").type)).select(
        schema.names).cast(schema)


def _components(batch: pa.Table, order: tuple[str, ...], schema: pa.Schema) -> pa.Table:
    rows = pl.from_arrow(_conform(batch, schema)) if batch.num_rows else pl.from_arrow(schema.empty_table())
    return component_best(component_rows(rows), order).to_arrow()


def _marks(batch: pa.Table, schema: pa.Schema) -> pa.Table:
    if batch.num_rows == 0:
        return empty_marks().to_arrow()
    return mark_rows(pl.from_arrow(_conform(batch, schema))).to_arrow()


def _input_paths(inputs: list[str]):
    """The inputs' filesystem (they all live in the run's work dir) and inner paths."""
    located = [fsutil.filesystem_for(uri) for uri in inputs]
    fs = located[0][0]
    if any(f.type_name != fs.type_name for f, _ in located):
        raise ValueError(f"dedup: the inputs are on more than one filesystem: {inputs}")
    return fs, [path for _, path in located]


def _run(inputs: list[str], work: Store, plan: DedupPlan, old: pa.Table | None, num_partitions: int) -> Store:
    import ray.data as rd
    from ray.data.expressions import col

    whole = {"batch_format": "pyarrow", "batch_size": None}
    in_fs, in_paths = _input_paths(inputs)
    cols = input_columns(pq.read_schema(in_paths[0], filesystem=in_fs).names)
    part_of = {_path_key(p): i for i, p in enumerate(in_paths)}
    write = {"filesystem": work.fs}
    hashes = {**write, **HASH_PARQUET}  # as Store.write_table(hashes=True)
    sig_dir = _phase(work, "signatures", lambda d: rd.read_parquet(in_paths, filesystem=in_fs, include_paths=True)
                     .select_columns(cols + ["path"])
                     .map_batches(_signatures, batch_format="pyarrow",
                                  fn_kwargs={"config": plan.signature, "part_of": part_of})
                     .write_parquet(d, **hashes))

    def build_exact(d: str) -> None:
        docs = _read(sig_dir)
        if old is not None and old.num_rows:
            docs = docs.union(rd.from_arrow(old.select(docs.schema().names)))
        docs.repartition(num_partitions, keys=["exact"]).map_batches(
            _exact_partition, fn_kwargs={"order": plan.survivor_order}, **whole).write_parquet(d, **hashes)

    exact_dir = _phase(work, "exact", build_exact)
    exact_schema = exact_dir.read_schema(exact_dir.files()[0])
    node_type = exact_schema.field("node").type

    def build_edges(d: str) -> None:
        survivors = _read(exact_dir).filter(expr=col("node") == col("exact_survivor")).select_columns(["node", "sig"])
        cand = survivors.map_batches(_explode_bands, batch_format="pyarrow", fn_kwargs={"plan": plan}) \
            .repartition(num_partitions, keys=["band", "key"]).map_batches(_frame_fn(star_edges), **whole)
        sig_type = exact_schema.field("sig").type
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
                      ).write_parquet(d, **write)

    label_schema = pa.schema([("node", node_type), ("label", node_type)])
    labels = None
    if plan.near:
        edges_dir = _phase(work, "edges", build_edges)
        if any(edges_dir.num_rows(p) for p in edges_dir.files()):
            comp_dir = _phase(work, "components", lambda d: components_ray(
                _read(edges_dir).select_columns(["a", "b"]), num_partitions).write_parquet(d, **write))
            labels = _read(comp_dir).map_batches(_labels, batch_format="pyarrow") \
                .repartition(num_partitions, keys=["node"]).map_batches(_unique, fn_kwargs={"schema": label_schema},
                                                                         **whole)

    def build_marks(d: str) -> None:
        exact = _read(exact_dir).select_columns(
            ["node", "id", "exact", "old", "score", "length", "part", "exact_survivor", "exact_size"])
        survivors = exact.filter(expr=col("node") == col("exact_survivor")).drop_columns(["exact_survivor", "part"])
        surv_schema = pa.schema([exact_schema.field(c) for c in ("node", "id", "exact", "old", "score", "length")]
                                + [pa.field("exact_size", pa.int64()), pa.field("label", node_type)])
        if labels is None:  # no near-duplicate edges: every component is one exact group
            labelled = survivors.map_batches(_no_label, batch_format="pyarrow", fn_kwargs={"schema": surv_schema})
        else:
            labelled = survivors.join(labels, join_type="left_outer", num_partitions=num_partitions, on=("node",)) \
                .map_batches(_conform, batch_format="pyarrow", fn_kwargs={"schema": surv_schema})
        comps = labelled.repartition(num_partitions, keys=["label"]) \
            .map_batches(_components, fn_kwargs={"order": plan.survivor_order, "schema": surv_schema}, **whole)
        member_cols = ("node", "id", "exact", "old", "part", "exact_survivor")
        members = exact.select_columns(list(member_cols))
        member_schema = pa.schema([exact_schema.field(c) for c in member_cols]
                                  + [pa.field("cluster_node", node_type),
                                     pa.field("cluster_id", exact_schema.field("id").type),
                                     pa.field("cluster_exact", exact_schema.field("exact").type)])
        members.join(comps, join_type="inner", num_partitions=num_partitions, on=("exact_survivor",)) \
            .map_batches(_marks, fn_kwargs={"schema": member_schema}, **whole) \
            .write_parquet(d, partition_cols=["part"], **write)

    return _phase(work, "marks", build_marks)
