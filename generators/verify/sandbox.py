"""Run untrusted Python (model-written code) isolated, with limits, and report what happened.

Isolation modes, strongest first; ``"auto"`` takes the first that works on this
machine (probed once per process by actually running a trivial program):

* ``bwrap`` (bubblewrap): new user, network, PID, IPC and UTS namespaces, and no
  nested user namespaces (``--disable-userns``). The sandbox sees only ``/usr``
  (read-only, plus the ``/lib*``/``/bin`` links), the interpreter, a private
  ``/proc``, a read-only ``/dev`` with a small ``/dev/shm`` tmpfs (``shm_mb``), its
  inputs read-only under ``/input``, and a fresh tmpfs of ``disk_mb`` as its working
  directory ``/sandbox``. The root is read-only: those two tmpfs are the only
  writable places, and both are size-capped. Nothing else of the host exists inside.
* ``unshare`` (util-linux): namespaces, but the host file system stays visible and
  writable wherever the sandbox uid may write, and the code is root in its user
  namespace (so it may ptrace the code verifier's harness). WEAK.
* ``rlimits``: only resource limits and an unprivileged uid: NO network isolation. WEAK.

Only ``bwrap`` is used by default. Without it, ``Sandbox`` raises ``SandboxUnavailable``
(saying why bubblewrap did not work) unless ``allow_weak=True`` (``allow_weak_isolation``
in the verify_code config) asks for a weak mode explicitly.

Limits, in every mode: resource limits are set inside the sandbox before the untrusted
code runs (address space, CPU seconds, process count, file size, open files, no core
dumps), the environment is scrubbed (``python -I`` plus a minimal ``PATH``/``HOME``),
stdout and stderr are capped, and a wall-clock deadline kills the whole process tree.

Memory is limited for the sandbox as a whole, not per process: the host sums the
proportional memory (anonymous + shared, ``smaps_rollup``) of every process of the
sandbox every ``MEMORY_POLL_S`` (or ten times the scan's own duration, if longer) and
kills the sandbox (``memory_limit``) once the sum passes ``memory_mb``. Between two
samples the rlimits still bound it: at most ``max_procs`` processes of at most
``memory_mb`` of address space each, plus the two tmpfs, i.e.
``max_procs * memory_mb + disk_mb + shm_mb`` MiB in the worst case (about 8.1 GiB with
verify_code's defaults; in practice the sampler stops a sandbox within one interval of
crossing ``memory_mb``). Not counted: kernel memory, and System V shared memory
segments that no process has attached (freed when the sandbox ends). A cgroup would
make the limit hard; none is used yet (no writable cgroup v2 to build and test it on).

When taosha runs as root, the sandbox runs as ``nobody`` (uid 65534): the kernel does
not apply ``RLIMIT_NPROC`` to root, so a fork bomb is only bounded under an
unprivileged uid. The interpreter must be reachable by that uid (``python="auto"``
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

from pipeline import RunError

IsolationName = Literal["auto", "bwrap", "unshare", "rlimits"]
MODES = ("bwrap", "unshare", "rlimits")
NOBODY = 65534
MEMORY_POLL_S = 0.05  # how often the host sums the sandbox's memory (less often if a scan is slow)

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


class SandboxUnavailable(RunError):
    """No isolation of the required strength works on this machine (a :class:`RunError`: the
    ``taosha`` command reports it in one line and exits 2, with no traceback)."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0  # wall clock, whole process tree
    cpu_s: int = 10  # RLIMIT_CPU (SIGXCPU, then SIGKILL one second later)
    memory_mb: int = 512  # all processes together (sampled); each one's RLIMIT_AS (MemoryError in Python)
    max_procs: int = 16  # RLIMIT_NPROC for the sandbox uid (bounds fork bombs)
    max_file_mb: int = 16  # RLIMIT_FSIZE (SIGXFSZ / EFBIG)
    disk_mb: int = 64  # size of the working tmpfs (bwrap)
    shm_mb: int = 4  # size of the /dev/shm tmpfs (bwrap)
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
    key = (requested, python, uid, shutil.which("bwrap"), shutil.which("unshare"))
    with _DETECT_LOCK:
        if key not in _DETECT_CACHE:
            _DETECT_CACHE[key] = _probe_all(requested, python, uid)
    info = _DETECT_CACHE[key]
    probes = "; ".join(f"{m}: {why}" for m, why in info.probes.items())
    if info.mode == "none":
        raise SandboxUnavailable(f"no sandbox works here ({probes})")
    if info.mode != "bwrap" and not allow_weak:
        raise SandboxUnavailable(
            f"refusing to run generated code without bubblewrap ({probes}). Install bubblewrap "
            "(apt-get install bubblewrap) and allow unprivileged user namespaces, or set "
            "allow_weak_isolation: true in the verify_code stage to accept weak isolation "
            "(unshare: host files stay visible and writable; rlimits: not even the network is isolated).")
    return info


