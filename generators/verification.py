"""Verification inside a round: route rows to verify_math / verify_code, pick failures to
repair, merge repaired rows back, and count the round's funnel.

The verifiers are the registered stages (``pipeline.build_stage``), used through
the stage contract only: same rows in, same order out, failures marked with
``drop_reason`` ``verify_math:<why>`` / ``verify_code:<why>`` and their error in columns.
Math rows (tasks ``math`` and ``math_ref``) go to ``verify_math``, code rows (``code``,
``code_ref``) to ``verify_code``; each stage sees only its own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from generators.tasks.samples import parse_message
from pipeline import build_stage
from pipeline.schema import concat, drop_rows, set_column
from pipeline.stats import RunStats, StageStats, newly_dropped

MATH_TASKS = ("math", "math_ref")
CODE_TASKS = ("code", "code_ref")
ERROR_TYPE_COLUMNS = ("verify_error_type", "error_type")
ERROR_MESSAGE_COLUMNS = ("verify_error", "verify_message", "error_message")
STEPS = ("generate", "parse", "verify")


class Verifier:
    """Runs verify_math on math rows and verify_code on code rows (stages built on first use)."""

    def __init__(self, math_params: dict, code_params: dict, *, file: str | None = None):
        self._params = {"verify_math": math_params, "verify_code": code_params}
        self._file = file
        self._stages: dict[str, object] = {}
        self.stats = {name: StageStats(name) for name in self._params}

    def stage(self, name: str) -> object:
        if name not in self._stages:
            stage = build_stage(name, self._params[name], file=self._file)
            stage.setup()
            self._stages[name] = stage
        return self._stages[name]

    def __call__(self, table: pa.Table, votes: pa.Table | None = None) -> pa.Table:
        """Verify ``table``; ``votes`` (extra solves of new problems, grouped by ``gen_group``)
        are verified with the math rows so they can vote, then left out of the result."""
        tasks = np.asarray(table["gen_task"].to_pylist(), dtype=object)
        groups = [("verify_math", np.isin(tasks, MATH_TASKS)), ("verify_code", np.isin(tasks, CODE_TASKS))]
        positions, parts = [], []
        for name, mask in groups:
            if not mask.any():
                continue
            sub = table.filter(pa.array(mask))
            n_sub = sub.num_rows
            if name == "verify_math" and votes is not None and votes.num_rows:
                sub = concat([sub, votes])
            before = sub["drop_reason"]
            out = self.stage(name)(sub)
            if out.num_rows != sub.num_rows:
                raise RuntimeError(f"{name} changed the number of rows")
            out, before = out.slice(0, n_sub), before.slice(0, n_sub)
            s = self.stats[name]
            s.rows_in += before.null_count
            s.kept += out["drop_reason"].null_count
            s.dropped.update(newly_dropped(before, out["drop_reason"]))
            parts.append(out)
            positions.append(np.flatnonzero(mask))
        if not parts:
            return table
        merged = concat(parts)
        order = np.argsort(np.concatenate(positions), kind="stable")
        return merged.take(pa.array(order))


def replace_rows(table: pa.Table, indices: list[int], new_rows: pa.Table) -> pa.Table:
    """``table`` with rows ``indices`` replaced by ``new_rows`` (in that order), order kept."""
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[indices] = True
    kept_positions = np.flatnonzero(~mask)
    merged = concat([table.filter(pa.array(~mask)), new_rows])
    order = np.argsort(np.concatenate([kept_positions, np.asarray(indices, dtype=np.int64)]), kind="stable")
    return merged.take(pa.array(order))


def _first_present(row: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def repairable_failures(table: pa.Table) -> list[tuple[int, str, str]]:
    """(row index, error type, error message) of rows a repair prompt can address.

    Format errors, truncated answers and verification failures are repairable;
    dead-lettered requests and empty answers are not (nothing to show the model).
    """
    reasons = table["drop_reason"].to_pylist()
    langs = table["gen_lang"].to_pylist() if "gen_lang" in table.column_names else ["en"] * len(reasons)
    rows = None
    out = []
    for i, reason in enumerate(reasons):
        if not reason:
            continue
        step, _, why = reason.partition(":")
        if step == "parse":
            out.append((i, "格式错误" if langs[i] == "zh" else "format error", parse_message(why, langs[i])))
        elif reason == "generate:truncated":
            out.append((i, "回答被截断" if langs[i] == "zh" else "truncated", parse_message("truncated", langs[i])))
        elif step in ("verify_math", "verify_code"):
            if rows is None:
                rows = table.to_pylist()
            etype = _first_present(rows[i], ERROR_TYPE_COLUMNS) or why
            message = _first_present(rows[i], ERROR_MESSAGE_COLUMNS) or why
            out.append((i, etype, message))
    return out


def step_of(reason: str) -> str:
    step = reason.partition(":")[0]
    return "verify" if step.startswith("verify") else step


def funnel_of(table: pa.Table, filter_stats: RunStats) -> list[dict]:
    """The round's funnel: planned -> generate -> parse -> verify -> each filter stage -> kept.

    Counts are over the final state of every sample (after repairs): a sample rescued by
    a repair counts as passing.
    """
    reasons = [r for r in table["drop_reason"].to_pylist() if r]
    n = table.num_rows
    funnel, alive = [], n
    for step in STEPS:
        dropped: dict[str, int] = {}
        for r in reasons:
            if step_of(r) == step:
                dropped[r] = dropped.get(r, 0) + 1
        total = sum(dropped.values())
        funnel.append({"step": step, "rows_in": alive, "kept": alive - total, "dropped": total,
                       "dropped_by_reason": dict(sorted(dropped.items(), key=lambda kv: -kv[1]))})
        alive -= total
    for s in filter_stats.stages.values():
        if s.name in ("read", CandidatesStage.name):
            continue
        d = s.to_dict()
        funnel.append({"step": s.name, "rows_in": d["rows_in"], "kept": d["kept"], "dropped": d["dropped"],
                       "dropped_by_reason": d["dropped_by_reason"]})
    return funnel


@dataclass
class CandidatesStage:
    """Internal to taosha generate: restores a candidates file's own columns (first stage of a round's filter run).

    It is registered as ``candidates`` so that a round's config is an ordinary ``PipelineConfig``.

    The reader treats a candidates file like any input, so the loop's own columns that
    collide with core ones arrive as ``input_drop_reason``/``input_origin``/``input_source``.
    This restores them (generation, parse and verification rejects stay rejected, rows stay
    ``origin = synthetic``) and removes the reader's bookkeeping columns."""

    name: ClassVar[str] = "candidates"

    def setup(self) -> None:
        pass

    def __call__(self, batch: pa.Table) -> pa.Table:
        for core in ("origin", "source"):
            if f"input_{core}" in batch.column_names:
                batch = set_column(batch, core, batch[f"input_{core}"])
        if "input_drop_reason" in batch.column_names:
            batch = drop_rows(batch, np.asarray(batch["input_drop_reason"].is_valid()), batch["input_drop_reason"].combine_chunks())
        keep = [c for c in batch.column_names if not c.startswith("input_") and c != "source_offset"]
        return batch.select(keep)
