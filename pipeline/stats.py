"""The per-stage funnel and the run's accounting.

Every input record ends up kept, rejected (with a reason) or errored, so
``records_in = kept + rejected + errored`` holds for every run; ``check()`` proves it
before stats.json is written. Stats are plain dicts of integers that merge by
addition, so per-file, per-worker and per-round stats combine the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class StageStats:
    """One stage's funnel: active rows in, kept, dropped by reason, seconds."""

    name: str
    rows_in: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: "StageStats") -> None:
        self.rows_in += other.rows_in
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.seconds += other.seconds

    def to_dict(self) -> dict:
        return {
            "stage": self.name,
            "rows_in": self.rows_in,
            "kept": self.kept,
            "dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(sorted(self.dropped.items(), key=lambda kv: (-kv[1], kv[0]))),
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "StageStats":
        return cls(d["stage"], d["rows_in"], d["kept"], Counter(d["dropped_by_reason"]), d["seconds"])


def newly_dropped(before: pa.Array | pa.ChunkedArray, after: pa.Array | pa.ChunkedArray) -> Counter:
    """Reasons set by one stage: rows null in ``before`` and not null in ``after``."""
    mask = pc.and_(pc.is_null(before), pc.is_valid(after))
    reasons = pc.filter(after, mask)
    if len(reasons) == 0:
        return Counter()
    counts = pc.value_counts(reasons)
    return Counter({v["values"].as_py(): v["counts"].as_py() for v in counts})


def timed_stage(stats: StageStats, stage, batch: pa.Table) -> pa.Table:
    """Run ``stage`` on ``batch`` and record its funnel into ``stats``."""
    before = batch["drop_reason"]
    active_in = before.null_count
    start = time.perf_counter()
    out = stage(batch)
    stats.seconds += time.perf_counter() - start
    if out.num_rows != batch.num_rows:
        raise RuntimeError(f"stage {stats.name!r} changed the row count ({batch.num_rows} -> {out.num_rows})")
    if not out["id"].equals(batch["id"]):  # compared in Arrow, no Python objects
        raise RuntimeError(f"stage {stats.name!r} reordered or changed ids")
    after = out["drop_reason"]
    stats.rows_in += active_in
    stats.kept += after.null_count
    stats.dropped.update(newly_dropped(before, after))
    return out


@dataclass
class RunStats:
    """The whole run: top-level integers and the per-stage list (read stage first)."""

    records_in: int = 0
    kept: int = 0
    rejected: int = 0
    errored: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    stages: dict[str, StageStats] = field(default_factory=dict)
    seconds: float = 0.0
    files: int = 0

    def stage(self, name: str) -> StageStats:
        if name not in self.stages:
            self.stages[name] = StageStats(name)
        return self.stages[name]

    def count_output(self, batch: pa.Table) -> None:
        """Count a batch as it leaves the last stage."""
        reasons = batch["drop_reason"]
        dropped = len(reasons) - reasons.null_count
        self.kept += reasons.null_count
        self.rejected += dropped
        if dropped:
            counts = pc.value_counts(pc.drop_null(reasons))
            self.rejected_by_reason.update({v["values"].as_py(): v["counts"].as_py() for v in counts})

    def merge(self, other: "RunStats") -> None:
        self.records_in += other.records_in
        self.kept += other.kept
        self.rejected += other.rejected
        self.errored += other.errored
        self.rejected_by_reason.update(other.rejected_by_reason)
        for name, s in other.stages.items():
            self.stage(name).merge(s)
        self.seconds += other.seconds
        self.files += other.files

    def check(self) -> None:
        if self.records_in != self.kept + self.rejected + self.errored:
            raise AssertionError(
                f"accounting broken: records_in={self.records_in} != kept={self.kept} + "
                f"rejected={self.rejected} + errored={self.errored}"
            )

    def to_dict(self) -> dict:
        return {
            "records_in": self.records_in,
            "kept": self.kept,
            "rejected": self.rejected,
            "errored": self.errored,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "stages": [s.to_dict() for s in self.stages.values()],
            "seconds": round(self.seconds, 3),
            "files": self.files,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RunStats":
        stats = cls(d["records_in"], d["kept"], d["rejected"], d["errored"], Counter(d.get("rejected_by_reason", {})))
        for s in d.get("stages", []):
            stats.stages[s["stage"]] = StageStats.from_dict(s)
        stats.seconds = d.get("seconds", 0.0)
        stats.files = d.get("files", 0)
        return stats
