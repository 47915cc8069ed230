"""The NumPy tokenizer that ``filters.classify.token_kernel`` replaced: the reference the
tests compare the compiled kernel with (same tables, whole-array NumPy passes)."""

from __future__ import annotations

import numpy as np

from filters.classify.tokens import (_CLASS, _LOWER, _SPACE_BETWEEN, DIGIT, INDENT, LONG_NUMBER, NEWLINE, SYMBOL,
                                     TEX)

_NUM = np.frombuffer(LONG_NUMBER.encode("utf-16-le"), dtype=np.uint16)


def _mark_lines(units: np.ndarray, cls: np.ndarray) -> None:
    """Each run of line-break units holding a ``\\n`` -> NEWLINE at its first ``\\n``; a space
    or tab right after the run -> INDENT (in place)."""
    pos = np.flatnonzero((units <= 0x0D) & (units >= 0x0A))  # \n \v \f \r
    if not len(pos):
        return
    nl = np.flatnonzero(units[pos] == 0x0A)  # indexes into pos of the \n units
    units[pos] = 0x20
    if not len(nl):
        return
    first = np.empty(len(pos), dtype=bool)
    first[0] = True
    first[1:] = pos[1:] != pos[:-1] + 1
    run = np.cumsum(first) - 1
    nl_run = run[nl]
    first_nl = np.empty(len(nl), dtype=bool)
    first_nl[0] = True
    first_nl[1:] = nl_run[1:] != nl_run[:-1]
    marks = pos[nl[first_nl]]
    units[marks] = ord(NEWLINE)
    cls[marks] = SYMBOL
    last = np.empty(len(pos), dtype=bool)
    last[-1] = True
    last[:-1] = first[1:]
    after = pos[last][nl_run[first_nl]] + 1
    after = after[after < len(units)]
    indent = after[units[after] == 0x20]  # a space or a tab (tabs are spaces by now)
    units[indent] = ord(INDENT)
    cls[indent] = SYMBOL


def tokenize_joined_reference(joined: str) -> str:
    units = _LOWER[np.frombuffer(joined.encode("utf-16-le", "replace"), dtype=np.uint16)]
    n = len(units)
    if n == 0:
        return ""
    cls = _CLASS[units]
    _mark_lines(units, cls)
    slash = np.flatnonzero(units[:-1] == 0x5C)
    if len(slash):
        nxt = units[slash + 1]
        cls[slash[(nxt >= 0x61) & (nxt <= 0x7A)]] = TEX
    space_before = np.zeros(n, dtype=bool)
    space_before[1:] = _SPACE_BETWEEN[cls[:-1] * np.uint8(9) + cls[1:]]
    keep = None
    digits = np.flatnonzero(cls == DIGIT)
    if len(digits) >= 5:
        starts = np.empty(len(digits), dtype=bool)
        starts[0] = True
        starts[1:] = digits[1:] != digits[:-1] + 1
        run = np.cumsum(starts) - 1
        in_long = np.bincount(run)[run] >= 5
        if in_long.any():
            first = np.flatnonzero(in_long & starts)
            at = digits[first]
            units[at], units[at + 1], units[at + 2] = _NUM  # "NUM" over the run's first 3 digits
            drop = in_long.copy()
            drop[first[:, None] + np.arange(3)] = False
            keep = np.ones(n, dtype=bool)
            keep[digits[drop]] = False
    if keep is not None:  # a dropped digit never has a space before it (it follows a digit)
        units, space_before = units[keep], space_before[keep]
    out = np.insert(units, np.flatnonzero(space_before), np.uint16(0x20))
    return out.tobytes().decode("utf-16-le", "replace")