def _probe_all(requested: str, python: str, uid: int) -> IsolationInfo:
    modes = MODES if requested == "auto" else (requested,)
    probes: dict[str, str] = {}
    for mode in modes:
        missing = _missing_tool(mode)
        if missing:
            probes[mode] = missing
            continue
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


def _missing_tool(mode: str) -> str | None:
    """Why ``mode`` cannot work here before trying it (its program is absent or too old), else None."""
    if mode == "rlimits":
        return None
    path = shutil.which(mode)
    if path is None:
        return "not found on PATH"
    if mode == "bwrap":
        try:
            usage = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run it: {exc}"
        if "--disable-userns" not in usage:
            return "too old (no --disable-userns; bubblewrap 0.8 or later is needed)"
    return None


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
        cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
               "--die-with-parent", "--new-session", *_system_dirs()]
        for b in info.binds:
            if not b.startswith("/usr/") and b != "/usr":
                cmd += ["--ro-bind", b, b]
        mb = 1024 * 1024
        cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--size", str(limits.shm_mb * mb),
                "--tmpfs", "/dev/shm", "--size", str(limits.disk_mb * mb), "--tmpfs", workdir,
                "--ro-bind", input_dir, "/input", "--remount-ro", "/", "--chdir", workdir, "--hostname", "sandbox",
                "--clearenv",
                "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", workdir, "--setenv", "TMPDIR", workdir,
                "--setenv", "LANG", "C.UTF-8", "--", *inner]
        return cmd, "/"
    if info.mode == "unshare":
        return [shutil.which("unshare") or "unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child", "--mount",
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
    next_poll = start
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while True:
            now = time.monotonic()
            if now >= deadline:
                violation, timed_out = "timeout", True
                break
            if now >= next_poll:  # the whole tree's memory, also after it closed its output
                used = tree_memory_bytes(proc.pid)
                # on a host with many processes the scan costs more: keep it under ~10% of a core
                next_poll = now + max(MEMORY_POLL_S, 10 * (time.monotonic() - now))
                if used > limits.memory_mb * 1024 * 1024:
                    violation = "memory_limit"
                    err.extend(f"\ntaosha: the sandbox's processes used {used >> 20} MiB together, more than "
                               f"memory_mb={limits.memory_mb}; killed\n".encode())
                    break
            if not sel.get_map():
                if proc.poll() is not None:
                    break
                time.sleep(min(MEMORY_POLL_S, deadline - now))
                continue
            for key, _ in sel.select(timeout=min(deadline - now, MEMORY_POLL_S)):
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


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (from each process's parent in ``/proc/<pid>/stat``)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split(maxsplit=2)[1])
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_memory_bytes(root: int) -> int:
    """Memory the process tree under ``root`` holds: proportional anonymous + shared pages, summed.

    Proportional (Pss) so that pages a fork still shares with its parent count once. A
    process whose ``smaps_rollup`` cannot be read (it exited, or made itself non-dumpable
    while the host is not root) counts as 0; its own RLIMIT_AS still bounds it.
    """
    total = 0
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith((b"Pss_Anon:", b"Pss_Shmem:")):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


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
