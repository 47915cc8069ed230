"""Memory-manager settings for batch work: keep freed batch memory for the next batch, and
let Python's cyclic garbage collector run rarely.

A run allocates and frees the same large buffers batch after batch: Arrow arrays (mimalloc,
bundled with pyarrow), polars frames (jemalloc, bundled with polars) and numpy arrays and
kernel outputs (glibc malloc). All three allocators hand freed memory back to the kernel
within milliseconds by default, so the next batch's buffers are fresh pages that fault in
one 4 KB page at a time, zeroed by the kernel.

:func:`configure` keeps freed memory around for a while instead: mimalloc purges after
``MIMALLOC_PURGE_DELAY`` ms, jemalloc decays dirty pages after ``dirty_decay_ms``, and glibc
serves allocations under 32 MiB from its heap and trims the heap's top only past 256 MiB.
The whole cleaning run over the 50,000-document benchmark corpus (one process, alternating
runs): 289-292k page faults -> 131-132k, system time 1.5-1.8 -> 1.0-1.2 s, user+system
15.6-15.7 -> 14.5-15.1 CPU-s; peak RSS 638-643 -> 712-714 MB, the memory kept for reuse.
Kept memory also piles under the peak of a later phase: ``benchmarks/e2e_scale.py``'s 4x
corpus (200,000 documents) peaked at 853-857 MB against 713-717 for 50,000 (1.20x; 1.14x
without the settings), so the local runner hands it back (:func:`release_unused`) before
a global phase: 812 against 686 MB (1.18x).
Each is the allocator's own documented setting; a value already set in the environment is
left as it is, and ``TAOSHA_ALLOCATOR_TUNING=0`` turns the whole thing off.

Python's cyclic collector runs a young-generation pass every 700 net container allocations
by default. A run makes few reference cycles (its data lives in Arrow, polars and numpy
buffers), but the imports and per-batch Python objects trip that count hundreds of times:
441 collections, 0.20 CPU-s of the benchmark corpus's run (``gc.callbacks`` timing). With
:data:`GC_THRESHOLDS` (a young pass every 100,000 allocations): 3 collections, 0.07 CPU-s.
Memory held by a cycle is freed a little later; memory without cycles is freed at once as
before (reference counting).

The two environment variables are read when pyarrow and polars load their allocators, so
they only take effect when ``configure`` runs before those imports: ``pipeline/cli.py``
calls it before its own imports, so ``taosha`` commands get them, and so do the Ray workers
a local run starts (they inherit the environment). In a notebook, call it before importing
pyarrow or polars; ``mallopt`` takes effect whenever it is called.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import sys
from functools import lru_cache

ENV_DEFAULTS = {
    "MIMALLOC_PURGE_DELAY": "10000",  # ms before mimalloc returns freed pages (default 10)
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:30000,muzzy_decay_ms:30000",  # polars' jemalloc
}
"""Environment defaults for the allocators bundled with pyarrow (mimalloc) and polars (jemalloc)."""

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20

GC_THRESHOLDS = (100_000, 50, 100)
"""``gc.set_threshold`` for a run (Python's default: 700, 10, 10)."""

OFF_SWITCH = "TAOSHA_ALLOCATOR_TUNING"


def configure() -> dict[str, str]:
    """Apply the settings of the module docstring (idempotent); what was set, for logs and
    tests: each environment variable set here, ``mallopt`` when glibc took it, and ``gc``."""
    if _switched_off():
        return {}
    done: dict[str, str] = {}
    for name, value in ENV_DEFAULTS.items():
        if name not in os.environ:
            os.environ[name] = value
            done[name] = value
    if _glibc_mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and _glibc_mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD):
        done["mallopt"] = f"mmap_threshold={MMAP_THRESHOLD} trim_threshold={TRIM_THRESHOLD}"
    if tune_gc():
        done["gc"] = "thresholds=" + ",".join(map(str, GC_THRESHOLDS))
    return done


def tune_gc() -> bool:
    """Raise the collector's thresholds to :data:`GC_THRESHOLDS` (never lowering a young
    threshold already set higher); whether they are in force. Process-wide and not
    inherited: a Ray stage actor calls it itself."""
    if _switched_off():
        return False
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)
    return True


def freeze_for_exit() -> None:
    """Move every object alive now out of the cyclic collector's reach (``gc.freeze``), for a
    process about to exit: the interpreter's shutdown runs full collections over everything
    the imports made (numba's typing registries alone are large), which cost 0.33 CPU-s at
    the end of the benchmark corpus's run and 0.10 after a freeze (whole process, user +
    system, alternating runs). Exit handlers and finalizers run as before; only cyclic
    garbage made before the call is never collected, which an exiting process does not miss.
    Not for a process that goes on working (a notebook, a test run)."""
    if not _switched_off():
        gc.freeze()


def _switched_off() -> bool:
    return os.environ.get(OFF_SWITCH, "1").strip().lower() in ("0", "false", "no", "off")


def _glibc_mallopt(param: int, value: int) -> bool:
    """glibc's ``mallopt(param, value)``; False where this is not glibc or it refused."""
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)))


def release_unused() -> None:
    """Hand the memory kept for reuse back to the kernel now (Arrow's pool, glibc's heap):
    for a phase change, where the buffers of the last phase will not be asked for again (the
    local runner calls it before a global phase, whose own peak then does not sit on top of
    the memory the streaming phase kept)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(ctypes.c_size_t(0))


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """This process's C library where it is glibc (``mallopt`` and ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None
