"""Connected components of the duplicate graph: local (polars) and the per-node steps
of the distributed large-star / small-star algorithm.

Nodes are int64 (a hash of the document id). Locally, :func:`components_polars` runs
min-label propagation with pointer jumping as polars joins: memory is a few columns
per edge, no Python loop per edge. For Ray, :func:`large_star` and :func:`small_star`
are the reduce functions of Kiveris et al. (2014), "Connected Components in MapReduce
and Beyond": each sees only the edges of one node (a groupby group), so no process
ever holds all edges; alternating them converges to stars rooted at each component's
minimum node, i.e. ``(node, label)`` pairs with label = component minimum. The same
functions run in :func:`components_star_local` so tests can check them without Ray.
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


def large_star(node: int, neighbours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Large-star step for one node: link every larger neighbour to the smallest of
    the node's closed neighbourhood."""
    nb = np.unique(neighbours)
    m = min(int(nb.min()), node) if len(nb) else node
    bigger = nb[nb > node]
    return bigger, np.full(len(bigger), m, dtype=np.int64)


def small_star(node: int, smaller: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Small-star step for one node given its neighbours that are <= it: link the
    node and those neighbours to their minimum."""
    nb = np.unique(smaller)
    m = min(int(nb.min()), node) if len(nb) else node
    members = np.union1d(nb, [node])
    members = members[members != m]
    return members, np.full(len(members), m, dtype=np.int64)


def star_fingerprint(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Order-independent fingerprint of an edge multiset (count, wrapped hash sum):
    two consecutive rounds with equal fingerprints mean the stars are final."""
    with np.errstate(over="ignore"):
        h = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ b.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        h ^= h >> np.uint64(29)
        return len(a), int(np.sum(h, dtype=np.uint64))


def components_star_local(a: np.ndarray, b: np.ndarray, max_iter: int = 100) -> dict[int, int]:
    """Large-star / small-star on one machine (reference for the Ray version)."""
    prev = None
    for _ in range(max_iter):
        a, b = _round(a, b, large=True)
        a, b = _round(a, b, large=False)
        fp = star_fingerprint(a, b)
        if fp == prev:
            return {int(x): int(y) for x, y in zip(a, b)} | {int(y): int(y) for y in b}
        prev = fp
    raise RuntimeError("large/small star did not converge")


def _round(a: np.ndarray, b: np.ndarray, large: bool) -> tuple[np.ndarray, np.ndarray]:
    if large:
        keys, vals = np.concatenate([a, b]), np.concatenate([b, a])
    else:
        keys, vals = np.maximum(a, b), np.minimum(a, b)
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], vals[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    out_a, out_b = [], []
    for k, v in zip(np.split(keys, bounds), np.split(vals, bounds)):
        x, y = (large_star if large else small_star)(int(k[0]), v)
        out_a.append(x)
        out_b.append(y)
    return np.concatenate(out_a), np.concatenate(out_b)
