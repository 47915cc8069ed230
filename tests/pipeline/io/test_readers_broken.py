"""Every kind of bad input lands in errors with file and offset; the reader goes on.

The files in tests/data/broken are real data damaged in known ways by make_broken.py,
which also wrote _expected.json: the offsets that must be rows and those that must be
errors. For each file, rows + errors must equal its input records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.config import InputConfig
from pipeline.io.readers import read_file
from pipeline.schema import stable_id

BROKEN = Path(__file__).resolve().parents[3] / "tests" / "data" / "broken"
EXPECTED = json.loads((BROKEN / "_expected.json").read_text(encoding="utf-8"))

ERROR_WORDS = {  # damage -> what the error message must say
    "invalid_json": "invalid JSON", "not_object": "not a JSON object", "missing_text": "missing text field",
    "text_not_string": "not a string", "invalid_utf8": "invalid UTF-8", "truncated": "truncated",
    "unreadable": "unreadable Parquet file", "row_group": "unreadable Parquet row group 1",
    "corrupt_member": "corrupt gzip member", "truncated_member": "gzip member",
    "bad_magic": "no WARC/1.x version line", "length_too_large": "Content-Length",
    "length_too_small": "Content-Length", "missing_length": "Content-Length", "truncated_at_end": "truncated",
}


def read_all(path: Path, batch_size: int = 3):
    chunks = list(read_file(str(path), InputConfig(batch_size=batch_size)))
    records = pa.concat_tables([c.records for c in chunks], promote_options="permissive")
    errors = pa.concat_tables([c.errors for c in chunks])
    return chunks, records, errors


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if isinstance(e["errors"], dict)))
def test_rows_and_errors_are_exactly_the_expected_records(name):
    expected = EXPECTED[name]
    chunks, records, errors = read_all(BROKEN / name)
    assert records["source_offset"].to_pylist() == expected["rows"]
    got = dict(zip(errors["offset"].to_pylist(), errors["error"].to_pylist()))
    assert sorted(got) == sorted(int(k) for k in expected["errors"])
    for offset, damage in expected["errors"].items():
        assert ERROR_WORDS[damage] in got[int(offset)], (damage, got[int(offset)])
    assert set(errors["source"].to_pylist()) <= {str(BROKEN / name)}
    assert records.num_rows + errors.num_rows == len(expected["rows"]) + len(expected["errors"])
    assert all(c.records.num_rows <= 3 for c in chunks)


def test_corrupt_gzip_jsonl_gives_one_error_and_no_crash():
    _, records, errors = read_all(BROKEN / "corrupt.jsonl.gz")
    assert errors.num_rows == 1 and "corrupt gzip data" in errors["error"][0].as_py()
    assert errors["offset"][0].as_py() == records.num_rows + 1


def test_bad_lines_keep_input_ids_and_skip_blank_lines():
    _, records, errors = read_all(BROKEN / "bad_lines.jsonl")
    path = str(BROKEN / "bad_lines.jsonl")
    expected_ids = [str(v) if v is not None else stable_id(path, int(line))
                    for line, v in EXPECTED["bad_lines.jsonl"]["ids"].items()]
    assert records["id"].to_pylist() == expected_ids
    assert "4242" in expected_ids
    # blank lines 4 and 7 are neither rows nor errors
    assert 4 not in errors["offset"].to_pylist() + records["source_offset"].to_pylist()


def test_warc_errors_point_at_the_damaged_records_and_intact_ones_are_read():
    _, records, _ = read_all(BROKEN / "broken.warc.gz")
    reasons = dict(zip(records["source_offset"].to_pylist(), records["drop_reason"].to_pylist()))
    statuses = dict(zip(records["source_offset"].to_pylist(), records["http_status"].to_pylist()))
    for offset, status in statuses.items():
        if 300 <= status < 400:
            assert reasons[offset] == "read:http_redirect"
    assert "read:not_html" in reasons.values()
    text_rows = [t for t, r in zip(records["text"].to_pylist(), records["drop_reason"].to_pylist()) if r is None]
    assert text_rows and all("User-agent" in t or len(t) > 0 for t in text_rows)


def test_plain_and_gzip_warc_agree_on_intact_records():
    _, gz, _ = read_all(BROKEN / "broken.warc.gz")
    _, plain, _ = read_all(BROKEN / "broken.warc")
    gz_urls = gz["url"].to_pylist()
    plain_by_url = dict(zip(plain["url"].to_pylist(), plain["text"].to_pylist()))
    for url, text in zip(gz_urls, gz["text"].to_pylist()):
        assert plain_by_url[url] == text


def test_regenerating_the_broken_set_is_deterministic(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_broken", BROKEN / "make_broken.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for name in list(EXPECTED) + ["_expected.json"]:
        if name.endswith(".parquet"):  # bytes carry the pyarrow version; the expectations must not change
            continue
        assert (tmp_path / name).read_bytes() == (BROKEN / name).read_bytes(), name


def test_run_over_the_whole_broken_directory_accounts_for_every_record(tmp_path):
    """End to end through the local runner (no stages): errors/ holds exactly the bad records."""
    import pyarrow.parquet as pq

    from pipeline.config import load_config
    from pipeline.run.local import run_local

    cfg = load_config(data={"input": {"paths": [str(BROKEN)], "batch_size": 4},
                            "output": {"dir": str(tmp_path / "out")}, "stages": []})
    run_local(cfg, progress=None, overwrite=True)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    rows = sum(len(e["rows"]) for e in EXPECTED.values() if isinstance(e["rows"], list))
    bad = {(str(BROKEN / name), int(offset)) for name, e in EXPECTED.items() if isinstance(e["errors"], dict)
           for offset in e["errors"]}
    written = pa.concat_tables([pq.read_table(p) for p in sorted((tmp_path / "out" / "errors").glob("*.parquet"))])
    got = set(zip(written["source"].to_pylist(), written["offset"].to_pylist()))
    assert bad <= got and len(got - bad) == 1  # + the corrupt gzip JSONL, whose break offset is not listed
    assert stats["errored"] == written.num_rows == len(bad) + 1
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"] == rows + len(bad) + 1
