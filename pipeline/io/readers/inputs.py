"""Input discovery: files, directories and globs, local or on pyarrow filesystems.

An input path is a file, a directory (walked recursively) or a glob (``*``, ``?``,
``[...]``; ``**`` crosses directories), given as a local path or a URI that
``pyarrow.fs.FileSystem.from_uri`` understands (``s3://``, ``gs://``, ``file://``).
Inside directories and globs, hidden entries (names starting with ``.`` or ``_``, the
convention pyarrow datasets and Hadoop share: ``.git``, ``_SUCCESS``) and files whose
format is unknown (READMEs, checksums, WAT metadata files) are skipped; a file named
explicitly is always kept, so ``input.format`` can force the format of any name.

Entries found inside directories and globs that cannot be input files are skipped with
a warning, never an error that aborts the run (and every rerun of it): a dangling
symlink or a symlink loop named ``*.jsonl`` (``skipped`` collects them with the reason).
Symlinked directories are not followed when walking a directory or a ``**`` glob, so a
link back up the tree neither loops nor reads the same files again under other names; a
symlinked file is read. A path named explicitly that does not exist is still an error.

Paths are returned as the user wrote them (normalized), never made absolute: the
``source`` column and the stable ids derive from them, so the same relative layout
gives the same ids on every machine.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import re
from typing import BinaryIO

import pyarrow.fs as pafs

FORMATS = ("jsonl", "parquet", "warc", "wet")

# Order matters: WET names also end in .warc.*; WAT (.warc.wat.gz) is metadata, not text.
_FORMAT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("wet", re.compile(r"\.wet(\.gz)?$")),
    ("warc", re.compile(r"\.warc(\.gz)?$")),
    ("jsonl", re.compile(r"\.(jsonl|json|ndjson)(\.gz|\.zst|\.zstd)?$")),
    ("parquet", re.compile(r"\.parquet$")),
)
_GLOB_CHARS = re.compile(r"[*?\[]")

log = logging.getLogger(__name__)


def detect_format(path: str) -> str:
    """``jsonl`` | ``parquet`` | ``warc`` | ``wet`` from the file name; ValueError if unknown."""
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    for fmt, pattern in _FORMAT_PATTERNS:
        if pattern.search(name):
            return fmt
    raise ValueError(
        f"unknown input format for {path!r}: expected .jsonl/.json/.ndjson[.gz|.zst], .parquet, "
        ".warc[.gz] or .warc.wet.gz (or set input.format)"
    )


def _known(path: str) -> bool:
    try:
        detect_format(path)
        return True
    except ValueError:
        return False


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.replace("\\", "/").split("/") if part)


def is_uri(path: str) -> bool:
    return "://" in path


def _split_uri(uri: str) -> tuple[str, str]:
    scheme, _, rest = uri.partition("://")
    return scheme, rest


def resolve_inputs(paths: list[str], skipped: list[tuple[str, str]] | None = None) -> list[str]:
    """Expand files, directories and globs into a sorted, de-duplicated list of input files.

    Raises FileNotFoundError naming the first path that matches nothing. Entries of a
    directory or glob that do not resolve to a file (dangling symlinks, symlink loops)
    are left out, logged, and appended to ``skipped`` as (path, reason) when given.
    """
    found: set[str] = set()
    bad: list[tuple[str, str]] = []
    for path in paths:
        before = len(bad)
        matches = _resolve_uri(path) if is_uri(path) else _resolve_local(path, bad)
        if not matches:
            why = "".join(f"; skipped {entry}: {reason}" for entry, reason in bad[before:][:3])
            raise FileNotFoundError(f"input path matches no readable file: {path}{why}")
        found.update(matches)
    for entry, reason in sorted(set(bad)):
        log.warning("input %s skipped: %s", entry, reason)
    if skipped is not None:
        skipped.extend(sorted(set(bad)))
    return sorted(found)


def _unresolvable(path: str) -> str | None:
    """Why ``path`` (a directory entry) cannot be read as a file, or None when it can."""
    try:
        os.stat(path)
    except OSError as exc:
        return f"{exc.strerror or exc} (broken symlink)" if os.path.islink(path) else str(exc)
    return None


def _crosses_symlinked_dir(match: str, prefix_dir: str) -> bool:
    """Whether a directory between ``prefix_dir`` and ``match`` is a symlink."""
    parent = os.path.dirname(match)
    while len(parent) > len(prefix_dir) and parent.startswith(prefix_dir):
        if os.path.islink(parent):
            return True
        parent = os.path.dirname(parent)
    return False


def _resolve_local(path: str, bad: list[tuple[str, str]]) -> list[str]:
    path = os.path.normpath(os.path.expanduser(path))
    if _GLOB_CHARS.search(path):
        out = []
        prefix = _GLOB_CHARS.split(path, 1)[0]
        prefix_dir = os.path.dirname(prefix)
        recursive = "**" in path
        for match in glob.glob(path, recursive=True):
            if recursive and _crosses_symlinked_dir(match, prefix_dir):
                continue
            if os.path.isfile(match):
                if _known(match) and not _hidden(match[len(prefix_dir):]):
                    out.append(os.path.normpath(match))
            elif os.path.isdir(match):
                out.extend(_walk_local(match, bad))
            elif os.path.islink(match) and _known(match) and not _hidden(match[len(prefix_dir):]):
                bad.append((os.path.normpath(match), _unresolvable(match) or "not a file"))
        return out
    if os.path.isdir(path):
        return _walk_local(path, bad)
    if os.path.isfile(path):
        return [path]
    return []


def _walk_local(directory: str, bad: list[tuple[str, str]]) -> list[str]:
    out = []
    for root, dirs, files in os.walk(directory):  # followlinks=False: symlinked dirs are not entered
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in files:
            if name.startswith((".", "_")) or not _known(name):
                continue
            entry = os.path.join(root, name)
            reason = _unresolvable(entry) if os.path.islink(entry) else None
            if reason is None and os.path.islink(entry) and not os.path.isfile(entry):
                reason = "symlink to something that is not a file"
            if reason is not None:
                bad.append((entry, reason))
            else:
                out.append(entry)
    return out


def _resolve_uri(uri: str) -> list[str]:
    scheme, rest = _split_uri(uri)
    if _GLOB_CHARS.search(rest):
        base = _GLOB_CHARS.split(rest, 1)[0].rsplit("/", 1)[0]
        fs, base_path = pafs.FileSystem.from_uri(f"{scheme}://{base}")
        # fs paths drop the scheme (and, for file://, keep the leading /): match on them.
        pattern = base_path + rest[len(base):]
        infos = fs.get_file_info(pafs.FileSelector(base_path, recursive=True, allow_not_found=True))
        return [
            _as_uri(scheme, rest, base_path, i.path)
            for i in infos
            if i.type == pafs.FileType.File
            and fnmatch.fnmatchcase(i.path, pattern)
            and _known(i.path)
            and not _hidden(i.path[len(base_path):])
        ]
    fs, fs_path = pafs.FileSystem.from_uri(uri)
    info = fs.get_file_info(fs_path)
    if info.type == pafs.FileType.File:
        return [uri]
    if info.type == pafs.FileType.Directory:
        infos = fs.get_file_info(pafs.FileSelector(fs_path, recursive=True))
        return [
            _as_uri(scheme, rest, fs_path, i.path)
            for i in infos
            if i.type == pafs.FileType.File and _known(i.path) and not _hidden(i.path[len(fs_path):])
        ]
    return []


def _as_uri(scheme: str, rest: str, base_path: str, found: str) -> str:
    """Rebuild a URI for a file found under ``base_path``, keeping the user's spelling of the base."""
    suffix = found[len(base_path):].lstrip("/")
    user_base = rest if not _GLOB_CHARS.search(rest) else _GLOB_CHARS.split(rest, 1)[0].rsplit("/", 1)[0]
    return f"{scheme}://{user_base.rstrip('/')}/{suffix}"


def open_input(path: str) -> BinaryIO:
    """A seekable binary file for a local path or a URI (pyarrow filesystems)."""
    if not is_uri(path):
        return open(os.path.expanduser(path), "rb")
    fs, fs_path = pafs.FileSystem.from_uri(path)
    return fs.open_input_file(fs_path)  # random access, no implicit decompression
