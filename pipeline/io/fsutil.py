"""Filesystem helpers over pyarrow filesystems, so outputs work locally and on ``s3://``.

Every file taosha writes goes through :class:`AtomicOutput`: a temporary name first,
renamed when complete, so a crash never leaves a half file that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import pyarrow.fs as pafs

TMP_SUFFIX = ".tmp"


def filesystem_for(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it, for a local path or a URI."""
    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))


def uri_of(fs: pafs.FileSystem, path: str) -> str:
    """The URI of ``path`` inside ``fs``: a plain absolute path on the local disk, else
    ``scheme://path`` (``s3://bucket/key``), so it can be passed on and opened again with
    :func:`filesystem_for` by another process or a Ray worker."""
    if isinstance(fs, pafs.LocalFileSystem) or "://" in path:
        return path
    scheme = {"s3": "s3", "gcs": "gs", "hdfs": "hdfs"}.get(fs.type_name, fs.type_name)
    return f"{scheme}://{path.lstrip('/')}"


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


def makedirs(fs: pafs.FileSystem, path: str) -> None:
    """Make ``path`` a directory on a local filesystem. Object stores have no directories (a
    key's prefix is one as soon as a file is written under it), so nothing is created there:
    pyarrow would otherwise write an empty marker object per level."""
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path, recursive=True)


def exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def list_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """Files directly under ``directory`` (sorted); empty if it does not exist."""
    info = fs.get_file_info(directory)
    if info.type == pafs.FileType.NotFound:
        return []
    selector = pafs.FileSelector(directory, recursive=False)
    return sorted(i.path for i in fs.get_file_info(selector) if i.type == pafs.FileType.File)


def tmp_name(path: str) -> str:
    return f"{path}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"


class AtomicOutput:
    """An output stream for ``path`` whose bytes appear there only on :meth:`commit`.

    The one place of the temp-then-rename idiom. As a context manager it commits when the
    block ends normally and removes the temporary file when it raises; writers that keep a
    file open across calls (the shard writer) call ``commit``/``abort`` themselves."""

    def __init__(self, fs: pafs.FileSystem, path: str):
        self.fs, self.path, self.tmp = fs, path, tmp_name(path)
        self.stream = fs.open_output_stream(self.tmp)

    def commit(self) -> None:
        self.stream.close()
        self.fs.move(self.tmp, self.path)

    def abort(self) -> None:
        if not self.stream.closed:
            self.stream.close()
        if exists(self.fs, self.tmp):
            self.fs.delete_file(self.tmp)

    def __enter__(self):
        return self.stream

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_bytes_atomic(fs: pafs.FileSystem, path: str, data: bytes) -> None:
    with AtomicOutput(fs, path) as f:
        f.write(data)


def write_json_atomic(fs: pafs.FileSystem, path: str, obj: Any) -> None:
    write_bytes_atomic(fs, path, (json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n").encode())


def read_json(fs: pafs.FileSystem, path: str) -> Any:
    with fs.open_input_stream(path) as f:
        return json.loads(f.read().decode())


def sha256_of(fs: pafs.FileSystem, path: str, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def file_size(fs: pafs.FileSystem, path: str) -> int:
    return fs.get_file_info(path).size


def remove_matching(fs: pafs.FileSystem, directory: str, prefix: str) -> int:
    """Delete files in ``directory`` whose name starts with ``prefix`` (leftovers of a killed run)."""
    removed = 0
    for path in list_files(fs, directory):
        if path.rsplit("/", 1)[-1].startswith(prefix):
            fs.delete_file(path)
            removed += 1
    return removed


def remove_contents_except(fs: pafs.FileSystem, directory: str, keep: tuple[str, ...] = ()) -> None:
    """Empty ``directory`` (it may not exist), leaving the top-level entries named in ``keep``."""
    info = fs.get_file_info(directory)
    if info.type == pafs.FileType.NotFound:
        return
    for entry in fs.get_file_info(pafs.FileSelector(directory, recursive=False)):
        if entry.base_name in keep:
            continue
        if entry.type == pafs.FileType.Directory:
            fs.delete_dir(entry.path)
        else:
            fs.delete_file(entry.path)


def copy_file(fs: pafs.FileSystem, src: str, dst: str) -> None:
    """Make ``dst`` a copy of ``src``, replacing it: a hard link on a local disk when the
    filesystem allows it (no second copy of the bytes), else the filesystem's own copy
    (server-side on object stores, where an object appears whole or not at all)."""
    if isinstance(fs, pafs.LocalFileSystem):
        if os.path.lexists(dst):
            os.remove(dst)
        try:
            os.link(src, dst)
            return
        except OSError:  # another device, or a filesystem without hard links
            pass
    fs.copy_file(src, dst)
