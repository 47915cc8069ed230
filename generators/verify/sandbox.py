"""Run untrusted Python (model-written code) isolated, with limits, and report what happened.

Isolation modes, strongest first; ``"auto"`` takes the first that works on this
machine (probed once per process by actually running a trivial program):

* ``bwrap`` (bubblewrap): new user, network, PID, IPC, UTS and mount namespaces. The
  sandbox sees only ``/usr`` (read-only, plus the ``/lib*``/``/bin`` links), the
  interpreter, a private ``/proc`` and ``/dev``, its inputs read-only under ``/input``,
  and a fresh size-capped tmpfs as its working directory ``/sandbox``. Nothing else
  of the host file system exists inside.
* ``unshare`` (util-linux): new user, network, PID, IPC, UTS and mount namespaces,
  but the host file system stays visible; only Unix permissions of an unprivileged
  uid protect it. No network; weaker file isolation.
* ``rlimits``: only resource limits and an unprivileged uid: NO network isolation.
  Refused (``SandboxUnavailable``) unless ``allow_weak=True``.

In every mode: resource limits are set inside the sandbox before the untrusted code
runs (address space, CPU seconds, process count, file size, open files, no core
dumps), the environment is scrubbed (``python -I`` plus a minimal ``PATH``/``HOME``),
stdout and stderr are capped, and a wall-clock deadline kills the whole process
tree. When taosha runs as root, the sandbox runs as ``nobody`` (uid 65534): the
kernel does not apply ``RLIMIT_NPROC`` to root, so a fork bomb is only bounded under
an unprivileged uid. The interpreter must be reachable by that uid (``python="auto"``
tries ``sys.executable`` first, then the system ``python3``); the one used is reported.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

IsolationName = Literal["auto", "bwrap", "unshare", "rlimits"]
MODES = ("bwrap", "unshare", "rlimits")
NOBODY = 65534

# Runs inside the sandbox before the untrusted program: copy inputs in, set limits, run it.
_BOOT = """\
import json, os, resource, runpy, shutil, sys
cfg = json.loads(sys.argv[1])
if os.getpid() == 1:  # PID-namespace init ignores default signals: run the program as its child
    child = os.fork()
    if child:
        code = 1
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid == child:
                code = os.waitstatus_to_exitcode(status)
                break
        os._exit(128 - code if code < 0 else code)
if cfg["input"] != os.getcwd():
    for name in os.listdir(cfg["input"]):
        shutil.copy(os.path.join(cfg["input"], name), name)
for name, value in cfg["limits"].items():
    resource.setrlimit(getattr(resource, name), tuple(value))
sys.argv = ["main.py"] + cfg["args"]
sys.path.insert(0, os.getcwd())
del cfg, name, value
runpy.run_path("main.py", run_name="__main__")
"""


class SandboxUnavailable(RuntimeError):
    """No isolation of the required strength works on this machine."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0  # wall clock, whole process tree
    cpu_s: int = 10  # RLIMIT_CPU (SIGXCPU, then SIGKILL one second later)
    memory_mb: int = 512  # RLIMIT_AS (MemoryError in Python)
    max_procs: int = 16  # RLIMIT_NPROC for the sandbox uid (bounds fork bombs)
    max_file_mb: int = 16  # RLIMIT_FSIZE (SIGXFSZ / EFBIG)
    disk_mb: int = 64  # size of the working tmpfs (bwrap)
    max_open_files: int = 64  # RLIMIT_NOFILE
    max_output_bytes: int = 64 * 1024  # stdout + stderr kept; more kills the run

    def rlimits(self) -> dict[str, tuple[int, int]]:
        mb = 1024 * 1024
        return {
            "RLIMIT_AS": (self.memory_mb * mb, self.memory_mb * mb),
            "RLIMIT_CPU": (self.cpu_s, self.cpu_s + 1),
            "RLIMIT_NPROC": (self.max_procs, self.max_procs),
            "RLIMIT_FSIZE": (self.max_file_mb * mb, self.max_file_mb * mb),
            "RLIMIT_NOFILE": (self.max_open_files, self.max_open_files),
            "RLIMIT_CORE": (0, 0),
        }


@dataclass(frozen=True)
class IsolationInfo:
    mode: str  # bwrap | unshare | rlimits
    network_isolated: bool
    filesystem_isolated: bool  # only the sandbox's own files are visible
    uid: int  # the host uid the sandbox runs as
    python: str  # interpreter used inside
    binds: tuple[str, ...] = ()  # host directories bound read-only (the interpreter's prefix)
    probes: dict[str, str] = field(default_factory=dict)  # mode -> "ok" or why it failed


