"""The ``dedup`` stage: exact and MinHash-LSH near-duplicate removal (a global stage).

``run_global`` sees every document (the runner's Parquet intermediates) and decides,
in phases under ``context.work_dir`` (see ``filters.dedup.local_engine`` / ``filters.dedup.ray_engine``):
signatures -> exact groups -> band buckets -> verified candidate edges -> connected
components -> marks. ``__call__`` then applies the marks to each batch by row key
(``filters.dedup.signatures.row_keys``: source, reader offset, id and text, unique per
row of a run), never by the user's ``id``, which may repeat:

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
quality_score / math_score / code_score present), then the longest, then the smallest id,
then the smallest row key (two documents may share an id; each is decided on its own).

Incremental: with ``context.output_dir`` set, the kept documents' signatures and band
keys go to ``OUT/index/dedup/``; a later run lists earlier output dirs in
``previous_outputs`` and their documents take part as never-dropped survivors.

Scale: on Ray every step that sees all documents is a hash shuffle (see
``filters.dedup.ray_engine``), survivor choice included. The marks are stored per input file
(``filters.dedup.marks``) and the runner calls ``bind_input(path)`` before it streams
an input, so a worker holds one input's marks, not the corpus's (a bare ``__call__``
without a bound input loads them all: fine for ``taosha stage`` and tests).

Storage: ``context.work_dir``, ``output_dir`` and ``previous_outputs`` are URIs (local
disk or object storage); every file goes through ``filters.dedup.storage``. Where the
marks are is runtime state, not config: set by ``run_global``, it is no dataclass field
(YAML and ``taosha stages`` never see it); the Ray engine's actors get it through the
constructor-only ``work_uri`` (see :meth:`DedupStage.runtime_params`).
"""

from __future__ import annotations

import os
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar, Literal

import polars as pl
import pyarrow as pa

from filters.dedup.storage import Store
from pipeline.active_rows import ActiveRows
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
    lowercase: bool = True  # fold case before shingling
    digits_to_zero: bool = False  # map every digit to 0 before shingling (numbers stop mattering)
    traditional_to_simplified: bool = True  # fold Traditional Chinese to Simplified before shingling
    score_column: str = field(default="auto", metadata={"help": "survivor score column; auto | none | a column"})
    survivor_order: list[str] = field(default_factory=lambda: ["quality", "length"],
                                      metadata={"help": "survivor keys in order: quality, length, shortest (id last)"})
    num_partitions: int = field(default=0, metadata={"help": "Ray groupby/join partitions; 0 = 2 x the runner's workers"})
    work_uri: InitVar[str] = ""  # runtime, not config: the URI of a finished run_global's work dir

    def __post_init__(self, work_uri: str) -> None:
        self._work = Store.at(work_uri) if work_uri else None  # where run_global left plan.json and marks/
        self._marks: pl.DataFrame | None = None  # every input's marks (no input bound)
        self._bound: tuple[int, pl.DataFrame] | None = None  # (part, its marks)
        self._parts: dict[str, int] | None = None  # input path -> part

    def plan(self):
        from filters.dedup.local_engine import DedupPlan
        from filters.dedup.signatures import SignatureConfig
        from filters.dedup.sketch.lsh_params import optimal_bands_rows
        from filters.dedup.sketch.shingles import ShingleConfig

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
        from filters.dedup.index import load_index, write_index
        from filters.dedup.local_engine import prepare_work_dir, run_phases_local

        plan = self.plan()
        work = Store.at(context.work_dir)  # a URI; os.fspath also takes a Path from older callers
        previous = [os.fspath(p) for p in context.previous_outputs]
        prepare_work_dir(work, inputs, plan, previous)
        old = load_index(previous, plan.meta())
        if context.engine == "ray":
            from filters.dedup.ray_engine import run_phases_ray

            parts = self.num_partitions or max(2, 2 * context.num_workers)
            marks = run_phases_ray(inputs, work, plan, old, parts)
        else:
            marks = run_phases_local(inputs, work, plan, old)
        if context.output_dir is not None:
            write_index(os.fspath(context.output_dir), work, work.files("signatures"), marks, plan.meta(),
                        engine=context.engine)
        self._work = work
        self._marks, self._bound, self._parts = None, None, None

    def runtime_params(self) -> dict[str, Any]:
        """Constructor keywords that rebuild this stage with its runtime state (where the
        marks are): the Ray engine ships them to its actors (``stage_spec``) beside the config."""
        return {"work_uri": self._work.uri} if self._work is not None else {}

    def setup(self) -> None:
        """Reads which input is which part when ``run_global`` has run; marks load
        lazily (one input's in ``bind_input``). A runner may call setup before the
        global phase: then it does nothing, and ``__call__`` raises."""
        if self._parts is None and self._work is not None and self._work.exists("plan.json"):
            inputs = self._work.read_json("plan.json")["inputs"]
            self._parts = {path: i for i, path in enumerate(inputs)}

    def _marks_store(self) -> Store:
        self.setup()
        if self._work is None or not self._work.is_done("marks") or self._parts is None:
            where = f" at {self._work.sub('marks').uri}" if self._work is not None else ""
            raise RuntimeError(
                "dedup is a global stage: run_global(inputs, context) must run over all documents "
                f"before batches are passed to it (no marks found{where})"
            )
        return self._work.sub("marks")

    def bind_input(self, path: str) -> None:
        """The runner streams ``path`` (one of ``run_global``'s inputs) next: hold only
        that input's marks. Without a bound input ``__call__`` loads every input's."""
        from filters.dedup.marks import read_part_marks

        marks = self._marks_store()
        if path not in self._parts:
            raise RuntimeError(f"dedup: {path} was not an input of the global phase in {self._work.uri}")
        part = self._parts[path]
        if self._bound is None or self._bound[0] != part:
            self._bound = (part, read_part_marks(marks, part))

    @property
    def bound_marks_rows(self) -> int:
        """Rows of marks held for the bound input (0 when none is bound)."""
        return self._bound[1].height if self._bound is not None else 0

    def _current_marks(self) -> pl.DataFrame:
        if self._bound is not None:
            return self._bound[1]
        if self._marks is None:
            from filters.dedup.marks import read_marks

            self._marks = read_marks(self._marks_store()).drop("part")
        return self._marks

    def __call__(self, batch: pa.Table) -> pa.Table:
        from filters.dedup.signatures import row_keys

        rows = ActiveRows.of(batch)  # only rows not already dropped take part
        marks = self._current_marks().select("node", "dup_cluster", "dup_of", "dup_reason")
        # keys of the whole batch, then the active rows': taking the active rows out first
        # copied every column, text included (row_keys reads the text only where it needs it)
        keys = pl.DataFrame({"node": rows.take(row_keys(batch))})
        joined = keys.with_row_index("_row").join(marks, on="node", how="left").sort("_row")
        why = joined["dup_reason"].to_numpy()
        return rows.scatter(batch, {
            "dup_cluster": (joined["dup_cluster"].to_arrow(), pa.string()),
            "dup_of": (joined["dup_of"].to_arrow(), pa.string()),
        }, reasons={stage_reason(self.name, "exact"): why == "exact", stage_reason(self.name, "near"): why == "near"})

