"""What both runners share: segments of stages, part names, the work dir and its markers.

A pipeline is cut at every global stage into *segments*. Segment 0 reads the input
files; each later segment starts with a global stage and reads the Parquet
intermediates ("spills") of the segment before it. Every (segment, part) that
finishes leaves a small JSON marker with its stats and the files it wrote; a rerun
skips marked parts, so a killed job resumes and ends with the same output.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pipeline.io import fsutil
from pipeline.config import PipelineConfig
from pipeline.stage import is_global
from pipeline.stats import RunStats


class RunError(RuntimeError):
    """A run cannot start or continue (e.g. the output dir holds a different run)."""


@dataclass
class Segment:
    index: int
    stages: list[object]
    names: list[str]

    @property
    def global_stage(self) -> object | None:
        return self.stages[0] if self.stages and is_global(self.stages[0]) else None


def split_segments(stages: list[object], names: list[str]) -> list[Segment]:
    segments = [Segment(0, [], [])]
    for stage, name in zip(stages, names):
        if is_global(stage):
            segments.append(Segment(len(segments), [], []))
        segments[-1].stages.append(stage)
        segments[-1].names.append(name)
    return segments


def unique_stage_names(config: PipelineConfig) -> list[str]:
    """Stage names for stats; a stage listed twice is ``name#2`` the second time."""
    seen: dict[str, int] = {}
    out = []
    for spec in config.stages:
        seen[spec.name] = seen.get(spec.name, 0) + 1
        out.append(spec.name if seen[spec.name] == 1 else f"{spec.name}#{seen[spec.name]}")
    return out


def part_name(source: str) -> str:
    """A readable, unique, stable output name for one input file."""
    stem = PurePosixPath(source.replace("\\", "/")).name
    stem = re.sub(r"(\.(jsonl|json|ndjson|parquet|warc|wet|gz|zst|zstd))+$", "", stem)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:48] or "part"
    digest = hashlib.blake2b(source.encode(), digest_size=4).hexdigest()
    return f"{stem}-{digest}"


@dataclass
class WorkDir:
    """The run's work dir: markers, spills and global stages' own directories."""

    fs: object
    root: str
    out_dir: str
    config_hash: str
    inputs: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, config: PipelineConfig, inputs: list[str], overwrite: bool = False) -> "WorkDir":
        fs, out_dir = fsutil.filesystem_for(config.output.dir)
        if config.run.work_dir:
            wfs, root = fsutil.filesystem_for(config.run.work_dir)
        else:
            wfs, root = fs, fsutil.join(out_dir, "_work")
        if overwrite:
            for path in (out_dir,):
                if fsutil.exists(fs, path):
                    fs.delete_dir_contents(path)
            if fsutil.exists(wfs, root):
                wfs.delete_dir_contents(root)
        work = cls(wfs, root, out_dir, config.config_hash(), inputs)
        fsutil.makedirs(wfs, root)
        run_file = fsutil.join(root, "run.json")
        if fsutil.exists(wfs, run_file):
            previous = fsutil.read_json(wfs, run_file)
            if previous.get("config_hash") != work.config_hash:
                raise RunError(
                    f"{config.output.dir} holds a run of a different config "
                    f"(config hash {previous.get('config_hash', '?')[:12]} != {work.config_hash[:12]}); "
                    "use a new --output dir or --overwrite"
                )
        else:
            fsutil.write_json_atomic(wfs, run_file, {"config_hash": work.config_hash, "inputs": inputs})
        return work

    def marker(self, segment: int, part: str) -> str:
        return fsutil.join(self.root, "progress", f"seg{segment}", f"{part}.json")

    def spill_dir(self, segment: int) -> str:
        return fsutil.join(self.root, "spill", f"seg{segment}")

    def global_dir(self, segment: int, name: str) -> str:
        path = fsutil.join(self.root, "global", f"seg{segment}-{name}")
        fsutil.makedirs(self.fs, path)
        return path

    def done(self, segment: int, part: str) -> dict | None:
        path = self.marker(segment, part)
        return fsutil.read_json(self.fs, path) if fsutil.exists(self.fs, path) else None

    def mark_done(self, segment: int, part: str, stats: RunStats, files: list, spill: str | None) -> dict:
        """Record a finished part (its stats, its FileEntry files, its spill) and return the marker."""
        marker = {"stats": stats.to_dict(), "files": [f.to_dict() for f in files], "spill": spill}
        fsutil.makedirs(self.fs, fsutil.join(self.root, "progress", f"seg{segment}"))
        fsutil.write_json_atomic(self.fs, self.marker(segment, part), marker)
        return marker
