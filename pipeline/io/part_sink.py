"""Where one part's rows go in one segment, the same for both engines.

The last segment writes training shards and rejects; an earlier one writes a spill for
the global stage after it; segment 0 also writes the part's unreadable records to
``errors/``. Opening a sink removes what a killed attempt at the same part left; on an
exception every open shard is dropped, so only complete, renamed files remain.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.io import fsutil
from pipeline.config import OutputConfig
from pipeline.run.plan import WorkDir
from pipeline.stats import RunStats
from pipeline.io.writers import ERRORS_DIR, FileEntry, OutputWriter, ShardWriter, SpillWriter


class PartSink:
    def __init__(self, work: WorkDir, output: OutputConfig, output_dir: str, segment: int, last: bool, part: str):
        self.work, self.last = work, last
        self.out = OutputWriter(output_dir, output, part) if last else None
        self.errors = ShardWriter(work.fs, work.out_dir, ERRORS_DIR, part, output) if segment == 0 else None
        self.spill = None
        if not last:
            self.spill = SpillWriter(work.fs, work.root, f"spill/seg{segment}", part, output)
            fsutil.remove_matching(work.fs, work.spill_dir(segment), f"{part}-")
            fsutil.remove_matching(work.fs, fsutil.join(work.spill_dir(segment), "_pieces"), f"{part}-")
        if self.out is not None:  # errors/ belong to segment 0, cleared just below
            self.out.clear_previous()
        if self.errors is not None:
            fsutil.remove_matching(work.fs, fsutil.join(work.out_dir, ERRORS_DIR), f"{part}-")

    def write(self, batch: pa.Table, stats: RunStats) -> None:
        if self.last:
            self.out.write(batch)
            stats.count_output(batch)
        else:
            self.spill.write(batch)

    def write_errors(self, errors: pa.Table) -> None:
        self.errors.write(errors)

    def close(self) -> tuple[list[FileEntry], str | None]:
        """The finished output files and the spill's path (None in the last segment)."""
        files = self.out.close() if self.out else []
        if self.errors is not None:
            files += self.errors.close()
        spill = self.spill.close() if self.spill else None
        return files, (self.work.uri(fsutil.join(self.work.root, spill)) if spill else None)

    def __enter__(self) -> "PartSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            for writer in (self.out, self.errors, self.spill):
                if writer is not None:
                    writer.abort()
