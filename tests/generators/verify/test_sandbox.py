"""Untrusted code is contained: each escape attempt fails inside, is reported, and the host is unharmed.

Every containment test runs in each isolation mode that works on this machine
(bubblewrap; unshare, allowed explicitly as weak); without bubblewrap nothing runs
unless weak isolation is asked for.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from generators.verify import sandbox as sb
from generators.verify.sandbox import Sandbox, SandboxLimits, SandboxUnavailable, describe_isolation

FAST = SandboxLimits(timeout_s=10, cpu_s=2, memory_mb=256, max_procs=8, max_file_mb=4, disk_mb=16, shm_mb=2,
                     max_output_bytes=16 * 1024)
# One CPU second; the wall clock is generous because the CPUs of a shared machine may be busy.
CPU_BOUND = SandboxLimits(timeout_s=60, cpu_s=1)


def _available(mode: str) -> Sandbox | None:
    try:
        return Sandbox(mode, FAST, allow_weak=mode != "bwrap")
    except SandboxUnavailable:
        return None


@pytest.fixture(scope="module", params=["bwrap", "unshare"])
def box(request) -> Sandbox:
    s = _available(request.param)
    if s is None:
        pytest.skip(f"{request.param} does not work on this machine")
    return s


def test_auto_mode_finds_network_isolation_and_records_it():
    s = Sandbox()  # fails (SandboxUnavailable) on a machine without bubblewrap or user namespaces
    info = describe_isolation(s.info)
    assert info["mode"] in ("bwrap", "unshare") and info["network_isolated"]
    r = s.run("print('hello')")
    assert r.ok and r.stdout == "hello\n" and r.isolation == s.isolation


def test_network_is_unreachable(box):
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen(5)
    host.setblocking(False)
    port = host.getsockname()[1]
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('CONNECTED')\n"
            "except OSError as e:\n    print('BLOCKED', e)\n")
    r = box.run(code)
    try:
        with pytest.raises(BlockingIOError):
            host.accept()  # nobody got through to the host's listener
    finally:
        host.close()
    assert r.ok and r.stdout.startswith("BLOCKED"), r
    r = box.run("import socket\nsocket.getaddrinfo('example.com', 80)")
    assert r.returncode != 0 and "gaierror" in r.stderr


def test_files_outside_cannot_be_read(box, tmp_path):
    if not box.info.filesystem_isolated and box.info.uid == os.geteuid():
        pytest.skip("this mode hides host files only through a separate uid")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    secret.chmod(0o600)  # readable by its owner only: under unshare the sandbox uid is not the owner
    r = box.run(f"print(open({str(secret)!r}).read())")
    assert r.returncode != 0 and "top secret" not in r.stdout
    assert "FileNotFoundError" in r.stderr or "PermissionError" in r.stderr


@pytest.mark.parametrize("mode_bits", [0o777])
def test_files_outside_cannot_be_written(box, tmp_path, mode_bits):
    if not box.info.filesystem_isolated:
        pytest.skip("this mode does not hide the host file system (a world-writable directory stays writable)")
    target = tmp_path / "open"
    target.mkdir()
    target.chmod(mode_bits)  # even a world-writable host directory does not exist inside
    r = box.run(f"open({str(target / 'owned.txt')!r}, 'w').write('x')\n")
    assert r.returncode != 0 and "FileNotFoundError" in r.stderr
    assert list(target.iterdir()) == []
    r = box.run("open('/usr/owned.txt', 'w')")
    assert r.returncode != 0 and ("Read-only file system" in r.stderr or "Permission denied" in r.stderr)


def test_working_directory_is_fresh_and_private(box):
    first = box.run("open('left_behind.txt', 'w').write('x')\nimport os\nprint(sorted(os.listdir('.')))")
    second = box.run("import os\nprint(sorted(os.listdir('.')))")
    assert "left_behind.txt" in first.stdout and "left_behind.txt" not in second.stdout


def _procs_with(marker: str) -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    n += 1
            except OSError:
                continue
    return n


def test_fork_bomb_is_bounded_and_cleaned_up(box):
    marker = f"forkbomb-{uuid.uuid4().hex}"
    r = box.run("import os\nwhile True:\n    os.fork()\n", args=[marker])
    assert not r.ok and r.violation == "process_limit", r
    deadline = time.monotonic() + 5
    while _procs_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _procs_with(marker) == 0


def test_memory_bomb_hits_the_memory_limit(box):
    r = box.run("blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))\n")
    assert r.violation == "memory_limit" and "MemoryError" in r.stderr


def test_cpu_loop_hits_the_cpu_limit(box):
    r = box.run("while True:\n    pass\n", limits=CPU_BOUND)
    assert r.violation == "cpu_limit" and not r.timed_out, r


def test_sleeping_loop_hits_the_wall_clock(box):
    r = box.run("import time\nwhile True:\n    time.sleep(0.05)\n", limits=SandboxLimits(timeout_s=1.0))
    assert r.timed_out and r.violation == "timeout"


def test_output_flood_is_capped(box):
    r = box.run("while True:\n    print('x' * 1000)\n")
    assert r.violation == "output_limit" and r.output_truncated
    assert len(r.stdout) <= FAST.max_output_bytes


def test_file_size_and_disk_are_capped(box):
    r = box.run("open('big', 'wb').write(b'x' * (8 * 1024 * 1024))\n")
    assert r.violation == "file_size_limit"


def test_environment_is_scrubbed(box, monkeypatch):
    monkeypatch.setenv("TAOSHA_TEST_SECRET", "hunter2")
    r = box.run("import os\nprint(sorted(os.environ))")
    assert r.ok and "TAOSHA_TEST_SECRET" not in r.stdout and "hunter2" not in r.stdout


def test_inputs_stdin_and_args_reach_the_program(box):
    r = box.run("import sys\nprint(open('data.txt').read(), sys.stdin.read().strip(), sys.argv[1:])",
                files={"data.txt": "payload"}, stdin="from-stdin\n", args=["a1"])
    assert r.ok and r.stdout.strip() == "payload from-stdin ['a1']"


def test_weak_mode_is_refused_unless_allowed():
    for mode in ("rlimits", "unshare"):
        with pytest.raises(SandboxUnavailable, match="refusing to run generated code without bubblewrap"):
            Sandbox(mode, FAST)
    weak = Sandbox("rlimits", FAST, allow_weak=True)
    assert weak.isolation == "rlimits" and not weak.info.network_isolated
    assert weak.run("while True:\n    pass\n", limits=CPU_BOUND).violation == "cpu_limit"


def test_auto_fails_closed_when_nothing_isolates(monkeypatch):
    def broken(requested, python, uid):
        return sb.IsolationInfo("rlimits", False, False, uid, "/usr/bin/python3",
                                probes={"bwrap": "bwrap: not found", "unshare": "unshare: Operation not permitted",
                                        "rlimits": "ok"})
    monkeypatch.setattr(sb, "_probe_all", broken)
    monkeypatch.setattr(sb, "_DETECT_CACHE", {})
    with pytest.raises(SandboxUnavailable, match="bwrap: not found"):
        Sandbox("auto")


def test_one_shot_helper_reports_the_isolation_used():
    r = sb.run_in_sandbox("import sys\nprint(sys.version_info[0])", timeout_s=10, memory_mb=256)
    assert r.ok and r.stdout.strip() == "3" and r.isolation in ("bwrap", "unshare")
    assert r.to_dict()["isolation"] == r.isolation


def test_forked_children_share_one_memory_limit(box):
    """Five children of 100 MiB each stay under the per-process address-space limit, not under the sandbox's 256 MiB."""
    code = ("import os, time\nkids = []\nfor i in range(5):\n    pid = os.fork()\n    if pid == 0:\n"
            "        data = b'x' * (100 << 20)\n        time.sleep(3)\n        os._exit(0)\n    kids.append(pid)\n"
            "for k in kids:\n    os.waitpid(k, 0)\nprint('survived')\n")
    r = box.run(code)
    assert r.violation == "memory_limit" and "survived" not in r.stdout, r
    assert "memory_mb=256" in r.stderr


