"""The compiled pre-checks of normalize answer exactly what the regexes they replace do."""

import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from filters.normalize import scan_kernel as k
from filters.normalize import unicode_text as u
from filters.normalize.mojibake import MOJIBAKE_PATTERN

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"


def _texts() -> list[str]:
    texts = []
    for path in sorted(DEV.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                row = json.loads(line)
                texts += [row[key] for key in ("text", "a", "b") if isinstance(row.get(key), str)]
    rng = random.Random(1)
    pool = list("ab \t\n~`Âà€\x80\x9f\u3000\u00a0\u2003\u200b\ufeff\uff21\uff01ﬁ⼀\x01\x7f\r中。") + [
        "\U0001F600", "Ã ", "Â\x80", "~~~", "```", "\n\n\n"]
    fuzz = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    return texts + fuzz


def _bit(mask: np.ndarray, bit: int) -> np.ndarray:
    return mask.astype(np.uint8) * np.uint8(bit)


@pytest.mark.parametrize("max_blank_lines", [2, 0, 1])
def test_scan_flags_equal_the_regex_checks(max_blank_lines):
    arr = pa.array(_texts() + [None], pa.large_string())
    non_ascii = ~np.asarray(pc.string_is_ascii(arr).fill_null(True).to_numpy(zero_copy_only=False), bool)
    want = (_bit(u.matches(arr, MOJIBAKE_PATTERN), k.MOJIBAKE) | _bit(u.matches(arr, u._NEEDS_CONTROL_FIX), k.CONTROL)
            | _bit(u.matches(arr, u.whitespace_check(max_blank_lines)), k.WHITESPACE)
            | _bit(u.matches(arr, u._CODE_MARKERS), k.CODE_MARKS) | _bit(non_ascii, k.NON_ASCII)
            | _bit(u.code_point_counts(arr, u._FOLD_LOOKUP) > 0, k.FOLD))
    got = u.scan_flags(arr, max_blank_lines)
    bad = np.flatnonzero(got != want)
    assert not len(bad), [(arr[int(i)].as_py()[:40], int(got[i]), int(want[i])) for i in bad[:5]]


def test_whitespace_check_is_the_old_pattern():
    assert u.whitespace_check(2) == "|".join(
        [u.EXOTIC_SPACES, u._TRAILING + "\n", u._TRAILING + "$", re.escape("\n" * 4), r"^[ \t" + "\u3000" + r"]*\n", r"\n$"])
