"""Where dedup keeps its files: a directory on a pyarrow filesystem (local disk or ``s3://``).

Every phase goes through a :class:`Store` (the filesystem and an inner path), never
``pathlib.Path``, so the work dir, the marks and the index live wherever the run's
output lives.

Two completion rules, the same on every filesystem:

* a file is written under a temporary name and moved into place (``fsutil.AtomicOutput``),
  so a file that exists is complete;
* a directory (``marks/``, a Ray phase's output, ``index/dedup/``) is done when its
  ``_SUCCESS`` marker exists, written after every other file. Object stores cannot
  rename a directory atomically, so a directory without its marker is a leftover of a
  killed run: :meth:`Store.begin_dir` clears it before it is written again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline.io import fsutil

DONE = "_SUCCESS"
HASH_PARQUET = {"use_dictionary": False, "compression": "none"}
"""Parquet options for tables of hash values (MinHash signatures, band keys, digests, ids),
which neither a dictionary nor a codec shrinks (see :meth:`Store.write_table`)."""


@dataclass(frozen=True)
class Store:
    """A directory ``root`` (an inner path) on ``fs``; picklable, so Ray tasks take one."""

    fs: pafs.FileSystem
    root: str

    @classmethod
    def at(cls, uri: str | os.PathLike) -> Store:
        """The store of a URI (``s3://bucket/key``) or a local path (``str`` or ``Path``)."""
        fs, root = fsutil.filesystem_for(os.fspath(uri))
        return cls(fs, root.rstrip("/") or root)

    @property
    def uri(self) -> str:
        """The root as a URI another process can open again (:meth:`at`)."""
        return fsutil.uri_of(self.fs, self.root)

    def path(self, *parts: str) -> str:
        """The inner path of ``parts`` under the root."""
        return fsutil.join(self.root, *parts) if parts else self.root

    def sub(self, *parts: str) -> Store:
        return Store(self.fs, self.path(*parts))

    def exists(self, *parts: str) -> bool:
        return fsutil.exists(self.fs, self.path(*parts))

    def files(self, *parts: str, suffix: str = ".parquet") -> list[str]:
        """Inner paths of the files ending in ``suffix`` directly under ``parts`` (sorted)."""
        return [p for p in fsutil.list_files(self.fs, self.path(*parts)) if p.endswith(suffix)]

    def subdirs(self, *parts: str) -> list[str]:
        """Names of the directories directly under ``parts`` (sorted; none if it is missing)."""
        where = self.path(*parts)
        if not self.exists(*parts):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(where, recursive=False))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)

    def _parent_for(self, path: str) -> None:
        fsutil.makedirs(self.fs, path.rsplit("/", 1)[0])  # nothing to make on an object store

    def write_table(self, table: pa.Table | pl.DataFrame, *parts: str, hashes: bool = False) -> str:
        """Write Parquet under a temp name, then move it to ``parts``; returns the inner path.

        ``hashes``: the table is mostly hash values (MinHash signatures, band keys, digests,
        ids), which neither a dictionary nor a codec shrinks: written plain and uncompressed.
        Parquet's default tries a dictionary on every column and drops it once it outgrows
        its page, which made signature and index files ~4x as costly to write (0.25 -> 0.05
        CPU-s per 50,000 documents each) and 10-15% bigger."""
        path = self.path(*parts)
        self._parent_for(path)
        with fsutil.AtomicOutput(self.fs, path) as f:
            if isinstance(table, pl.DataFrame) and not hashes:
                table.write_parquet(f)
            else:
                table = table.to_arrow() if isinstance(table, pl.DataFrame) else table
                pq.write_table(table, f, **(HASH_PARQUET if hashes else {}))
        return path

    def read_table(self, path: str, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file (an inner path of this store's filesystem)."""
        return pq.read_table(path, columns=columns, filesystem=self.fs, partitioning=None)

    def read_frame(self, *parts: str) -> pl.DataFrame:
        return pl.from_arrow(self.read_table(self.path(*parts)))

    def read_schema(self, path: str) -> pa.Schema:
        return pq.read_schema(path, filesystem=self.fs)

    def num_rows(self, path: str) -> int:
        with self.fs.open_input_file(path) as f:
            return pq.read_metadata(f).num_rows

    def write_json(self, obj: Any, *parts: str) -> None:
        path = self.path(*parts)
        self._parent_for(path)
        fsutil.write_json_atomic(self.fs, path, obj)

    def read_json(self, *parts: str) -> Any:
        return fsutil.read_json(self.fs, self.path(*parts))

    def clear(self, *parts: str) -> None:
        """Remove everything under ``parts`` (the directory may not exist)."""
        fsutil.remove_contents_except(self.fs, self.path(*parts))

    def is_done(self, *parts: str) -> bool:
        """A directory is complete when its marker exists."""
        return self.exists(*parts, DONE)

    def begin_dir(self, *parts: str) -> str:
        """Clear a directory's leftovers (files of a run killed before its marker) and
        make it; returns its inner path, to be written and then :meth:`mark_done`."""
        self.clear(*parts)
        path = self.path(*parts)
        fsutil.makedirs(self.fs, path)
        return path

    def mark_done(self, *parts: str) -> None:
        """Write the directory's marker: after this, the directory counts as complete."""
        path = self.path(*parts, DONE)
        self._parent_for(path)
        fsutil.write_bytes_atomic(self.fs, path, b"")
