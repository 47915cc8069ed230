"""Plain data across the sandbox boundary: values as tagged JSON, exact builtin types only.

Why: the code verifier compares a sample's results in the harness process, never in the
sample's own interpreter, and never through the sample's ``__eq__``. A value crosses as
JSON made only of builtin types of exactly these classes (no subclasses, so no
user-defined ``__eq__``, ``__hash__`` or ``__iter__`` runs while encoding):
``None bool int float complex str bytes bytearray list tuple dict set frozenset range``.
Anything else is refused (``Unsupported``) and the check that produced it fails.

This file is shipped as source into the sandbox (the harness and the runner child both
use it), so it imports nothing and needs no ``from __future__`` line.
"""


class Unsupported(Exception):
    """A value that is not plain data (its type is named in the message)."""


MAX_NODES = 200_000  # values in one encoded result
MAX_DEPTH = 200
MAX_CHARS = 4_000_000  # characters of str/bytes in one encoded result


def encode(value, _type=type, _len=len, _format=format, _tname=type.__dict__["__name__"].__get__):  # noqa: B008
    """``value`` as JSON-able tagged data; raises ``Unsupported`` for anything not plain.

    Builtins are bound as defaults so a sample that replaces ``builtins.type`` later does
    not change this function (the harness compares values, so a forged encoding could
    only ever report a value, never a verdict).
    """
    budget = [MAX_NODES, MAX_CHARS]

    def enc(v, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise Unsupported("value too large or too deeply nested")
        t = _type(v)
        if v is None or t is bool or t is float:
            return v
        if t is int:
            if v.bit_length() > 3000:
                return {"ih": _format(v, "x")}
            return v
        if t is str:
            budget[1] -= _len(v)
            if budget[1] < 0:
                raise Unsupported("value too large")
            return v
        if t is complex:
            return {"c": [v.real, v.imag]}
        if t is bytes or t is bytearray:
            budget[1] -= 2 * _len(v)
            if budget[1] < 0:
                raise Unsupported("value too large")
            return {("b" if t is bytes else "ba"): v.hex()}
        if t is list or t is tuple or t is set or t is frozenset:
            tag = {list: "l", tuple: "t", set: "s", frozenset: "fs"}[t]
            return {tag: [enc(x, depth + 1) for x in v]}
        if t is dict:
            return {"d": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if t is range:
            return {"r": [v.start, v.stop, v.step]}
        raise Unsupported(_tname(t))  # the type's own name, no metaclass code runs

    return enc(value, 0)


def decode(data):
    """The value ``encode`` described (built here, so comparing it runs no sample code)."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        raise ValueError("bare list in encoded data")
    if type(data) is not dict or len(data) != 1:
        raise ValueError("malformed encoded value")
    (tag, body), = data.items()
    if tag == "ih":
        return int(body, 16)
    if tag == "c":
        return complex(float(body[0]), float(body[1]))
    if tag == "b":
        return bytes.fromhex(body)
    if tag == "ba":
        return bytearray.fromhex(body)
    if tag == "r":
        return range(int(body[0]), int(body[1]), int(body[2]))
    if type(body) is not list:
        raise ValueError("malformed encoded value")
    if tag == "l":
        return [decode(x) for x in body]
    if tag == "t":
        return tuple(decode(x) for x in body)
    if tag == "s":
        return {decode(x) for x in body}
    if tag == "fs":
        return frozenset(decode(x) for x in body)
    if tag == "d":
        return {decode(k): decode(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r}")
