"""The child process of the code verifier: runs the sample's solution and tests, reports values.

Why a separate process: everything in this interpreter is the sample's to tamper with,
so nothing here decides a verdict. It reports events on a pipe (fd given in argv):
``ready``, ``solution`` (ok or the exception), then per test ``start``, one ``check``
per assertion reached (the operands as plain data, ``generators.verify.plain``) and
``end`` (ok or the exception). The harness (``generators.verify.harness``), in the
parent process, keeps the expected values and compares. Stdout and stderr go to the
harness, which discards them; stdin is closed once the spec is read.

Shipped as source (after ``plain.py``) and run with ``python -I -c``: no imports of taosha.
"""


def runner_main(fd, _exec=exec, _compile=compile, _type=type, _str=str, _len=len, _base=BaseException):
    """Read the spec on stdin, run it, report on ``fd``. Builtins are bound before the sample loads."""
    import builtins
    import json
    import os
    import sys

    write = os.write
    dumps = json.JSONEncoder(ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode
    tname = type.__dict__["__name__"].__get__
    enc, unsupported = encode, Unsupported  # noqa: F821 (defined by plain.py, shipped before this file)
    spec = json.loads(sys.stdin.read())
    sys.stdin.close()

    def send(obj):
        data = (dumps(obj) + "\n").encode()
        while data:
            data = data[write(fd, data):]

    def describe(exc):
        try:
            msg = _str(exc)
        except _base:  # noqa: BLE001 (a sample's __str__ may raise anything)
            msg = ""
        return {"type": tname(_type(exc)), "msg": msg[:2000] if _type(msg) is str else ""}

    def check(cid, values):
        try:
            send({"e": "check", "id": cid, "v": [enc(v) for v in values]})
        except unsupported as exc:
            send({"e": "check", "id": cid, "err": _str(exc.args[0])[:200] if exc.args else "unsupported value"})

    send({"e": "ready"})
    ns = {"__name__": "solution", "__builtins__": builtins}
    try:
        _exec(_compile(spec["solution"], "solution.py", "exec"), ns)
    except _base as exc:  # noqa: BLE001
        send({"e": "solution", "ok": False, **describe(exc)})
        return
    send({"e": "solution", "ok": True})
    for i, test in enumerate(spec["tests"]):
        send({"e": "start", "t": i})
        tns = dict(ns)
        tns[CHECK_FN] = check  # noqa: F821 (set by the harness in the shipped source)
        try:
            _exec(_compile(test["source"], test["name"], "exec"), tns)
        except _base as exc:  # noqa: BLE001
            send({"e": "end", "t": i, "ok": False, **describe(exc)})
            continue
        send({"e": "end", "t": i, "ok": True})
