"""One run at a time per output dir: a lock file with the owner's pid, host and start time.

Two runs writing one output dir would replace each other's shards and markers and
could finish "successfully" with a half index. The lock is ``OUT/_taosha.lock``:

* created exclusively on a local filesystem (``O_CREAT | O_EXCL``); on an object store,
  written and read back (no atomic create there: two drivers racing within the same
  second can both believe they hold it; the read-back catches the slower one);
* a lock left by a dead process on this host (its pid is gone) is taken over, with a
  message; a lock held by a live process, or by another host, is refused with a message
  naming the owner and the file to delete if that run is known to be dead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import pyarrow.fs as pafs

from pipeline.io import fsutil

LOCK_FILE = "_taosha.lock"


class LockedError(RuntimeError):
    """Another live run holds the output dir."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunLock:
    fs: pafs.FileSystem
    out_dir: str
    token: str = ""

    @property
    def path(self) -> str:
        return fsutil.join(self.out_dir, LOCK_FILE)

    def acquire(self, notice: Callable[[str], None] = lambda m: None) -> "RunLock":
        fsutil.makedirs(self.fs, self.out_dir)
        self.token = uuid.uuid4().hex
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "token": self.token,
                 "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        for _ in range(2):
            if self._create(owner):
                return self
            held = self._read_settled()
            if held is None:
                continue  # released between our attempt and the read: try once more
            if held.get("host") == owner["host"] and not _pid_alive(int(held.get("pid", -1))):
                notice(f"taking over a stale lock of a dead run (pid {held.get('pid')}, started "
                       f"{held.get('started')}): {self.path}")
                self._remove()
                continue
            raise LockedError(
                f"{self.out_dir} is in use by another run (pid {held.get('pid')} on {held.get('host')}, "
                f"started {held.get('started')}); wait for it, use another --output dir, or delete "
                f"{self.path} if that run is known to be dead")
        raise LockedError(f"could not take the lock {self.path}")

    def release(self) -> None:
        held = self._read()
        if held is not None and held.get("token") == self.token:
            self._remove()

    def _create(self, owner: dict) -> bool:
        data = json.dumps(owner).encode()
        if isinstance(self.fs, pafs.LocalFileSystem):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return True
        if fsutil.exists(self.fs, self.path):
            return False
        fsutil.write_bytes_atomic(self.fs, self.path, data)
        held = self._read()
        return held is not None and held.get("token") == owner["token"]

    def _read_settled(self, wait_s: float = 2.0) -> dict | None:
        """The owner in a lock that exists, None once it is gone. A run creates the lock
        (``O_EXCL``) and writes its owner just after, so a lock read in between is empty:
        that is a lock being taken, not one released, and is read again until it holds its
        owner. One that stays empty or unreadable for ``wait_s`` (its run died in between)
        counts as held by an unknown run."""
        deadline = time.monotonic() + wait_s
        while True:
            held = self._read()
            if held is not None or not fsutil.exists(self.fs, self.path):
                return held
            if time.monotonic() >= deadline:
                return {"pid": "unknown", "host": "unknown (the lock is empty or unreadable)", "started": "unknown"}
            time.sleep(0.01)

    def _read(self) -> dict | None:
        try:
            return fsutil.read_json(self.fs, self.path)
        except (FileNotFoundError, OSError, ValueError):
            return None

    def _remove(self) -> None:
        try:
            self.fs.delete_file(self.path)
        except (FileNotFoundError, OSError):
            pass
