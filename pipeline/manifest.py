"""``manifest.json`` and ``stats.json``: what a run wrote and what happened to every record.

The manifest lists every output file with its rows, bytes and sha256, the schema
version, the config hash (of everything but the output dir) and the package version,
so a trainer can verify its inputs and a reader can tell which run made them.
"""

from __future__ import annotations

import datetime as dt

import pyarrow.fs as pafs

from pipeline import __version__
from pipeline.io import fsutil
from pipeline.config import PipelineConfig
from pipeline.schema import SCHEMA_VERSION
from pipeline.stats import RunStats
from pipeline.io.writers import FileEntry

MANIFEST_FILE, STATS_FILE = "manifest.json", "stats.json"


def write_manifest(fs: pafs.FileSystem, out_dir: str, files: list[FileEntry], config: PipelineConfig,
                   extra: dict | None = None) -> dict:
    manifest = {
        "taosha_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "config_hash": config.config_hash(),
        "config_file": config.source_file,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "totals": {
            kind: {
                "files": sum(1 for f in files if f.kind == kind),
                "rows": sum(f.rows for f in files if f.kind == kind),
                "bytes": sum(f.bytes for f in files if f.kind == kind),
            }
            for kind in ("data", "rejects", "errors")
        },
        "files": [f.to_dict() for f in sorted(files, key=lambda f: f.path)],
        **(extra or {}),
    }
    fsutil.write_json_atomic(fs, fsutil.join(out_dir, MANIFEST_FILE), manifest)
    return manifest


def write_stats(fs: pafs.FileSystem, out_dir: str, stats: RunStats, config: PipelineConfig, *, engine: str,
                extra: dict | None = None) -> dict:
    stats.check()
    payload = {**stats.to_dict(), "engine": engine, "config_hash": config.config_hash(), **(extra or {})}
    fsutil.write_json_atomic(fs, fsutil.join(out_dir, STATS_FILE), payload)
    return payload
