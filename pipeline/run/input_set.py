"""What a resumed run must find unchanged: the set of input files, their sizes and mtimes.

A rerun into the same output dir skips parts finished earlier. That is only right if the
inputs are the ones the first run saw: a file added between runs would change dedup's
decisions against what a fresh run decides, and an output dir inside an input dir would
be read back as input. So the resolved input set is recorded in ``run.json`` and compared
on resume; a difference is refused with what changed. Contents are not hashed (that
would read a whole crawl again); size and modification time catch rewrites in practice.

Where outputs and inputs overlap, nothing is written at all (:func:`check_no_overlap`).
"""

from __future__ import annotations

import os

import pyarrow.fs as pafs

from pipeline.io import fsutil


def fingerprint(inputs: list[str]) -> list[dict]:
    """Path, size and mtime (ns) of each input file, in the run's order."""
    out = []
    for path in inputs:
        fs, inner = fsutil.filesystem_for(path)
        info = fs.get_file_info(inner)
        mtime = info.mtime_ns if info.type != pafs.FileType.NotFound else None
        out.append({"path": path, "size": info.size, "mtime_ns": mtime})
    return out


def describe_changes(before: list[dict], after: list[dict], limit: int = 5) -> str | None:
    """A short description of what differs between two fingerprints, or None if nothing does."""
    old = {f["path"]: f for f in before}
    new = {f["path"]: f for f in after}
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(p for p in set(old) & set(new)
                     if (old[p].get("size"), old[p].get("mtime_ns")) != (new[p].get("size"), new[p].get("mtime_ns")))
    parts = []
    for label, paths in (("added", added), ("removed", removed), ("changed (size or mtime)", changed)):
        if paths:
            more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
            parts.append(f"{len(paths)} {label}: {', '.join(paths[:limit])}{more}")
    return "; ".join(parts) or None


def _local_abs(path: str) -> str | None:
    return None if "://" in path else os.path.realpath(os.path.expanduser(path))


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def check_no_overlap(input_paths: list[str], inputs: list[str], out_dir: str, work_root: str | None = None) -> str | None:
    """Why the output (or work) dir may not be used with these inputs, or None.

    Refused: an output dir inside an input directory (its shards would be read back as
    input on the next run), and an input file inside the output dir (``--overwrite``
    would delete it).
    """
    outs = [d for d in (out_dir, work_root) if d]
    for out in outs:
        out_abs = _local_abs(out) or out.rstrip("/")
        for given in input_paths:
            base = given
            if any(c in given for c in "*?["):
                prefix = given.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
                base = prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0]
            base_abs = _local_abs(base) or base.rstrip("/")
            if "://" not in given and os.path.isfile(base_abs):
                continue
            if base_abs and _inside(out_abs, base_abs):
                return f"the output dir {out} is inside the input path {given}: its outputs would be read back as input"
        for path in inputs:
            path_abs = _local_abs(path) or path
            if _inside(path_abs, out_abs):
                return f"the input file {path} is inside the output dir {out}"
    return None
