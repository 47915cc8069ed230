"""Dedup marks: who survives each duplicate cluster, and where the decisions are stored.

The decision is three vectorized polars steps, each over rows that hold whole groups,
so the local engine runs them over everything and the Ray engine runs the very same
functions over hash partitions (``filters.dedup.ray_engine``):

1. :func:`component_rows`: the exact-group survivors with their near-duplicate
   component label (null = a component of its own); only those that can belong to a
   cluster of more than one document are kept.
2. :func:`component_best` (rows partitioned by ``label``): per component the best
   document by the survivor rule and the component's size in documents (the sum of its
   exact groups' sizes) -> ``(exact_survivor, cluster_id, cluster_exact)``.
3. :func:`mark_rows` (every document joined to (2) on ``exact_survivor``):
   ``node, id, part, dup_cluster, dup_of, dup_reason`` for the members of clusters.

Every decision is keyed by ``node``, the per-run unique row key
(``filters.dedup.signatures.row_keys``), never by the user's ``id``: ids may repeat.
The survivor's ``id`` is what ``dup_cluster`` and ``dup_of`` show the user.

Storage is co-partitioned with the stage's inputs: ``marks/part=<i>/*.parquet`` holds
the marks of the documents of ``inputs[i]`` (``part`` is the input's index, recorded in
the signatures). Applying them (``DedupStage.bind_input``) loads one input's marks,
never all of them, so no worker's memory grows with the corpus. ``marks/`` is complete
when its ``_SUCCESS`` marker exists (``filters.dedup.storage``), on any filesystem.
"""

from __future__ import annotations

import polars as pl

from filters.dedup.storage import Store

MARKS_SCHEMA = {"node": pl.Int64, "id": pl.String, "part": pl.Int32, "dup_cluster": pl.String,
                "dup_of": pl.String, "dup_reason": pl.String}
MARK_COLUMNS = ("node", "id", "dup_cluster", "dup_of", "dup_reason")
SURVIVOR_KEYS = ("quality", "length", "shortest", "id")


def survivor_sort(order: tuple[str, ...]) -> tuple[list[str], list[bool], list[bool]]:
    """(columns, descending, nulls_last) for polars ``sort``: best candidate first."""
    cols, desc = ["old"], [True]
    for key in order:
        if key not in SURVIVOR_KEYS:
            raise ValueError(f"dedup: unknown survivor key {key!r}; use {', '.join(SURVIVOR_KEYS)}")
        if key == "quality":
            cols.append("score"), desc.append(True)
        elif key == "length":
            cols.append("length"), desc.append(True)
        elif key == "shortest":
            cols.append("length"), desc.append(False)
    cols.append("id"), desc.append(False)
    cols.append("node"), desc.append(False)  # documents sharing an id: still one order
    return cols, desc, [True] * len(cols)


def best_first(df: pl.DataFrame | pl.LazyFrame, order: tuple[str, ...]):
    cols, desc, nulls_last = survivor_sort(order)
    return df.sort(cols, descending=desc, nulls_last=nulls_last)


def component_rows(survivors: pl.DataFrame) -> pl.DataFrame:
    """``survivors`` (node, id, exact, old, score, length, exact_size, label) -> the rows
    that can be in a cluster, ``label`` filled with ``node`` for singleton components."""
    return survivors.filter(pl.col("label").is_not_null() | (pl.col("exact_size") > 1)).with_columns(
        pl.col("label").fill_null(pl.col("node")))


def component_best(rows: pl.DataFrame, order: tuple[str, ...]) -> pl.DataFrame:
    """Whole components (by ``label``) -> ``(exact_survivor, cluster_node, cluster_id,
    cluster_exact)`` for every exact survivor of a component of more than one document
    (``cluster_node`` decides who survives, ``cluster_id`` is what the user sees)."""
    best = best_first(rows, order).group_by("label", maintain_order=True).agg(
        pl.first("node").alias("cluster_node"), pl.first("id").alias("cluster_id"),
        pl.first("exact").alias("cluster_exact"))
    size = rows.group_by("label").agg(pl.sum("exact_size").alias("size"))
    comps = best.join(size, on="label").filter(pl.col("size") > 1)
    return rows.select("node", "label").join(comps, on="label").select(
        pl.col("node").alias("exact_survivor"), "cluster_node", "cluster_id", "cluster_exact")


def mark_rows(members: pl.DataFrame) -> pl.DataFrame:
    """Documents joined to their cluster (node, id, part, exact, old, cluster_node,
    cluster_id, cluster_exact) -> marks of this run's documents (an earlier run's
    documents are never marked)."""
    survivor = pl.col("node") == pl.col("cluster_node")
    return members.filter(~pl.col("old")).select(
        "node",
        "id",
        pl.col("part").cast(pl.Int32),
        pl.col("cluster_id").alias("dup_cluster"),
        pl.when(~survivor).then(pl.col("cluster_id")).alias("dup_of"),
        pl.when(survivor).then(None)
        .when(pl.col("exact") == pl.col("cluster_exact")).then(pl.lit("exact"))
        .otherwise(pl.lit("near")).alias("dup_reason"),
    )


def marks_from(docs: pl.DataFrame, exact: pl.DataFrame, labels: pl.DataFrame, order: tuple[str, ...]) -> pl.DataFrame:
    """The three steps on one machine. ``docs``: node, id, exact, old, score, length,
    part; ``exact``: node -> exact_survivor, exact_size; ``labels``: node -> label for
    exact survivors in near-duplicate components."""
    d = docs.join(exact.select("node", "exact_survivor", "exact_size"), on="node")
    survivors = d.filter(pl.col("node") == pl.col("exact_survivor")).join(labels, on="node", how="left")
    comps = component_best(component_rows(survivors), order)
    return mark_rows(d.join(comps, on="exact_survivor")).sort("node")


def empty_marks() -> pl.DataFrame:
    return pl.DataFrame(schema=MARKS_SCHEMA)


def write_marks(marks: pl.DataFrame, store: Store, name: str = "marks") -> Store:
    """``<name>/part=<i>/marks.parquet`` per input, then the directory's marker; returns
    the marks' store."""
    store.begin_dir(name)
    for (part,), rows in marks.partition_by("part", as_dict=True).items():
        store.write_table(rows.drop("part").sort("node"), name, f"part={part}", "marks.parquet")
    store.mark_done(name)
    return store.sub(name)


def read_part_marks(marks: Store, part: int) -> pl.DataFrame:
    """The marks of ``inputs[part]`` (empty when none of its documents is in a cluster)."""
    files = marks.files(f"part={part}")
    if not files:
        return empty_marks().drop("part")
    frames = [pl.from_arrow(marks.read_table(f)).select(MARK_COLUMNS) for f in files]
    # one row per key, whatever the files hold: the join in __call__ must never multiply rows
    return pl.concat(frames).cast({k: v for k, v in MARKS_SCHEMA.items() if k != "part"}).unique(
        "node", keep="first", maintain_order=True)


def read_marks(marks: Store) -> pl.DataFrame:
    """Every input's marks, sorted by id then key (for tests, benchmarks and small runs)."""
    frames = []
    for name in marks.subdirs():
        if not name.startswith("part="):
            continue
        part = int(name.split("=", 1)[1])
        frames.append(read_part_marks(marks, part).with_columns(pl.lit(part, pl.Int32).alias("part")))
    if not frames:
        return empty_marks()
    return pl.concat(frames).select(list(MARKS_SCHEMA)).sort("id", "node")