@dataclass
class SandboxResult:
    returncode: int | None
    stdout: str
    stderr: str
    isolation: str
    duration_s: float
    timed_out: bool = False
    violation: str | None = None  # timeout | cpu_limit | memory_limit | process_limit | file_size_limit | output_limit | killed
    signal: int | None = None
    output_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.violation is None

    def to_dict(self) -> dict:
        return asdict(self)


def _system_dirs() -> list[str]:
    """bwrap arguments that recreate /lib, /lib64, /bin, /sbin as on the host (links or read-only dirs)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        p = Path(name)
        if p.is_symlink():
            args += ["--symlink", os.readlink(name), name]
        elif p.is_dir():
            args += ["--ro-bind", name, name]
    return args


def _python_candidates(python: str) -> list[tuple[str, list[str]]]:
    """(interpreter, directories to bind read-only) to try, in order."""
    if python != "auto":
        exe = os.path.realpath(python)
        return [(exe, [str(Path(exe).parent.parent)])]
    cands: list[tuple[str, list[str]]] = []
    exe = os.path.realpath(sys.executable)
    cands.append((exe, sorted({sys.prefix, sys.base_prefix, str(Path(exe).parent.parent)})))
    for sysexe in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(sysexe) and os.path.realpath(sysexe) != exe:
            cands.append((os.path.realpath(sysexe), [str(Path(os.path.realpath(sysexe)).parent.parent)]))
    return cands


class Sandbox:
    """A configured sandbox; ``run(code)`` executes one program in a fresh one."""

    def __init__(self, isolation: IsolationName = "auto", limits: SandboxLimits | None = None, *,
                 allow_weak: bool = False, python: str = "auto", run_as: int | None = None):
        self.limits = limits or SandboxLimits()
        self.requested = isolation
        self.allow_weak = allow_weak
        self.uid = run_as if run_as is not None else (NOBODY if os.geteuid() == 0 else os.geteuid())
        self.info = _detect(isolation, python, self.uid, allow_weak)

    @property
    def isolation(self) -> str:
        return self.info.mode

    def run(self, code: str, *, files: dict[str, str | bytes] | None = None, stdin: str | None = None,
            args: list[str] | None = None, limits: SandboxLimits | None = None) -> SandboxResult:
        """Run ``code`` as ``main.py`` in a fresh working directory holding ``files``."""
        return _run(self.info, limits or self.limits, code, files or {}, stdin, list(args or []))


def run_in_sandbox(code: str, *, files: dict[str, str | bytes] | None = None, stdin: str | None = None,
                   isolation: IsolationName = "auto", allow_weak: bool = False, python: str = "auto",
                   **limits) -> SandboxResult:
    """One-shot convenience: ``run_in_sandbox(code, timeout_s=5, memory_mb=256)``."""
    return Sandbox(isolation, SandboxLimits(**limits), allow_weak=allow_weak, python=python).run(
        code, files=files, stdin=stdin)


# ------------------------------------------------------------------ detection

_DETECT_CACHE: dict[tuple, IsolationInfo] = {}
_DETECT_LOCK = threading.Lock()


def _detect(requested: str, python: str, uid: int, allow_weak: bool) -> IsolationInfo:
    key = (requested, python, uid)
    with _DETECT_LOCK:
        if key not in _DETECT_CACHE:
            _DETECT_CACHE[key] = _probe_all(requested, python, uid)
    info = _DETECT_CACHE[key]
    if info.mode == "none":
        raise SandboxUnavailable(f"no sandbox works here: {info.probes}")
    if not info.network_isolated and not allow_weak:
        raise SandboxUnavailable(
            "no network isolation available (" + "; ".join(f"{m}: {why}" for m, why in info.probes.items())
            + "). Install bubblewrap (apt-get install bubblewrap) or allow user namespaces, "
              "or set allow_weak_isolation: true to run generated code with resource limits only.")
    return info


def _probe_all(requested: str, python: str, uid: int) -> IsolationInfo:
    modes = MODES if requested == "auto" else (requested,)
    probes: dict[str, str] = {}
    for mode in modes:
        tried: list[str] = []
        for exe, binds in _python_candidates(python):
            info = IsolationInfo(mode, mode != "rlimits", mode == "bwrap", uid, exe, tuple(binds))
            res = _run(info, SandboxLimits(timeout_s=20, cpu_s=10), "print('ok')", {}, None, [])
            if res.ok and res.stdout.strip() == "ok":
                probes[mode] = "ok" + (f" (skipped {'; '.join(tried)})" if tried else "")
                return IsolationInfo(mode, mode != "rlimits", mode == "bwrap", uid, exe, tuple(binds), probes)
            why = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1][:200]
            tried.append(f"{exe}: {why}")
        probes[mode] = "; ".join(tried)
    return IsolationInfo("none", False, False, uid, "", (), probes)


def describe_isolation(info: IsolationInfo) -> dict:
    """What a run manifest should record about the sandbox."""
    return {"mode": info.mode, "network_isolated": info.network_isolated,
            "filesystem_isolated": info.filesystem_isolated, "uid": info.uid, "python": info.python,
            "probes": dict(info.probes)}


# ------------------------------------------------------------------ execution


def _command(info: IsolationInfo, limits: SandboxLimits, input_dir: str, args: list[str]) -> tuple[list[str], str]:
    """The argv that runs the boot program, and the host directory to start it in."""
    workdir = "/sandbox" if info.mode == "bwrap" else input_dir
    cfg = json.dumps({"input": "/input" if info.mode == "bwrap" else input_dir,
                      "limits": limits.rlimits(), "args": args})
    inner = [info.python, "-I", "-c", _BOOT, cfg]
    if info.mode == "bwrap":
        cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", *_system_dirs()]
        for b in info.binds:
            if not b.startswith("/usr/") and b != "/usr":
                cmd += ["--ro-bind", b, b]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.disk_mb * 1024 * 1024), "--tmpfs", workdir,
                "--ro-bind", input_dir, "/input", "--chdir", workdir, "--hostname", "sandbox", "--clearenv",
                "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", workdir, "--setenv", "TMPDIR", workdir,
                "--setenv", "LANG", "C.UTF-8", "--", *inner]
        return cmd, "/"
    if info.mode == "unshare":
        return ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child", "--mount",
                "--mount-proc", "--ipc", "--uts", "--", *inner], input_dir
    return inner, input_dir


def _run(info: IsolationInfo, limits: SandboxLimits, code: str, files: dict[str, str | bytes],
         stdin: str | None, args: list[str]) -> SandboxResult:
    tmp = tempfile.mkdtemp(prefix="taosha-sbx-")
    try:
        for name, content in {**files, "main.py": code}.items():
            target = Path(tmp) / Path(name).name
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        if os.geteuid() == 0 and info.uid != 0:
            for p in [tmp, *(os.path.join(tmp, n) for n in os.listdir(tmp))]:
                os.chown(p, info.uid, info.uid)
        cmd, cwd = _command(info, limits, tmp, args)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp, "TMPDIR": tmp}
        return _execute(cmd, cwd, env, info, limits, stdin)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _execute(cmd: list[str], cwd: str, env: dict[str, str], info: IsolationInfo, limits: SandboxLimits,
             stdin: str | None) -> SandboxResult:
    drop = os.geteuid() == 0 and info.uid != 0
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                close_fds=True, user=info.uid if drop else None, group=info.uid if drop else None,
                                extra_groups=[] if drop else None)
    except OSError as exc:
        return SandboxResult(None, "", f"could not start the sandbox: {exc}", info.mode, 0.0, violation="killed")
    if stdin:
        try:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        except OSError:
            pass
    out, err = bytearray(), bytearray()
    violation, timed_out, truncated = None, False, False
    deadline = start + limits.timeout_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                violation, timed_out = "timeout", True
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if len(out) + len(err) > limits.max_output_bytes:
                    violation, truncated = "output_limit", True
                    break
            if violation:
                break
    if violation:
        _kill_tree(proc)
    try:
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        violation, timed_out = "timeout", True
        _kill_tree(proc)
        proc.wait()
    _kill_tree(proc)  # stragglers (e.g. a fork bomb's orphans) left in the process group
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    cap = limits.max_output_bytes
    stdout = bytes(out[:cap]).decode("utf-8", "replace")
    stderr = bytes(err[: max(0, cap - len(out))] if len(out) < cap else err[:4096]).decode("utf-8", "replace")
    rc = proc.returncode
    sig = -rc if rc is not None and rc < 0 else (rc - 128 if info.mode != "rlimits" and rc and rc > 128 else None)
    if violation is None:
        violation = _classify(sig, stderr)
    return SandboxResult(rc, stdout, stderr, info.mode, time.monotonic() - start, timed_out, violation, sig,
                         truncated or len(out) + len(err) > cap)


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _classify(sig: int | None, stderr: str) -> str | None:
    """Which limit ended the run, from its signal or its last error line."""
    if sig == signal.SIGXCPU:
        return "cpu_limit"
    if sig == signal.SIGXFSZ:
        return "file_size_limit"
    if sig is not None:
        return "killed"
    tail = stderr[-2000:]
    if "MemoryError" in tail:
        return "memory_limit"
    if "Resource temporarily unavailable" in tail and ("fork" in tail or "BlockingIOError" in tail):
        return "process_limit"
    if "File too large" in tail or "No space left on device" in tail:
        return "file_size_limit"
    return None


if __name__ == "__main__":  # `python -m generators.verify.sandbox`: which isolation works on this machine
    try:
        print(json.dumps(describe_isolation(Sandbox(allow_weak=True).info), indent=2))
    except SandboxUnavailable as exc:
        print(f"no sandbox: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