def test_memory_held_after_closing_the_output_is_still_counted(box):
    code = ("import os, time\nos.close(1)\nos.close(2)\nkids = []\nfor i in range(4):\n    if os.fork() == 0:\n"
            "        data = b'x' * (100 << 20)\n        time.sleep(3)\n        os._exit(0)\ntime.sleep(3)\n")
    r = box.run(code)
    assert r.violation == "memory_limit", r


def test_writable_places_are_few_and_size_capped(box):
    """Only the working dir and /dev/shm are writable inside, each a tmpfs of its configured size."""
    if not box.info.filesystem_isolated:
        pytest.skip("this mode leaves the host file system in place")
    code = ("import json, os\nout = {}\nfor d in ('/dev/shm', '.', '/tmp', '/', '/dev', '/input'):\n    n = 0\n"
            "    try:\n        while n < 40:\n            with open(os.path.join(d, f'f{n}'), 'wb') as f:\n"
            "                f.write(b'x' * (1 << 20))\n            n += 1\n    except OSError as e:\n"
            "        pass\n    out[d] = n\nprint(json.dumps(out))\n")
    r = box.run(code)
    import json

    written = json.loads(r.stdout)
    assert written["/dev/shm"] <= FAST.shm_mb and written["."] <= FAST.disk_mb, written
    assert written["/tmp"] == written["/"] == written["/dev"] == written["/input"] == 0, written


def test_nested_user_namespaces_are_refused(box):
    if box.isolation != "bwrap":
        pytest.skip("only bubblewrap can disable user namespaces inside")
    code = ("import ctypes, subprocess\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.unshare(0x10000000), ctypes.get_errno())\n"
            "print(subprocess.run(['unshare', '-U', 'true'], capture_output=True).returncode)\n")
    r = box.run(code)
    syscall, cmd = r.stdout.split("\n")[:2]
    assert syscall.split()[0] == "-1" and syscall.split()[1] != "0", r
    assert cmd != "0", r


def test_without_bubblewrap_verify_code_refuses_unless_weak_isolation_is_allowed(monkeypatch):
    import tempfile

    from generators.verify.code_stage import VerifyCodeStage

    bin_dir = Path(tempfile.mkdtemp(prefix="taosha-nobwrap-"))  # a PATH with unshare but no bwrap
    bin_dir.chmod(0o755)
    (bin_dir / "unshare").symlink_to("/usr/bin/unshare")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(sb, "_DETECT_CACHE", {})
    with pytest.raises(SandboxUnavailable, match=r"without bubblewrap \(bwrap: not found on PATH.*allow_weak_isolation"):
        VerifyCodeStage().setup()
    with pytest.raises(SandboxUnavailable, match="without bubblewrap"):
        Sandbox("auto", FAST)
    weak = VerifyCodeStage(allow_weak_isolation=True)
    weak.setup()
    assert weak.sandbox.isolation in ("unshare", "rlimits")
    (bin_dir / "unshare").unlink()
    bin_dir.rmdir()
