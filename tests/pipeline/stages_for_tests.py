"""Small stages for testing the engine itself (the real stages are tested in tests/filters)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schema import active_mask, drop_rows, set_column
from pipeline.stage import GlobalContext


@dataclass
class MinLengthStage:
    """Drops texts shorter than ``min_chars``; adds ``n_chars``. Optionally sleeps per batch."""

    name: ClassVar[str] = "min_length"
    min_chars: int = 20
    sleep_s: float = 0.0

    def setup(self) -> None:
        pass

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.sleep_s:
            time.sleep(self.sleep_s)
        n = pc.utf8_length(batch["text"])
        batch = set_column(batch, "n_chars", n)
        short = np.asarray(pc.less(n, self.min_chars).to_numpy(zero_copy_only=False))
        return drop_rows(batch, short & active_mask(batch), "min_length:too_short")


@dataclass
class ExactDupStage:
    """A global stage: keeps the smallest id of each distinct text among active rows.

    Its decisions are applied per input, as dedup's are: ``__call__`` refuses a batch
    unless the runner bound the input it comes from (``bind_input``), so the runner
    tests check that both engines bind each intermediate before streaming it."""

    name: ClassVar[str] = "exact_dup"
    _decisions: str | None = None

    def setup(self) -> None:
        self._bound: tuple[pa.Array, pa.Array] | None = None

    def run_global(self, inputs: list[str], context: GlobalContext) -> None:
        out = os.path.join(context.work_dir, "losers.parquet")
        frame = pl.scan_parquet(inputs).filter(pl.col("drop_reason").is_null()).select("id", "text")
        losers = (frame.with_columns(pl.col("id").min().over("text").alias("keep"))
                  .filter(pl.col("id") != pl.col("keep")).select("id").collect())
        losers.write_parquet(out)
        self._decisions = out

    def bind_input(self, path: str) -> None:
        if self._decisions is None:
            raise RuntimeError("run_global first")
        ids = pl.read_parquet(path, columns=["id"])["id"]
        losers = pl.read_parquet(self._decisions)["id"]
        self._bound = (ids.to_arrow(), losers.filter(losers.is_in(ids.implode())).to_arrow())

    def __call__(self, batch: pa.Table) -> pa.Table:
        if getattr(self, "_bound", None) is None:
            raise RuntimeError("exact_dup: no input bound (bind_input) before the batch")
        ids, losers = self._bound
        if not pc.all(pc.is_in(batch["id"], value_set=ids)).as_py():
            raise RuntimeError("exact_dup: a batch from another input than the bound one")
        mask = pc.is_in(batch["id"], value_set=losers).to_numpy(zero_copy_only=False)
        return drop_rows(batch, mask & active_mask(batch), "exact_dup:dup")


DEV_PROSE = Path(__file__).resolve().parents[1] / "data" / "dev" / "neg_en.jsonl"


def make_jsonl_inputs(tmp_path: Path, files: int, rows: int, dup_every: int = 7,
                      extra: dict | None = None) -> list[str]:
    """JSONL files of real dev prose: every ``dup_every``-th doc repeats the first text (exact
    duplicates across files), ids ``doc-NNNNN``, and one invalid JSON line at the end of each."""
    texts = [json.loads(line)["text"] for line in DEV_PROSE.open()]
    paths = []
    for f in range(files):
        path = tmp_path / f"in-{f}.jsonl"
        with path.open("w") as out:
            for r in range(rows):
                i = f * rows + r
                text = texts[0] if i % dup_every == 0 else texts[i % len(texts)]
                out.write(json.dumps({"id": f"doc-{i:05d}", "text": text, **(extra or {})}) + "\n")
            out.write("{not json\n")
        paths.append(str(path))
    return paths


TEST_STAGES = {
    "min_length": ("tests.pipeline.stages_for_tests", "MinLengthStage"),
    "exact_dup": ("tests.pipeline.stages_for_tests", "ExactDupStage"),
}
