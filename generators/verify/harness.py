"""The code verifier's harness: runs inside the sandbox, but never runs the sample itself.

Why: a harness that shares the sample's interpreter can be rewritten by the sample
(``json.dumps``, ``builtins.exec``, forged report lines, ``os._exit(0)``...). This
process reads its spec (and the report nonce) from stdin, makes itself non-dumpable
(so the sample, same uid, can neither ptrace it nor open its ``/proc/<pid>/fd`` or
``mem``), then starts the runner (``generators.verify.runner``) as a child with fresh
stdio and only a result pipe. The child reports values; this process keeps the
expected values and the verdict logic, enforces the per-test deadline from outside,
and alone writes the report the host reads: nonce-prefixed JSON lines on its stdout,
ending with a ``done`` line. A child that exits, is killed, kills this process or
floods the pipe can only make the row fail.

Shipped as source (after ``plain.py``) and run as the sandbox's ``main.py``.
"""


try:
    decode  # noqa: B018 (defined by plain.py, shipped before this file)
except NameError:  # imported as a module on the host (tests of the comparison rules)
    from generators.verify.plain import decode


def harness_main():
    """Entry point inside the sandbox."""
    import ctypes
    import json
    import os
    import selectors
    import signal
    import subprocess
    import sys
    import time

    spec = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    nonce = spec["nonce"]

    def emit(obj):
        data = (nonce + json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(1, data):]

    try:  # PR_SET_DUMPABLE = 4: /proc/<pid>/{fd,mem,environ} and ptrace closed to the same uid
        if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    except (OSError, AttributeError) as exc:
        emit({"done": True, "harness_error": f"cannot protect the harness: {exc}"})
        return
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]  # the sample may write modules here

    tests = spec["tests"]
    checks = {c["id"]: c for c in spec["checks"]}
    per_test_s = float(spec["per_test_s"])
    cap = int(spec["error_chars"])
    r, w = os.pipe()
    child_code = spec["runner_code"] + f"\nCHECK_FN = {spec['check_fn']!r}\nrunner_main(int(__import__('sys').argv[1]))\n"
    try:
        child = subprocess.Popen([sys.executable, "-I", "-c", child_code, str(w)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(w,), close_fds=True)
    except OSError as exc:
        emit({"done": True, "harness_error": f"cannot start the test process: {exc}"})
        return
    os.close(w)
    try:
        child.stdin.write(json.dumps({"solution": spec["solution"],
                                      "tests": [{"name": t["name"], "source": t["source"]} for t in tests]}).encode())
        child.stdin.close()
    except OSError:
        pass

    state = {"phase": "startup", "current": None, "next": 0, "deadline": time.monotonic() + max(10.0, per_test_s),
             "solution": None, "violation": None}
    results = [{"ended": None, "failures": [], "own": 0, "seen": set()} for _ in tests]
    binding_passed = [0]
    budget = [int(spec["max_report_bytes"])]
    stderr_tail = bytearray()

    def judge_check(c, event):
        if "err" in event:
            return f"a value is not plain data ({str(event['err'])[:100]}); only None, bool, int, float, complex, " \
                   "str, bytes, list, tuple, dict, set and range are compared"
        values = [decode(v) for v in event["v"]]
        operands = [values[o["val"]] if "val" in o else decode(o["lit"]) for o in c["operands"]]
        for i, op in enumerate(c["ops"]):
            if not holds(op, operands[i:i + 2]):
                return failure_message(c, op, operands)
        return None

    def on_event(ev):
        kind = ev.get("e")
        if kind == "ready" and state["phase"] == "startup":
            state["phase"], state["deadline"] = "solution", time.monotonic() + per_test_s
        elif kind == "solution" and state["phase"] == "solution":
            state["solution"] = {"test": None, "ok": ev.get("ok") is True, "type": str(ev.get("type", ""))[:100],
                                 "msg": str(ev.get("msg", ""))[:cap]}
            state["phase"] = "tests" if ev.get("ok") is True else "over"
            state["deadline"] = time.monotonic() + per_test_s  # until the first test starts
            if state["phase"] == "tests" and not tests:
                state["phase"] = "over"
        elif kind == "start" and state["phase"] == "tests" and state["current"] is None and ev.get("t") == state["next"]:
            state["current"], state["deadline"] = state["next"], time.monotonic() + per_test_s
        elif kind == "check" and state["current"] is not None:
            t = state["current"]
            c = checks.get(ev.get("id"))
            if c is None or c["test"] != tests[t]["name"]:
                results[t]["failures"].append(("AssertionError", "a check that is not this test's was reported"))
                return
            try:
                why = judge_check(c, ev)
            except Exception as exc:  # noqa: BLE001 (malformed report, uncomparable values)
                why = f"{c['source']}  (could not compare: {type(exc).__name__}: {exc})"
            results[t]["own"] += bool(c["own"])
            results[t]["seen"].add(c["id"])
            if why is None:
                binding_passed[0] += bool(c["binding"])
            else:
                results[t]["failures"].append(("AssertionError", why))
        elif kind == "end" and state["current"] is not None and ev.get("t") == state["current"]:
            t = state["current"]
            results[t]["ended"] = (ev.get("ok") is True, str(ev.get("type", ""))[:100], str(ev.get("msg", "")))
            state["current"], state["next"], state["deadline"] = None, t + 1, time.monotonic() + per_test_s
            if t + 1 == len(tests):
                state["phase"] = "over"

    def on_timeout():
        what = f"test ran longer than {per_test_s:g}s"
        if state["phase"] in ("startup", "solution"):
            state["solution"] = {"test": None, "ok": False, "type": "TestTimeout", "msg": what}
        elif state["phase"] == "tests":
            t = state["current"] if state["current"] is not None else state["next"]
            results[t]["ended"] = (False, "TestTimeout", what)
        state["phase"] = "over"

    buf = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(r, selectors.EVENT_READ, "report")
        sel.register(child.stdout, selectors.EVENT_READ, "out")
        sel.register(child.stderr, selectors.EVENT_READ, "err")
        exited_at = None
        while state["phase"] != "over":
            now = time.monotonic()
            if state["deadline"] is not None and now > state["deadline"]:
                on_timeout()
                break
            if exited_at is None and child.poll() is not None:
                exited_at = now
            if exited_at is not None and (now - exited_at > 0.5 or not sel.get_map()):
                break  # the child is gone; what it had written has been read
            if not sel.get_map():
                time.sleep(0.01)
                continue
            for key, _ in sel.select(timeout=0.05):
                try:
                    chunk = os.read(key.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                if key.data == "err":
                    stderr_tail.extend(chunk)
                    del stderr_tail[:-4000]
                if key.data != "report":
                    continue
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    state["violation"], state["phase"] = "output_limit", "over"
                    break
                buf.extend(chunk)
                while b"\n" in buf and state["phase"] != "over":
                    line, _, rest = bytes(buf).partition(b"\n")
                    buf[:] = rest
                    try:
                        ev = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if type(ev) is dict:
                        on_event(ev)
                if state["phase"] == "over":
                    break
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    rc = child.wait()

    if state["solution"] is not None:
        emit(state["solution"])
    for t, res in zip(tests, results):
        if res["ended"] is None:
            continue
        ok, etype, msg = res["ended"]
        if res["failures"]:
            etype, msg = res["failures"][0]
        elif ok and t["own"] and not res["own"]:
            etype, msg = "AssertionError", "none of the test's assertions was reached"
        elif ok and set(t["must"]) - res["seen"]:
            missed = checks[min(set(t["must"]) - res["seen"])]["source"]
            etype, msg = "AssertionError", f"{missed}: never reported, though every run of the test reaches it"
        elif ok:
            emit({"test": t["name"], "ok": True})
            continue
        emit({"test": t["name"], "ok": False, "type": etype or "Exception", "msg": msg[:cap]})
    emit({"done": True, "binding": binding_passed[0], "violation": state["violation"], "child_rc": rc,
          "child_stderr": stderr_tail.decode("utf-8", "replace")[-2000:]})


def holds(op, pair):
    """Whether ``op`` holds between two plain values (or of one, for truth ops)."""
    import math

    name = op[0]
    if name == "truth":
        return bool(pair[0])
    if name == "not":
        return not pair[0]
    a, b = pair
    if name == "==":
        return a == b
    if name == "!=":
        return a != b
    if name == "<":
        return a < b
    if name == "<=":
        return a <= b
    if name == ">":
        return a > b
    if name == ">=":
        return a >= b
    if name == "is":
        return a is b
    if name == "is not":
        return a is not b
    if name == "in":
        return a in b
    if name == "not in":
        return a not in b
    if name in ("approx", "not approx"):
        return approx_equal(a, b, op[1], op[2]) == (name == "approx")
    if name == "absdiff":
        if type(a) not in (int, float) or type(b) not in (int, float):
            return False
        return abs(a - b) < op[2] if op[1] == "<" else abs(a - b) <= op[2]
    if name == "isclose":
        return math.isclose(a, b, rel_tol=op[1], abs_tol=op[2])
    if name in ("almost", "not almost"):
        places, delta = op[1], op[2]
        same = a == b or (abs(a - b) <= delta if delta is not None else round(abs(a - b), places) == 0)
        return same == (name == "almost")
    if name == "seq_eq":
        return list(a) == list(b)
    if name == "count_eq":
        rest = list(b)
        for x in a:
            for i, y in enumerate(rest):
                if x == y:
                    del rest[i]
                    break
            else:
                return False
        return not rest
    raise ValueError(f"unknown op {name!r}")


def approx_equal(a, b, rel, abs_):
    """pytest.approx's rule (relative 1e-6 or absolute 1e-12 by default), element-wise on containers."""
    num = (int, float, complex)
    if type(a) in num and type(b) in num and type(a) is not bool and type(b) is not bool:
        if a == b:
            return True
        tol = max(1e-6 * abs(b) if rel is None else rel * abs(b), 1e-12 if abs_ is None else abs_)
        return abs(a - b) <= tol
    if type(a) in (list, tuple) and type(b) in (list, tuple):
        return len(a) == len(b) and all(approx_equal(x, y, rel, abs_) for x, y in zip(a, b))
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(approx_equal(a[k], b[k], rel, abs_) for k in a)
    return a == b


def failure_message(check, op, operands):
    """What the row's verify_error says about a failed check (the unittest style mimics unittest)."""
    if check["style"] == "unittest":
        if op[0] == "==" and len(operands) == 2:
            return f"AssertionError: {operands[0]!r} != {operands[1]!r}"
        return f"AssertionError: {check['source']} failed (values: {', '.join(repr(v) for v in operands)})"
    msg = check["source"]
    if len(operands) >= 2 and "val" in check["operands"][0]:
        msg += f"  (left side was {operands[0]!r})"
    elif len(operands) == 1 and "val" in check["operands"][0]:
        msg += f"  (value was {operands[0]!r})"
    return msg
