"""How the classifier build cuts fetched pages into labeled chunks (benchmarks/classifier_fetched.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import classifier_fetched as cf  # noqa: E402

PAGE = """# Binary search

Binary search halves the interval at every step, so it needs about $\\log_2 n$ comparisons:
the recurrence $T(n) = T(n/2) + 1$ with $T(1) = 1$ gives $T(n) = \\lfloor \\log_2 n \\rfloor + 1$.

## Implementation

```python
# the loop keeps lo <= answer < hi
def search(a, x):
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo
```

## History

The idea is old. It was described in the nineteen forties and is taught in every course on
algorithms, usually in the first weeks, together with sorting.
"""


def test_pages_are_cut_at_headings_outside_code_and_labeled_by_share():
    chunks = cf.page_chunks(PAGE)
    assert [c.split("\n", 1)[0] for c in chunks] == ["# Binary search", "## Implementation", "## History"]
    assert "# the loop keeps" in chunks[1]  # a comment in a listing is not a heading
    assert [cf.share_label(c) for c in chunks] == ["math", "code", "general"]


def test_rst_literal_blocks_count_as_code_and_stay_with_their_intro():
    rst = ("Usage\n=====\n\nCall it like this::\n\n    import mod\n    mod.run(1)\n\n"
           "    mod.stop()\n\nThat is all.\n")
    chunks = cf.page_chunks(rst)
    assert len(chunks) == 1 and "mod.stop()" in chunks[0]
    assert cf.code_chars(chunks[0]) >= len("    import mod\n    mod.run(1)\n\n    mod.stop()\n")


def test_in_between_chunks_are_left_out():
    mixed = "Some prose with `inline` code and one formula $x$ but mostly words, words and more words here."
    assert cf.share_label(mixed) is None
    indented = "A list:\n\n    foo(bar) = 3\n\nand prose around it, long enough to be a paragraph of its own."
    assert cf.share_label(indented) is None


def test_dev_rows_and_their_files_are_excluded(tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "x.jsonl").write_text('{"text": "Hello   world", "source": "o/r@abc:docs/a.md#sec1.0"}\n')
    ex = cf.Exclusions.from_dev(web, tmp_path / "none")
    assert "o/r:docs/a.md" in ex.files and ex.has_text("Hello world\n")
