"""The ``dedup`` stage: exact and MinHash-LSH near-duplicate removal (a global stage).

``run_global`` sees every document (the runner's Parquet intermediates) and decides,
in phases under ``context.work_dir`` (see ``filters.dedup_local`` / ``filters.dedup_ray``):
signatures -> exact groups -> band buckets -> verified candidate edges -> connected
components -> marks. ``__call__`` then applies the marks to each batch by ``id``:

* ``dup_cluster``: the id of the cluster's survivor, shared by every member (null for
  a document with no duplicate);
* ``dup_of``: the survivor's id for a dropped duplicate (null otherwise);
* ``drop_reason`` ``dedup:exact`` (same normalized text as the survivor) or
  ``dedup:near`` (MinHash-LSH near duplicate) for the non-survivors.

Only rows not already dropped take part. Defaults (measured by
``benchmarks/dedup_eval.py``): CJK character 2-grams and word 3-grams, 128
permutations, Jaccard threshold 0.5 -> 25 bands x 5 rows (datasketch's optimisation),
candidates verified by estimated Jaccard >= 0.5. Survivor: a document from an earlier
run's index, then the highest score (``score_column``; "auto" = the max of
quality_score / math_score / code_score present), then the longest, then the smallest id.

Incremental: with ``context.output_dir`` set, the kept documents' signatures and band
keys go to ``OUT/index/dedup/``; a later run lists earlier output dirs in
``previous_outputs`` and their documents take part as never-dropped survivors.

Limits: ``__call__`` holds the marks (one row per member of a duplicate cluster, ~50
bytes each) in memory in every worker that applies them, and the Ray engine's last
step (survivor choice) runs on the driver over ~60 bytes per document; both are fine to
~10^8 documents, not to 10^9 (see benchmarks/dedup_scale.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import polars as pl
import pyarrow as pa

from pipeline.schema import active_mask, drop_rows, set_column
from pipeline.stage import GlobalContext, stage_reason


@dataclass
class DedupStage:
    name: ClassVar[str] = "dedup"

    threshold: float = field(default=0.5, metadata={"help": "Jaccard similarity of near duplicates (LSH + verification)"})
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations"})
    bands: int = field(default=0, metadata={"help": "LSH bands; 0 = optimal for threshold (with rows)"})
    rows: int = field(default=0, metadata={"help": "rows per band; 0 = optimal for threshold"})
    seed: int = field(default=1, metadata={"help": "MinHash seed (datasketch-compatible)"})
    verify: bool = field(default=True, metadata={"help": "drop LSH candidates whose estimated Jaccard < threshold"})
    near: bool = field(default=True, metadata={"help": "false = exact dedup only"})
    ngram_cjk: int = field(default=2, metadata={"help": "character n-gram size inside CJK runs"})
    ngram_word: int = field(default=3, metadata={"help": "word n-gram size inside non-CJK runs"})
    shingle_mode: Literal["text", "code"] = field(default="text", metadata={"help": "code keeps case and operator tokens"})
    lowercase: bool = True
    digits_to_zero: bool = False
    traditional_to_simplified: bool = True
    score_column: str = field(default="auto", metadata={"help": "survivor score column; auto | none | a column"})
    survivor_order: list[str] = field(default_factory=lambda: ["quality", "length"],
                                      metadata={"help": "survivor keys in order: quality, length, shortest (id last)"})
    num_partitions: int = field(default=0, metadata={"help": "Ray groupby/join partitions; 0 = 2 x the runner's workers"})
    work_dir: str = field(default="", metadata={"help": "set by run_global; where the marks are"})

    def __post_init__(self) -> None:
        self._marks: pl.DataFrame | None = None

    def plan(self):
        from filters.dedup_local import DedupPlan
        from filters.dedup_signatures import SignatureConfig
        from filters.lsh_params import optimal_bands_rows
        from filters.shingles import ShingleConfig

        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"dedup: threshold must be in (0, 1), got {self.threshold}")
        bands, rows = self.bands, self.rows
        if not bands or not rows:
            bands, rows = optimal_bands_rows(self.threshold, self.num_perm)
        if bands * rows > self.num_perm:
            raise ValueError(f"dedup: bands x rows = {bands * rows} > num_perm {self.num_perm}")
        shingles = ShingleConfig(self.ngram_cjk, self.ngram_word, self.shingle_mode, self.lowercase,
                                 self.digits_to_zero, self.traditional_to_simplified)
        sig = SignatureConfig(shingles, self.num_perm, self.seed, self.score_column)
        return DedupPlan(sig, bands, rows, self.threshold, self.verify, self.near, tuple(self.survivor_order))

    def run_global(self, inputs: list[str], context: GlobalContext) -> None:
        from filters.dedup_index import load_index, write_index
        from filters.dedup_local import prepare_work_dir, run_local

        plan = self.plan()
        work = Path(context.work_dir)
        previous = [Path(p) for p in context.previous_outputs]
        prepare_work_dir(work, inputs, plan, previous)
        old = load_index(previous, plan.meta())
        if context.engine == "ray":
            from filters.dedup_ray import run_ray

            parts = self.num_partitions or max(2, 2 * context.num_workers)
            marks_path = run_ray(inputs, work, plan, old, parts)
        else:
            marks_path = run_local(inputs, work, plan, old)
        if context.output_dir is not None:
            marks = pl.read_parquet(marks_path)
            dropped = marks.filter(pl.col("dup_of").is_not_null())["id"].to_arrow()
            write_index(Path(context.output_dir), sorted((work / "signatures").glob("*.parquet")), dropped, plan.meta())
        self.work_dir = str(work)
        self._marks = None

    def setup(self) -> None:
        """Loads the marks when ``run_global`` has produced them; before that (a runner
        may call setup first) it does nothing, and ``__call__`` raises."""
        path = Path(self.work_dir) / "marks.parquet" if self.work_dir else None
        if self._marks is None and path is not None and path.exists():
            self._marks = pl.read_parquet(path).unique("id", keep="first", maintain_order=True)

    def _require_marks(self) -> pl.DataFrame:
        self.setup()
        if self._marks is None:
            where = f" at {Path(self.work_dir) / 'marks.parquet'}" if self.work_dir else ""
            raise RuntimeError(
                "dedup is a global stage: run_global(inputs, context) must run over all documents "
                f"before batches are passed to it (no marks found{where})"
            )
        return self._marks

    def __call__(self, batch: pa.Table) -> pa.Table:
        marks = self._require_marks()
        ids = pl.from_arrow(batch["id"]).alias("id").to_frame().with_row_index("_row")
        joined = ids.join(marks, on="id", how="left").sort("_row")
        active = active_mask(batch)
        cluster = np.where(active, joined["dup_cluster"].to_numpy(), None)
        dup_of = np.where(active, joined["dup_of"].to_numpy(), None)
        reason = joined["dup_reason"].to_numpy()
        batch = set_column(batch, "dup_cluster", pa.array(cluster.tolist(), pa.string()))
        batch = set_column(batch, "dup_of", pa.array(dup_of.tolist(), pa.string()))
        for why in ("exact", "near"):
            batch = drop_rows(batch, active & (reason == why), stage_reason(self.name, why))
        return batch
