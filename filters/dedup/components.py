"""Connected components of the duplicate graph: local (polars) and the per-node steps
of the distributed large-star / small-star algorithm.

Nodes are int64 (a hash of the document id). Locally, :func:`components_polars` runs
min-label propagation with pointer jumping as polars joins: memory is a few columns
per edge, no Python loop per edge. For Ray, :func:`large_star` and :func:`small_star`
are the reduce functions of Kiveris et al. (2014), "Connected Components in MapReduce
and Beyond": each sees only the edges of one node (a groupby group), so no process
ever holds all edges; alternating them converges to stars rooted at each component's
minimum node, i.e. ``(node, label)`` pairs with label = component minimum. They are
vectorized polars functions over a frame that holds whole groups (Ray applies them to
each hash partition); :func:`components_star_local` runs the same functions so tests
check them without Ray.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def components_polars(edges: pl.DataFrame, max_iter: int = 200) -> pl.DataFrame:
    """``(node, label)`` for every node of ``edges`` (columns ``a``, ``b``), label =
    the smallest node of its component."""
    if edges.height == 0:
        return pl.DataFrame({"node": [], "label": []}, schema={"node": pl.Int64, "label": pl.Int64})
    e = pl.concat([edges.select("a", "b"), edges.select(pl.col("b").alias("a"), pl.col("a").alias("b"))])
    e = e.filter(pl.col("a") != pl.col("b")).unique()
    labels = e.group_by("a").agg(pl.min("b").alias("m")).select(
        pl.col("a").alias("node"), pl.min_horizontal("a", "m").alias("label")
    )
    for _ in range(max_iter):
        # propagate: each node takes the smallest label among its neighbours
        prop = (
            e.join(labels, left_on="b", right_on="node")
            .group_by("a")
            .agg(pl.min("label").alias("nb"))
        )
        new = labels.join(prop, left_on="node", right_on="a", how="left").select(
            "node", pl.min_horizontal("label", "nb").alias("label")
        )
        # pointer jumping: label <- label of label
        new = new.join(new.rename({"node": "l", "label": "l2"}), left_on="label", right_on="l", how="left").select(
            "node", pl.min_horizontal("label", "l2").alias("label")
        )
        changed = new.join(labels, on="node").filter(pl.col("label") != pl.col("label_right")).height
        labels = new
        if changed == 0:
            return labels.sort("node")
    raise RuntimeError(f"connected components did not converge in {max_iter} iterations")


def large_star(edges: pl.DataFrame) -> pl.DataFrame:
    """Large-star over whole groups: ``edges`` (k, v) holds, for each node k, ALL its
    neighbours v (both directions given). Links every neighbour larger than k to the
    minimum of k's closed neighbourhood. Returns (a, b)."""
    e = edges.unique()
    m = pl.min_horizontal(pl.col("v").min().over("k"), pl.col("k"))
    return e.with_columns(m.alias("m")).filter(pl.col("v") > pl.col("k")).select(
        pl.col("v").alias("a"), pl.col("m").alias("b")
    )


def small_star(edges: pl.DataFrame) -> pl.DataFrame:
    """Small-star over whole groups: ``edges`` (k, v) holds, for each node k, ALL its
    neighbours v <= k. Links k and those neighbours to their minimum. Returns (a, b)."""
    e = edges.unique().with_columns(pl.min_horizontal(pl.col("v").min().over("k"), pl.col("k")).alias("m"))
    out = pl.concat([e.select(pl.col("v").alias("a"), pl.col("m").alias("b")),
                     e.select(pl.col("k").alias("a"), pl.col("m").alias("b"))])
    return out.unique().filter(pl.col("a") != pl.col("b"))


def star_fingerprint(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Order-independent fingerprint of an edge multiset (count, wrapped hash sum):
    two consecutive rounds with equal fingerprints mean the stars are final."""
    with np.errstate(over="ignore"):
        h = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ b.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        h ^= h >> np.uint64(29)
        return len(a), int(np.sum(h, dtype=np.uint64))


def components_star_local(a: np.ndarray, b: np.ndarray, max_iter: int = 100) -> dict[int, int]:
    """Large-star / small-star on one machine with the same frame functions the Ray
    engine applies per hash partition (reference for the Ray version)."""
    edges = pl.DataFrame({"a": a, "b": b}, schema={"a": pl.Int64, "b": pl.Int64})
    prev = None
    for _ in range(max_iter):
        edges = large_star(both_ways(edges))
        edges = small_star(by_larger(edges))
        fp = star_fingerprint(edges["a"].to_numpy(), edges["b"].to_numpy())
        if fp == prev:
            a_, b_ = edges["a"].to_list(), edges["b"].to_list()
            return dict(zip(a_, b_)) | {y: y for y in b_}
        prev = fp
    raise RuntimeError("large/small star did not converge")


def both_ways(edges: pl.DataFrame) -> pl.DataFrame:
    """(a, b) -> (k, v) in both directions: every node's full neighbourhood."""
    return pl.concat([edges.select(pl.col("a").alias("k"), pl.col("b").alias("v")),
                      edges.select(pl.col("b").alias("k"), pl.col("a").alias("v"))])


def by_larger(edges: pl.DataFrame) -> pl.DataFrame:
    """(a, b) -> (k = larger, v = smaller endpoint)."""
    return edges.select(pl.max_horizontal("a", "b").alias("k"), pl.min_horizontal("a", "b").alias("v"))
