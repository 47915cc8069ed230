"""An on-disk cache for arrays a stage derives from a file it reads at set-up.

Some set-up work rebuilds the same arrays from the same file in every process: jieba's
dictionary (``dict.txt``, 5 MB) becomes a trie of ~500k nodes in 0.15 CPU-s, paid by every
run and every Ray worker. Like numba's ``cache=True`` for the kernels, the arrays are kept
on disk after the first build and read back (~0.01 s) while the source file and the code
that builds them are unchanged: the cache key covers the source's resolved path, size and
modification time and the builder module's own bytes, so an edited dictionary or builder
never reads stale arrays.

Where: ``$TAOSHA_CACHE_DIR``, else ``$XDG_CACHE_HOME/taosha``, else ``~/.cache/taosha``;
``TAOSHA_CACHE_DIR=off`` builds every time. A cache that cannot be written or read (a
read-only home, a truncated file) is not an error: the arrays are built as without it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

ENV = "TAOSHA_CACHE_DIR"


def cache_dir() -> Path | None:
    """The cache directory (not created here), or None when switched off."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen.lower() in ("off", "0", "false", "no"):
        return None
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "taosha"


def polars_binary() -> Path:
    """The compiled polars library this process loaded (its path, size and modification time
    stand for the Unicode tables and case mappings polars' regexes and string functions use):
    the source of tables read from polars itself."""
    import sys

    import polars

    for name, module in list(sys.modules.items()):
        if name.endswith("._polars_runtime") and getattr(module, "__file__", None):
            return Path(module.__file__)
    return Path(polars.__file__)


def cached_table(name: str, source: Path, builder_file: str | Path, build: Callable[[], np.ndarray]) -> np.ndarray:
    """One array, as :func:`cached_arrays` keeps them: a per-code-point table a module derives
    from a library's Unicode data (``source``: that library's file) in every process."""
    return cached_arrays(name, source, builder_file, lambda: {"table": build()})["table"]


def cache_key(source: Path, builder_file: str | Path) -> str:
    """Hex key of ``source`` (resolved path, size, modification time) and of the bytes of
    ``builder_file`` (the module that builds the arrays)."""
    st = source.stat()
    h = hashlib.sha256()
    h.update(f"{source.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    h.update(Path(builder_file).read_bytes())
    return h.hexdigest()[:32]


def cached_arrays(name: str, source: Path, builder_file: str | Path,
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``build()``'s arrays for ``source``, from the cache when it holds them for this
    source and builder, else built and stored (atomically: a reader sees a whole file or
    none), replacing the file an earlier source or builder left under ``name``."""
    directory = cache_dir()
    if directory is None:
        return build()
    path = directory / f"{name}-{cache_key(source, builder_file)}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {k: stored[k] for k in stored.files}
    except OSError:  # none yet (or no directory to hold one)
        pass
    except Exception as err:  # a truncated or foreign file: rebuild over it
        log.warning("ignoring unreadable cache file %s (%s)", path, err)
    arrays = build()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in directory.glob(f"{name}-*.npz"):  # earlier versions: one file per name stays
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:
        log.debug("not caching %s: %s", path, err)
    return arrays
