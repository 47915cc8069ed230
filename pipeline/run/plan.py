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
import datetime as dt
from pathlib import PurePosixPath
from typing import Callable

import pyarrow.fs as pafs

from pipeline.io import fsutil
from pipeline.config import PipelineConfig
from pipeline.stage import is_global
from pipeline.stats import RunStats
from pipeline.run.input_set import check_no_overlap, describe_changes, fingerprint
from pipeline.run.output_lock import LOCK_FILE, LockedError, RunLock


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


OUTPUT_MARKER = "_taosha.json"


def _is_empty_dir(fs, path: str, ignore: tuple[str, ...] = ()) -> bool:
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        return True
    if info.type != pafs.FileType.Directory:
        return False
    return not [e for e in fs.get_file_info(pafs.FileSelector(path, recursive=False)) if e.base_name not in ignore]


def _remove_if_empty(fs, path: str) -> None:
    """Leave no empty dir behind when a run is refused before it wrote anything."""
    try:
        if fs.get_file_info(path).type == pafs.FileType.Directory and _is_empty_dir(fs, path):
            fs.delete_dir(path)
    except OSError:
        pass


def _is_taosha_output(fs, out_dir: str) -> bool:
    """A dir this tool wrote: it holds the output marker (or, from older versions, _work/run.json)."""
    return fsutil.exists(fs, fsutil.join(out_dir, OUTPUT_MARKER)) or \
        fsutil.exists(fs, fsutil.join(out_dir, "_work", "run.json"))


@dataclass
class WorkDir:
    """The run's work dir: markers, spills and global stages' own directories.

    Opening it claims the output dir: the dir must be new, empty, or a taosha output
    (``_taosha.json``); ``--overwrite`` empties only such a dir; the output may not overlap
    the inputs; one run at a time holds ``_taosha.lock``; a resumed run must see the same
    config and the same input files. ``_taosha.json`` says ``running`` until the run's
    stats and manifest are written, then ``complete`` (``failed`` after an error), so a
    reader can tell a finished output from the leftovers of a killed run.
    """

    fs: object
    root: str
    out_dir: str
    config_hash: str
    inputs: list[str] = field(default_factory=list)
    out_fs: object = None
    lock: RunLock | None = None

    @classmethod
    def open(cls, config: PipelineConfig, inputs: list[str], overwrite: bool = False,
             notice: Callable[[str], None] = lambda m: None) -> "WorkDir":
        fs, out_dir = fsutil.filesystem_for(config.output.dir)
        if config.run.work_dir:
            wfs, root = fsutil.filesystem_for(config.run.work_dir)
        else:
            wfs, root = fs, fsutil.join(out_dir, "_work")
        overlap = check_no_overlap(config.input.paths, inputs, config.output.dir, config.run.work_dir)
        if overlap:
            raise RunError(f"refusing to run: {overlap}; choose an output dir outside the inputs")
        try:
            lock = RunLock(fs, out_dir).acquire(notice)
        except LockedError as exc:
            raise RunError(str(exc)) from None
        try:
            if not _is_taosha_output(fs, out_dir) and not _is_empty_dir(fs, out_dir, ignore=(LOCK_FILE,)):
                raise RunError(
                    f"refusing to write into {config.output.dir}: it is not empty and is not a taosha output dir "
                    f"(no {OUTPUT_MARKER}); choose a new or empty --output dir"
                    + (" (--overwrite only empties taosha output dirs)" if overwrite else ""))
            if config.run.work_dir and not _is_empty_dir(wfs, root) and \
                    not fsutil.exists(wfs, fsutil.join(root, "run.json")):
                raise RunError(f"refusing to use run.work_dir {config.run.work_dir}: it is not empty and holds "
                               "no taosha run")
        except BaseException:
            lock.release()
            _remove_if_empty(fs, out_dir)
            raise
        try:
            if overwrite:
                for path in (out_dir, root):
                    fsutil.remove_contents_except(fs if path == out_dir else wfs, path, keep=(LOCK_FILE,))
            work = cls(wfs, root, out_dir, config.config_hash(), inputs, fs, lock)
            work._check_or_record_run(config, inputs)
            work.set_status("running")
        except BaseException:
            lock.release()
            raise
        return work

    def _check_or_record_run(self, config: PipelineConfig, inputs: list[str]) -> None:
        fsutil.makedirs(self.fs, self.root)
        run_file = fsutil.join(self.root, "run.json")
        current = fingerprint(inputs)
        if fsutil.exists(self.fs, run_file):
            previous = fsutil.read_json(self.fs, run_file)
            if previous.get("config_hash") != self.config_hash:
                raise RunError(
                    f"{config.output.dir} holds a run of a different config "
                    f"(config hash {previous.get('config_hash', '?')[:12]} != {self.config_hash[:12]}); "
                    "use a new --output dir or --overwrite"
                )
            before = previous.get("input_files")
            if before is None:  # written by an older version: compare the paths alone
                before = [{"path": p, "size": None, "mtime_ns": None} for p in previous.get("inputs", [])]
                current_cmp = [{"path": f["path"], "size": None, "mtime_ns": None} for f in current]
            else:
                current_cmp = current
            changed = describe_changes(before, current_cmp)
            if changed:
                raise RunError(
                    f"{config.output.dir} holds a run over other input files ({changed}); resuming would mix "
                    "decisions made on different inputs: use a new --output dir or --overwrite")
        else:
            fsutil.write_json_atomic(self.fs, run_file, {"config_hash": self.config_hash, "inputs": inputs,
                                                         "input_files": current})

    def set_status(self, status: str) -> None:
        """Write ``_taosha.json``: running, complete or failed."""
        fsutil.write_json_atomic(self.out_fs, fsutil.join(self.out_dir, OUTPUT_MARKER), {
            "taosha_output": 1, "status": status, "config_hash": self.config_hash,
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})

    def close(self, ok: bool) -> None:
        """Mark the output complete (or failed) and release the lock."""
        try:
            self.set_status("complete" if ok else "failed")
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    def marker(self, segment: int, part: str) -> str:
        return fsutil.join(self.root, "progress", f"seg{segment}", f"{part}.json")

    def uri(self, path: str) -> str:
        """A URI for ``path`` inside the work dir's filesystem (what markers and global stages get)."""
        return fsutil.uri_of(self.fs, path)

    @property
    def out_uri(self) -> str:
        return fsutil.uri_of(self.out_fs, self.out_dir)

    def spill_dir(self, segment: int) -> str:
        return fsutil.join(self.root, "spill", f"seg{segment}")

    def global_dir(self, segment: int, name: str) -> str:
        """The URI of a global stage's own directory (created)."""
        path = fsutil.join(self.root, "global", f"seg{segment}-{name}")
        fsutil.makedirs(self.fs, path)
        return self.uri(path)

    def done(self, segment: int, part: str) -> dict | None:
        path = self.marker(segment, part)
        return fsutil.read_json(self.fs, path) if fsutil.exists(self.fs, path) else None

    def mark_done(self, segment: int, part: str, stats: RunStats, files: list, spill: str | None) -> dict:
        """Record a finished part (its stats, its FileEntry files, its spill) and return the marker."""
        marker = {"stats": stats.to_dict(), "files": [f.to_dict() for f in files], "spill": spill}
        fsutil.makedirs(self.fs, fsutil.join(self.root, "progress", f"seg{segment}"))
        fsutil.write_json_atomic(self.fs, self.marker(segment, part), marker)
        return marker
